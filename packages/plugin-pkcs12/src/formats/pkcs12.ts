import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { CredroamError, type ErrorCode } from '@credroam/core/api';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

/** A certificate and, where present, its private key, in DER. */
export interface Credential {
  readonly cert: Uint8Array;
  readonly key?: Uint8Array;
}

export interface ReadResult {
  readonly credentials: readonly Credential[];
  /** Certificates in the file that belong to no key (a CA chain): not imported, reported. */
  readonly ignoredCertificates: number;
}

const OID = {
  data: '1.2.840.113549.1.7.1',
  encryptedData: '1.2.840.113549.1.7.6',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  shroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  localKeyId: '1.2.840.113549.1.9.21',
  friendlyName: '1.2.840.113549.1.9.20',
} as const;
const LEGACY_PBE_PREFIX = '1.2.840.113549.1.12.1.';

/** Iterations this implementation writes: PBKDF2-SHA256 for the key and certificate, and the MAC. */
export const EXPORT_ITERATIONS = 100_000;
/** Default bound on iterations in a file being imported (pkijs derives the MAC key in JavaScript). */
export const DEFAULT_MAX_ITERATIONS = 1_000_000;

const fail = (code: ErrorCode, message: string): never => {
  throw new CredroamError(code, message);
};

const toBuffer = (v: ArrayBuffer | Uint8Array) =>
  new Uint8Array(v instanceof Uint8Array ? v : new Uint8Array(v));
const password = (p: string) => new TextEncoder().encode(p.normalize('NFC')).buffer as ArrayBuffer;
const spkiOf = (pkcs8: Uint8Array) =>
  createPublicKey(createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' })).export({
    type: 'spki',
    format: 'der',
  });
const certSpki = (der: Uint8Array) =>
  new X509Certificate(Buffer.from(der)).publicKey.export({ type: 'spki', format: 'der' });

/** Refuses legacy (RC2, 3DES, RC4) encryption and iteration counts above the bound, before deriving anything. */
function checkAlgorithm(alg: pkijs.AlgorithmIdentifier, where: string, maxIterations: number): void {
  if (alg.algorithmId.startsWith(LEGACY_PBE_PREFIX)) {
    fail(
      'E_PKCS12_LEGACY',
      `the ${where} uses legacy PKCS#12 encryption (RC2/3DES/RC4, OID ${alg.algorithmId}), which credroam does not import. ` +
        'Convert it with OpenSSL 3: openssl pkcs12 -legacy -in OLD.p12 -nodes | openssl pkcs12 -export -out NEW.p12',
    );
  }
  if (alg.algorithmId !== OID.pbes2)
    fail('E_PKCS12_UNSUPPORTED', `the ${where} uses an unsupported encryption (${alg.algorithmId})`);
  const pbes2 = new pkijs.PBES2Params({ schema: alg.algorithmParams });
  if (pbes2.keyDerivationFunc.algorithmId !== OID.pbkdf2) {
    fail(
      'E_PKCS12_UNSUPPORTED',
      `the ${where} uses an unsupported key derivation (${pbes2.keyDerivationFunc.algorithmId})`,
    );
  }
  const kdf = new pkijs.PBKDF2Params({ schema: pbes2.keyDerivationFunc.algorithmParams });
  if (kdf.iterationCount > maxIterations) {
    fail(
      'E_PKCS12_ITERATIONS',
      `the ${where} asks for ${kdf.iterationCount} iterations; the limit is ${maxIterations}`,
    );
  }
}

/**
 * Reads a PKCS#12 file (OpenSSL 3 defaults: PBES2 with PBKDF2 and AES, HMAC-SHA256 MAC). Bounded
 * before any key derivation; a wrong password, a truncated file, a key without its certificate:
 * each a clear error. Pairs every key with the certificate carrying the same public key.
 */
