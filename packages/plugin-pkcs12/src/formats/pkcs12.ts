import { CredroamError } from '@credroam/core/api';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { assemble, type Found, type ReadResult } from './assemble.js';
import { type Decryption, octets, pbeDecrypt, type Secret, secretsFor, sequence, WorkBudget } from './pbe.js';
import { algorithmLabel, OID } from './pkcs12-algorithms.js';
import { macVerifies } from './pkcs12-mac.js';

export type { Credential, ReadResult } from './assemble.js';

/** Default bound on iterations of any one key derivation in a file being imported. */
export const DEFAULT_MAX_ITERATIONS = 1_000_000;
/** Bags in one file, nested bags included: far more than any real file, few enough to bound the work. */
const MAX_BAGS = 1_000;
const MAX_NESTING = 4;
/** The longest friendly name read (BMPString bytes); it is then cut to 256 characters. */
const MAX_NAME_BYTES = 1024;

const fail = (
  code: 'E_PKCS12_MALFORMED' | 'E_PKCS12_UNSUPPORTED' | 'E_PKCS12_PASSWORD',
  message: string,
): never => {
  throw new CredroamError(code, message);
};

/** A [0] IMPLICIT OCTET STRING (CMS encryptedContent): primitive, or constructed of OCTET STRINGs. */
function implicitOctets(block: asn1js.BaseBlock): Buffer {
  if (!block.idBlock.isConstructed) return Buffer.from((block as asn1js.Primitive).valueBlock.valueHexView);
  return Buffer.concat(
    (block as asn1js.Constructed).valueBlock.value.map((part) =>
      part instanceof asn1js.OctetString ? octets(part) : implicitOctets(part),
    ),
  );
}

/** Parses exactly one DER/BER element that fills `data`. */
function fromBer(data: Uint8Array, what: string): asn1js.BaseBlock {
  const parsed = asn1js.fromBER(data);
  if (parsed.offset === -1) fail('E_PKCS12_MALFORMED', `${what} cannot be parsed: ${parsed.result.error}`);
  if (parsed.offset !== data.byteLength) fail('E_PKCS12_MALFORMED', `${what} has bytes after its end`);
  return parsed.result;
}

const oidOf = (v: asn1js.BaseBlock | undefined): string => {
  if (!(v instanceof asn1js.ObjectIdentifier)) throw new Error('expected an OBJECT IDENTIFIER');
  return v.valueBlock.toString();
};

/** The value of an [0] EXPLICIT tag. */
const explicit = (v: asn1js.BaseBlock | undefined): asn1js.BaseBlock => {
  if (v?.idBlock.tagClass !== 3 || v.idBlock.tagNumber !== 0 || !v.idBlock.isConstructed) {
    throw new Error('expected an [0] EXPLICIT value');
  }
  const [inner] = (v as asn1js.Constructed).valueBlock.value;
  if (!inner) throw new Error('an empty [0] EXPLICIT value');
  return inner;
};

/** The friendly name and local key id of a bag (RFC 7292 4.2, PKCS#9). */
function friendlyNameOf(attributes: asn1js.BaseBlock | undefined): string | undefined {
  if (!(attributes instanceof asn1js.Set)) return undefined;
  for (const a of attributes.valueBlock.value) {
    const [type, values] = sequence(a, 'a bag attribute');
    if (oidOf(type) !== OID.friendlyName || !(values instanceof asn1js.Set)) continue;
    const [name] = values.valueBlock.value;
    // A name longer than any shown anywhere is not a name: it is dropped, never decoded further.
    if (name instanceof asn1js.BmpString && name.valueBlock.valueHexView.length <= MAX_NAME_BYTES) {
      return name.valueBlock.value;
    }
  }
  return undefined;
}

/**
 * Reads a PKCS#12 file as OpenSSL does: PBES2 (any PBKDF2 HMAC; AES, 3DES, Camellia, ARIA, SM4,
 * DES, RC2), PKCS#12's legacy schemes (3DES, RC2, RC4) and PBES1, a MAC over any common digest
 * (or PBMAC1), or no MAC at all. A password that does not verify the MAC is tried as the empty
 * and the truly empty password (a file "without a password") before it is called wrong. Bounded
 * before any key derivation (per derivation and in total); everything else a clear error.
 * Notices say what the user should know: legacy encryption read, no password, no MAC.
 */
export async function readPkcs12(
  data: Uint8Array,
  password: string | undefined,
  options: { readonly maxIterations?: number } = {},
): Promise<ReadResult> {
  const { certs, keys, notices } = await pkcs12Contents(data, password, options);
  return assemble(certs, keys, notices);
}

/** What a PKCS#12 file holds, before pairing: its certificates, its keys, and the notices. */
export interface Contents {
  readonly certs: readonly Found[];
  readonly keys: readonly Found[];
  readonly notices: readonly string[];
}

