import { X509Certificate } from 'node:crypto';
import { CredroamError } from '@credroam/core/api';
import { describeCertificate } from '@credroam/core/kit';
import * as asn1js from 'asn1js';
import { assemble, type Found, type ReadResult } from './assemble.js';
import { WorkBudget } from './pbe.js';
import { looksLikePem, pemBlocks } from './pem.js';
import { pkcs7Certificates } from './pkcs7.js';
import { DEFAULT_MAX_ITERATIONS, pkcs12Contents } from './pkcs12.js';
import { readPrivateKey } from './private-key.js';

const CERTIFICATE_LABELS = new Set(['CERTIFICATE', 'X509 CERTIFICATE', 'X.509 CERTIFICATE']);
/** Blocks that come with keys and certificates and carry nothing to import. */
const QUIET_LABELS = new Set([
  'EC PARAMETERS',
  'DH PARAMETERS',
  'X9.42 DH PARAMETERS',
  'PUBLIC KEY',
  'RSA PUBLIC KEY',
]);

/** What the files hold, pooled before pairing. */
class Collected {
  readonly certs: Found[] = [];
  readonly keys: Found[] = [];
  readonly notices: string[] = [];
}

/** A certificate's DER: the first element of `der`, which must be an X.509 certificate. */
function certificate(der: Uint8Array, what: string): Uint8Array {
  try {
    return new Uint8Array(new X509Certificate(Buffer.from(der)).raw);
  } catch {
    // One this OpenSSL refuses but another endpoint's may read (OpenSSL grows stricter between
    // versions): taken when its structure is exactly one certificate, as every endpoint takes it.
    try {
      describeCertificate(der);
      return der;
    } catch {
      // Not a certificate at all: the error below.
    }
    throw new CredroamError(
      'E_PEM',
      `the ${what} is not a valid X.509 certificate (damaged or truncated?); nothing was imported`,
    );
  }
}

/** OpenSSL's TRUSTED CERTIFICATE: a certificate followed by its trust settings, which are not kept. */
function trustedCertificate(der: Uint8Array, c: Collected): void {
  const { offset } = asn1js.fromBER(der);
  if (offset <= 0)
    throw new CredroamError('E_PEM', 'the TRUSTED CERTIFICATE block is damaged; nothing was imported');
  c.certs.push({ der: certificate(der.subarray(0, offset), 'TRUSTED CERTIFICATE block') });
  c.notices.push(
    'the trust settings of the TRUSTED CERTIFICATE block were not imported (only its certificate)',
  );
}

async function pem(
  text: string,
  password: string | undefined,
  c: Collected,
  budget: WorkBudget,
): Promise<void> {
  const blocks = pemBlocks(text);
  if (blocks.length === 0)
    throw new CredroamError('E_PEM', 'the text holds no complete PEM block; nothing was imported');
  for (const block of blocks) {
    if (CERTIFICATE_LABELS.has(block.label))
      c.certs.push({ der: certificate(block.der, `${block.label} block`) });
    else if (block.label === 'TRUSTED CERTIFICATE') trustedCertificate(block.der, c);
    else if (block.label === 'PKCS7' || block.label === 'CMS') {
      const certs = pkcs7Certificates(block.der);
      if (!certs)
        throw new CredroamError('E_PEM', `the ${block.label} block is not a certificate bundle (SignedData)`);
      c.certs.push(...certs.map((der) => ({ der })));
    } else if (/PRIVATE KEY$/.test(block.label)) {
      c.keys.push({
        der: await readPrivateKey({ pem: block.text, label: block.label, der: block.der }, password, budget),
      });
    } else if (!QUIET_LABELS.has(block.label)) {
      c.notices.push(`a PEM block labelled ${block.label} was not imported`);
    }
  }
}

/** The shape of a DER file, from its first elements. */
function derKind(der: Uint8Array): 'pkcs12' | 'pkcs7' | 'certificate' | 'encrypted-key' | 'key' | undefined {
  const { result, offset } = asn1js.fromBER(der);
  if (offset === -1) return looksLikePkcs12(der) ? 'pkcs12' : undefined;
  if (!(result instanceof asn1js.Sequence)) return undefined;
  // A file that is not one DER element (text with a PEM block in it) is not DER.
  if (offset !== der.byteLength) return looksLikePkcs12(der) ? 'pkcs12' : undefined;
  const [a, b, cc] = result.valueBlock.value;
  if (a instanceof asn1js.ObjectIdentifier && pkcs7Certificates(der)) return 'pkcs7';
  if (a instanceof asn1js.Integer && a.valueBlock.valueDec === 3 && b instanceof asn1js.Sequence)
    return 'pkcs12';
  if (a instanceof asn1js.Sequence && b instanceof asn1js.Sequence && cc instanceof asn1js.BitString)
    return 'certificate';
  if (a instanceof asn1js.Sequence && b instanceof asn1js.OctetString) return 'encrypted-key';
  if (a instanceof asn1js.Integer) return 'key';
  return undefined;
}

/** A SEQUENCE whose first element is INTEGER 3 (a PFX), even when the file is cut short. */
function looksLikePkcs12(der: Uint8Array): boolean {
  if (der[0] !== 0x30 || der.length < 5) return false;
  const header = der[1]! < 0x80 || der[1] === 0x80 ? 2 : 2 + (der[1]! & 0x7f);
  return der[header] === 0x02 && der[header + 1] === 0x01 && der[header + 2] === 0x03;
}

/**
 * Reads credentials from files of any form a user brings, told apart by their content, not their
 * names: PKCS#12 (`.p12`, `.pfx`), certificates in DER or PEM (`CERTIFICATE`, `X509 CERTIFICATE`,
 * `TRUSTED CERTIFICATE`), PKCS#7 bundles (`.p7b`, DER or PEM), and private keys (PKCS#8, encrypted
 * or not, PKCS#1, SEC1; PEM or DER). What all the files hold is paired and chained together.
 */
export async function readCredentialFiles(
  files: readonly Uint8Array[],
  password: string | undefined,
  options: { readonly maxIterations?: number } = {},
): Promise<ReadResult> {
  const c = new Collected();
  const budget = new WorkBudget(options.maxIterations ?? DEFAULT_MAX_ITERATIONS);
  for (const data of files) {
    // DER first: a PKCS#12 file may hold PEM text in a bag, which must not be read around its MAC.
    const kind = derKind(data);
    if (kind === undefined && looksLikePem(data)) {
      await pem(Buffer.from(data).toString('utf8'), password, c, budget);
      continue;
    }
    switch (kind) {
      case 'pkcs12': {
        const found = await pkcs12Contents(data, password, options);
        c.certs.push(...found.certs);
        c.keys.push(...found.keys);
        c.notices.push(...found.notices);
        break;
      }
      case 'pkcs7':
        c.certs.push(...(pkcs7Certificates(data) ?? []).map((der) => ({ der })));
        break;
      case 'certificate':
        c.certs.push({ der: certificate(data, 'certificate file') });
        break;
      case 'encrypted-key':
      case 'key':
        c.keys.push({
          der: await readPrivateKey({ der: data, encrypted: kind === 'encrypted-key' }, password, budget),
        });
        break;
      default:
        throw new CredroamError(
          'E_IMPORT',
          'the file is not one credroam reads, or it is damaged: give a PKCS#12 (.p12, .pfx), a certificate (PEM or DER), a PKCS#7 bundle (.p7b), or a private key (PEM, or DER PKCS#8)',
        );
    }
  }
  return assemble(c.certs, c.keys, [...new Set(c.notices)]);
}