export async function readPkcs12(
  data: Uint8Array,
  pass: string,
  options: { readonly maxIterations?: number } = {},
): Promise<ReadResult> {
  const maxIterations = options.maxIterations ?? DEFAULT_MAX_ITERATIONS;
  let pfx: pkijs.PFX;
  try {
    pfx = pkijs.PFX.fromBER(toBuffer(data).slice().buffer);
  } catch (error) {
    return fail('E_PKCS12_MALFORMED', `not a PKCS#12 file, or truncated: ${(error as Error).message}`);
  }
  if (pfx.macData && (pfx.macData.iterations ?? 1) > maxIterations) {
    fail(
      'E_PKCS12_ITERATIONS',
      `the MAC asks for ${pfx.macData.iterations} iterations; the limit is ${maxIterations}`,
    );
  }
  if (!pfx.macData)
    fail('E_PKCS12_UNSUPPORTED', 'the file has no password MAC (integrity cannot be checked)');
  try {
    await pfx.parseInternalValues({ password: password(pass), checkIntegrity: true });
  } catch (error) {
    const m = (error as Error).message;
    if (/integrity/i.test(m))
      fail('E_PKCS12_PASSWORD', 'wrong password for the PKCS#12 file (its MAC does not verify)');
    fail('E_PKCS12_MALFORMED', `the PKCS#12 file cannot be read: ${m}`);
  }
  const authSafe = pfx.parsedValue?.authenticatedSafe;
  if (!authSafe) return fail('E_PKCS12_MALFORMED', 'the PKCS#12 file has no content');
  const params = authSafe.safeContents.map((ci) => {
    if (ci.contentType === OID.encryptedData) {
      // A copy: pkijs rewrites implicit tags in the schema it parses, and parses this one again later.
      const enc = new pkijs.EncryptedData({ schema: asn1js.fromBER(ci.content.toBER(false)).result });

      checkAlgorithm(
        enc.encryptedContentInfo.contentEncryptionAlgorithm,
        'certificate container',
        maxIterations,
      );
      return { password: password(pass) };
    }
    if (ci.contentType !== OID.data)
      fail('E_PKCS12_UNSUPPORTED', `unsupported PKCS#12 content type ${ci.contentType}`);
    return {};
  });
  try {
    await authSafe.parseInternalValues({ safeContents: params });
  } catch (error) {
    fail('E_PKCS12_MALFORMED', `the PKCS#12 contents cannot be decrypted: ${(error as Error).message}`);
  }
  const certs: Uint8Array[] = [];
  const keys: Uint8Array[] = [];
  for (const sc of authSafe.parsedValue?.safeContents ?? []) {
    for (const bag of sc.value.safeBags) {
      if (bag.bagId === OID.certBag) {
        const cb = bag.bagValue as pkijs.CertBag;
        if (cb.certId !== OID.x509Certificate) continue;
        const der =
          cb.parsedValue instanceof pkijs.Certificate
            ? cb.parsedValue.toSchema().toBER(false)
            : (cb.certValue as asn1js.OctetString).getValue();
        certs.push(toBuffer(der));
      } else if (bag.bagId === OID.shroudedKeyBag) {
        const kb = bag.bagValue as pkijs.PKCS8ShroudedKeyBag;
        checkAlgorithm(kb.encryptionAlgorithm, 'private key', maxIterations);
        try {
          await (
            kb as unknown as { parseInternalValues(p: { password: ArrayBuffer }): Promise<void> }
          ).parseInternalValues({
            password: password(pass),
          });
        } catch (error) {
          fail('E_PKCS12_MALFORMED', `the private key cannot be decrypted: ${(error as Error).message}`);
        }
        keys.push(toBuffer(kb.parsedValue!.toSchema().toBER(false)));
      } else if (bag.bagId === OID.keyBag) {
        keys.push(toBuffer((bag.bagValue as pkijs.PrivateKeyInfo).toSchema().toBER(false)));
      }
    }
  }
  return pairUp(certs, keys);
}