/** Reads the certificates and keys of a PKCS#12 file (see `readPkcs12`). */
export async function pkcs12Contents(
  data: Uint8Array,
  password: string | undefined,
  options: { readonly maxIterations?: number } = {},
): Promise<Contents> {
  const budget = new WorkBudget(options.maxIterations ?? DEFAULT_MAX_ITERATIONS);
  const notices: string[] = [];
  let pfx: pkijs.PFX;
  try {
    pfx = new pkijs.PFX({ schema: fromBer(data, 'the file') });
  } catch (error) {
    if (error instanceof CredroamError)
      throw new CredroamError(error.code, `not a PKCS#12 file, or truncated: ${error.message}`);
    return fail('E_PKCS12_MALFORMED', `not a PKCS#12 file, or truncated: ${(error as Error).message}`);
  }
  if (pfx.version !== 3)
    fail('E_PKCS12_UNSUPPORTED', `the file is PKCS#12 version ${pfx.version}; only version 3 exists`);
  if (pfx.authSafe.contentType === OID.signedData) {
    fail(
      'E_PKCS12_UNSUPPORTED',
      'the file is signed with a public key (PKCS#12 public-key integrity mode), which credroam does not read',
    );
  }
  if (pfx.authSafe.contentType !== OID.data) {
    fail(
      'E_PKCS12_UNSUPPORTED',
      `the file's contents are of type ${pfx.authSafe.contentType}, which credroam does not read`,
    );
  }
  let content: Buffer;
  try {
    content = octets(pfx.authSafe.content as asn1js.BaseBlock);
  } catch (error) {
    return fail('E_PKCS12_MALFORMED', `the file's contents cannot be read: ${(error as Error).message}`);
  }

  const candidates = secretsFor(password);
  let secret: Secret | undefined;
  if (pfx.macData) {
    secret = candidates.find((s) => {
      try {
        return macVerifies(pfx.macData!, content, s, budget);
      } catch (error) {
        if (error instanceof CredroamError) throw error;
        return fail('E_PKCS12_MALFORMED', `the file's MAC cannot be read: ${(error as Error).message}`);
      }
    });
    if (!secret && password === undefined) {
      throw new CredroamError(
        'E_PASSWORD_REQUIRED',
        'the PKCS#12 file is protected by a password: give it with --passin',
      );
    }
    if (!secret) {
      fail(
        'E_PKCS12_PASSWORD',
        password
          ? 'wrong password for the PKCS#12 file (its MAC does not verify; the empty password was tried too)'
          : 'wrong password for the PKCS#12 file (its MAC does not verify with the empty password, nor with none)',
      );
    }
    if (password && secret!.form !== 'given')
      notices.push('the file has no password: the password given was not needed');
    else if (!password && secret!.form === 'none')
      notices.push('the file has no password (its MAC is keyed with none at all)');
  } else {
    notices.push('the file has no MAC: its integrity could not be checked');
  }

  const reader = new BagReader(
    secret ? [secret] : candidates,
    budget,
    notices,
    Boolean(secret),
    password !== undefined && password !== '',
  );
  let safes: asn1js.BaseBlock[];
  try {
    safes = sequence(fromBer(content, 'the authenticated safe'), 'the authenticated safe');
  } catch (error) {
    if (error instanceof CredroamError) throw error;
    return fail('E_PKCS12_MALFORMED', `the file's contents cannot be read: ${(error as Error).message}`);
  }
  for (const ci of safes) await reader.contentInfo(ci);
  return { certs: reader.certs, keys: reader.keys, notices: [...new Set(notices)] };
}

/** Walks the safe contents and their bags, decrypting what is encrypted. */
class BagReader {
  readonly certs: Found[] = [];
  readonly keys: Found[] = [];
  #bags = 0;

  constructor(
    private readonly secrets: readonly Secret[],
    private readonly budget: WorkBudget,
    private readonly notices: string[],
    private readonly macVerified: boolean,
    private readonly passwordGiven: boolean,
  ) {}