/** Pairs keys with certificates by public key; a key without its certificate is an error. */
export function pairUp(certs: readonly Uint8Array[], keys: readonly Uint8Array[]): ReadResult {
  if (certs.length === 0) fail('E_IMPORT', 'the file holds no certificate');
  if (keys.length === 0) return { credentials: certs.map((cert) => ({ cert })), ignoredCertificates: 0 };
  const used = new Set<number>();
  const credentials = keys.map((key) => {
    let spki: Buffer;
    try {
      spki = spkiOf(key);
    } catch (error) {
      return fail('E_IMPORT', `the private key cannot be parsed: ${(error as Error).message}`);
    }
    const i = certs.findIndex((c) => certSpki(c).equals(spki));
    if (i < 0) fail('E_KEY_MISMATCH', 'the private key does not match any certificate in the file');
    used.add(i);
    return { cert: certs[i]!, key };
  });
  return { credentials, ignoredCertificates: certs.length - used.size };
}

/**
 * Writes a PKCS#12 file that OpenSSL 3 opens without `-legacy`: the key in a PKCS#8 shrouded bag
 * and the certificate in an encrypted container, both PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC),
 * and an HMAC-SHA256 MAC; both bags carry the certificate's SHA-1 as localKeyId.
 */
export async function writePkcs12(
  credential: Credential,
  pass: string,
  friendlyName?: string,
): Promise<Uint8Array> {
  const pw = password(pass);
  const cert = pkijs.Certificate.fromBER(toBuffer(credential.cert).slice().buffer);
  const localKeyId = createHash('sha1').update(credential.cert).digest();
  const attributes = [
    new pkijs.Attribute({ type: OID.localKeyId, values: [new asn1js.OctetString({ valueHex: localKeyId })] }),
    ...(friendlyName
      ? [
          new pkijs.Attribute({
            type: OID.friendlyName,
            values: [new asn1js.BmpString({ value: friendlyName })],
          }),
        ]
      : []),
  ];
  const encryption = {
    password: pw,
    contentEncryptionAlgorithm: {
      name: 'AES-CBC',
      length: 256,
    } as unknown as pkijs.ContentEncryptionAlgorithm,
    hmacHashAlgorithm: 'SHA-256',
    iterationCount: EXPORT_ITERATIONS,
  };
  const safeContents: { privacyMode: number; value: pkijs.SafeContents }[] = [];
  if (credential.key) {
    const keyBag = new pkijs.PKCS8ShroudedKeyBag({
      parsedValue: pkijs.PrivateKeyInfo.fromBER(toBuffer(credential.key).slice().buffer),
    });
    await keyBag.makeInternalValues(encryption);
    safeContents.push({
      privacyMode: 0,
      value: new pkijs.SafeContents({
        safeBags: [
          new pkijs.SafeBag({ bagId: OID.shroudedKeyBag, bagValue: keyBag, bagAttributes: attributes }),
        ],
      }),
    });
  }
  safeContents.push({
    privacyMode: 1,
    value: new pkijs.SafeContents({
      safeBags: [
        new pkijs.SafeBag({
          bagId: OID.certBag,
          bagValue: new pkijs.CertBag({ parsedValue: cert }),
          bagAttributes: attributes,
        }),
      ],
    }),
  });
  const pfx = new pkijs.PFX({
    parsedValue: {
      integrityMode: 0,
      authenticatedSafe: new pkijs.AuthenticatedSafe({ parsedValue: { safeContents } }),
    },
  });
  await pfx.parsedValue!.authenticatedSafe!.makeInternalValues({
    safeContents: safeContents.map((s) => (s.privacyMode === 1 ? encryption : {})),
  });
  await pfx.makeInternalValues({
    password: pw,
    iterations: EXPORT_ITERATIONS,
    pbkdf2HashAlgorithm: { name: 'SHA-256' },
    hmacHashAlgorithm: 'SHA-256',
  });
  return new Uint8Array(pfx.toSchema().toBER(false));
}