  async contentInfo(ci: asn1js.BaseBlock): Promise<void> {
    let type: string;
    let value: asn1js.BaseBlock;
    try {
      const [t, v] = sequence(ci, 'a ContentInfo');
      type = oidOf(t);
      value = explicit(v);
    } catch (error) {
      return fail('E_PKCS12_MALFORMED', `the file's contents cannot be read: ${(error as Error).message}`);
    }
    if (++this.#bags > MAX_BAGS) fail('E_PKCS12_UNSUPPORTED', `the file holds more than ${MAX_BAGS} bags`);
    if (type === OID.data) {
      let der: Buffer;
      try {
        der = octets(value);
      } catch (error) {
        return fail('E_PKCS12_MALFORMED', `the file's contents cannot be read: ${(error as Error).message}`);
      }
      return this.safeContents(der, 0);
    }
    if (type !== OID.encryptedData) {
      return fail(
        'E_PKCS12_UNSUPPORTED',
        `the file holds contents of type ${type} (encrypted to a public key?), which credroam does not read`,
      );
    }
    let algorithm: pkijs.AlgorithmIdentifier;
    let encrypted: Buffer;
    try {
      // EncryptedData ::= SEQUENCE { version, EncryptedContentInfo ::= SEQUENCE { contentType, algorithm, [0] IMPLICIT encryptedContent } }
      const [, eci] = sequence(value, 'EncryptedData');
      const [, alg, enc] = sequence(eci, 'EncryptedContentInfo');
      algorithm = new pkijs.AlgorithmIdentifier({ schema: alg });
      if (!enc) throw new Error('the encrypted content is missing');
      encrypted = implicitOctets(enc);
    } catch (error) {
      return fail(
        'E_PKCS12_MALFORMED',
        `the certificate container cannot be read: ${(error as Error).message}`,
      );
    }
    const plain = await this.decrypt(algorithm, encrypted, 'certificate container', (d) =>
      sequence(fromBer(d, 'the certificate container'), 'SafeContents'),
    );
    return this.safeContents(plain, 0);
  }

  /**
   * Decrypts with the password that verified the MAC, or (no MAC) with each form of the password
   * in turn until one gives a value that parses. Tells the user what legacy encryption it read.
   */
  async decrypt(
    algorithm: pkijs.AlgorithmIdentifier,
    data: Buffer,
    where: string,
    check: (plain: Buffer) => unknown,
  ): Promise<Buffer> {
    let last: Decryption | undefined;
    for (const secret of this.secrets) {
      last = await pbeDecrypt(algorithm, data, secret, this.budget, where);
      if (!last.result.ok) continue;
      try {
        check(last.result.data);
      } catch {
        continue;
      }
      if (last.legacy)
        this.notices.push(
          `read legacy encryption: ${last.algorithm} (the ${where}); credroam writes only PBES2 with AES-256`,
        );
      if (!this.macVerified && secret.form !== 'given' && this.passwordGiven)
        this.notices.push('the file has no password: the password given was not needed');
      return last.result.data;
    }
    if (this.macVerified) {
      return fail(
        'E_PKCS12_MALFORMED',
        `the ${where} (${last?.algorithm ?? algorithmLabel(algorithm.algorithmId)}) does not decrypt with the password that verified the file's MAC: the file is damaged`,
      );
    }
    return fail(
      'E_PKCS12_PASSWORD',
      `wrong password for the PKCS#12 file: its ${where} does not decrypt (the file has no MAC to check the password against)`,
    );
  }

  async safeContents(der: Uint8Array, depth: number): Promise<void> {
    let bags: asn1js.BaseBlock[];
    try {
      bags = sequence(fromBer(der, 'a SafeContents'), 'SafeContents');
    } catch (error) {
      if (error instanceof CredroamError) throw error;
      return fail('E_PKCS12_MALFORMED', `the file's contents cannot be read: ${(error as Error).message}`);
    }
    for (const bag of bags) {
      if (++this.#bags > MAX_BAGS) fail('E_PKCS12_UNSUPPORTED', `the file holds more than ${MAX_BAGS} bags`);
      await this.bag(bag, depth);
    }
  }

  async bag(bag: asn1js.BaseBlock, depth: number): Promise<void> {
    let id: string;
    let value: asn1js.BaseBlock;
    let friendlyName: string | undefined;
    try {
      const [bagId, bagValue, attributes] = sequence(bag, 'a SafeBag');
      id = oidOf(bagId);
      value = explicit(bagValue);
      friendlyName = friendlyNameOf(attributes);
    } catch (error) {
      return fail('E_PKCS12_MALFORMED', `a bag in the file cannot be read: ${(error as Error).message}`);
    }
    const named = friendlyName ? { friendlyName } : {};
    try {
      switch (id) {
        case OID.certBag: {
          const [certId, certValue] = sequence(value, 'CertBag');
          if (oidOf(certId) !== OID.x509Certificate) {
            this.notices.push(`a certificate of a type other than X.509 (${oidOf(certId)}) was not imported`);
            return;
          }
          this.certs.push({ der: octets(explicit(certValue)), ...named });
          return;
        }
        case OID.keyBag:
          this.keys.push({ der: new Uint8Array(value.valueBeforeDecodeView), ...named });
          return;
        case OID.shroudedKeyBag: {
          const [alg, encrypted] = sequence(value, 'EncryptedPrivateKeyInfo');
          const algorithm = new pkijs.AlgorithmIdentifier({ schema: alg });
          const plain = await this.decrypt(algorithm, octets(encrypted), 'private key', (d) =>
            pkijs.PrivateKeyInfo.fromBER(new Uint8Array(d)),
          );
          this.keys.push({ der: new Uint8Array(plain), ...named });
          return;
        }
        case OID.safeContentsBag:
          if (depth >= MAX_NESTING)
            fail('E_PKCS12_UNSUPPORTED', `the file nests bags more than ${MAX_NESTING} deep`);
          return await this.safeContents(new Uint8Array(value.valueBeforeDecodeView), depth + 1);
        default:
          this.notices.push(`a bag of type ${id} (a CRL or a secret) was not imported`);
      }
    } catch (error) {
      if (error instanceof CredroamError) throw error;
      fail('E_PKCS12_MALFORMED', `a bag in the file cannot be read: ${(error as Error).message}`);
    }
  }
}
