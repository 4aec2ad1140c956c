import {
  createHash,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  randomBytes,
  sign,
  verify,
  X509Certificate,
} from 'node:crypto';
import { CredroamError, type ErrorCode } from '@credroam/core/api';
import { describeCertificate } from '@credroam/core/kit';
import { checkKeyCost } from './key-cost.js';

/**
 * A credential as a file carries it: a certificate (DER, byte for byte as the file had it), its
 * private key (PKCS#8 DER) where present, the certificates that issued it (issuer first, the
 * certificate itself excluded), and the friendly name the file gave it.
 */
export interface Credential {
  readonly cert: Uint8Array;
  readonly key?: Uint8Array;
  readonly chain?: readonly Uint8Array[];
  readonly friendlyName?: string;
}

export interface ReadResult {
  readonly credentials: readonly Credential[];
  /** Certificates in the file that belong to no credential (neither one nor its issuer): not imported. */
  readonly ignoredCertificates: number;
  /** What the reader did that the user should know: legacy encryption read, no password, no MAC. */
  readonly notices: readonly string[];
}

/** One certificate or key found in a file, with the friendly name it carried. */
export interface Found {
  readonly der: Uint8Array;
  readonly friendlyName?: string;
}

/** The longest friendly name kept: names roam and are shown on every endpoint. */
export const MAX_FRIENDLY_NAME = 256;

/**
 * A friendly name as it may roam: without control, format (bidirectional, zero-width), line- or
 * paragraph-separator, private-use or unpaired surrogate characters (which would reorder, hide or
 * break text on another endpoint's screen), in Unicode normal form C, trimmed, at most 256
 * characters; undefined when nothing is left.
 */
export function cleanFriendlyName(name: string): string | undefined {
  const cleaned = name
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '')
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}]/gu, '')
    .normalize('NFC')
    .trim();
  const kept = [...cleaned].slice(0, MAX_FRIENDLY_NAME).join('').trim();
  return kept === '' ? undefined : kept;
}

/** At most this many certificates from all the files of one import: a CA bundle fits, a flood does not. */
export const MAX_CERTIFICATES = 256;

/** How deep a chain is followed: deeper than any real PKI, short enough to bound the work. */
const MAX_CHAIN = 10;

/** Bytes as a plain Uint8Array of their own (never a Buffer view into a larger file). */
const own = (b: Uint8Array): Uint8Array => Uint8Array.from(b);

const fail = (code: ErrorCode, message: string, details?: Record<string, unknown>): never => {
  throw new CredroamError(code, message, details);
};

/** The public key (SPKI DER) of a private key, or undefined when Node cannot read the key. */
function keySpki(pkcs8: Uint8Array): Buffer {
  checkKeyCost(pkcs8);
  try {
    return createPublicKey(
      createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' }),
    ).export({
      type: 'spki',
      format: 'der',
    });
  } catch (error) {
    return fail('E_IMPORT', `the private key cannot be parsed: ${(error as Error).message}`);
  }
}

/**
 * A certificate of the file: its DER, its public key's id (SHA-256 of the SubjectPublicKeyInfo),
 * and OpenSSL's view of it when this OpenSSL reads it. One it refuses but another endpoint's reads
 * (`describeCertificate` takes it from its structure) comes in as a certificate of its own: it can
 * carry a key (the key's own public part is then its public key), never issue or be issued.
 */
interface FileCertificate {
  readonly der: Uint8Array;
  readonly keyId: string;
  readonly x509?: X509Certificate;
}

function parse(der: Uint8Array, index: number): FileCertificate {
  let x509: X509Certificate | undefined;
  try {
    x509 = new X509Certificate(Buffer.from(der));
  } catch {
    x509 = undefined;
  }
  const raw = x509 ? new Uint8Array(x509.raw) : der;
  try {
    return { der: raw, keyId: describeCertificate(raw).keyId, ...(x509 ? { x509 } : {}) };
  } catch {
    return fail('E_IMPORT', `certificate ${index + 1} in the file is not a valid X.509 certificate`);
  }
}

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/**
 * Makes credentials of what a file held: each key is paired with the certificate carrying its
 * public key (a key without one is an error); with no keys, each certificate that issued none of
 * the others is a credential of its own. Each credential gets the chain of certificates in the
 * file that issued it (OpenSSL's issuer check: names, key identifiers); the rest are counted as
 * ignored. Duplicates count once.
 */
export function assemble(
  certsFound: readonly Found[],
  keysFound: readonly Found[],
  notices: readonly string[] = [],
): ReadResult {
  const seen = new Set<string>();
  const certs = certsFound.filter((c) => {
    const h = createHash('sha256').update(c.der).digest('hex');
    if (seen.has(h)) return false;
    seen.add(h);
    return true;
  });
  if (certs.length === 0) fail('E_IMPORT', 'the file holds no certificate');
  if (certs.length > MAX_CERTIFICATES) {
    fail(
      'E_IMPORT',
      `the files hold ${certs.length} certificates; one import takes at most ${MAX_CERTIFICATES}`,
    );
  }
  const parsed = certs.map((c, i) => parse(c.der, i));
  const leaves: Array<{ index: number; key?: Found }> = [];
  if (keysFound.length > 0) {
    for (const key of keysFound) {
      const spki = keySpki(key.der);
      const index = parsed.findIndex((c) => c.keyId === sha256(spki));
      if (index < 0) fail('E_KEY_MISMATCH', 'the private key does not match any certificate in the file');
      // The certificate carries exactly these SPKI bytes: they are its public key.
      if (!keyWorksWith(key.der, createPublicKey({ key: spki, format: 'der', type: 'spki' }))) {
        fail(
          'E_KEY_MISMATCH',
          'the private key carries the certificate’s public key but does not sign for it (its private part belongs to another key)',
        );
      }
      if (!leaves.some((l) => l.index === index)) leaves.push({ index, key });
    }
  } else {
    for (const [index, cert] of parsed.entries()) {
      const issuesAnother = parsed.some((other, j) => j !== index && issuedBy(other, cert));
      if (!issuesAnother) leaves.push({ index });
    }
    // A file of certificates that all issue each other (a cross-signed pair): each is its own.
    if (leaves.length === 0) for (const index of parsed.keys()) leaves.push({ index });
  }
  const used = new Set(leaves.map((l) => l.index));
  const cleaned: string[] = [];
  const credentials = leaves.map(({ index, key }): Credential => {
    const chain: number[] = [];
    let current = parsed[index]!;
    while (chain.length < MAX_CHAIN && !issuedBy(current, current)) {
      const next = parsed.findIndex((c, j) => j !== index && !chain.includes(j) && issuedBy(current, c));
      if (next < 0) break;
      chain.push(next);
      used.add(next);
      current = parsed[next]!;
    }
    const given = key?.friendlyName ?? certs[index]!.friendlyName;
    const friendlyName = given === undefined ? undefined : cleanFriendlyName(given);
    if (given !== undefined && friendlyName !== given) {
      cleaned.push('the friendly name was cleaned of control characters, or shortened to 256 characters');
    }
    return {
      cert: own(parsed[index]!.der),
      ...(key ? { key: own(key.der) } : {}),
      ...(chain.length > 0 ? { chain: chain.map((j) => own(parsed[j]!.der)) } : {}),
      ...(friendlyName ? { friendlyName } : {}),
    };
  });
  return {
    credentials,
    ignoredCertificates: certs.length - used.size,
    notices: [...new Set([...notices, ...cleaned])],
  };
}

/**
 * Whether `cert` was issued by `issuer`: OpenSSL's check (names, key identifiers, key usage), and
 * the signature verifies under the issuer's key (a look-alike CA with a copied name and key
 * identifier is not taken for the real one).
 */
function issuedBy(cert: FileCertificate, issuer: FileCertificate): boolean {
  if (!cert.x509 || !issuer.x509) return false;
  try {
    return cert.x509.checkIssued(issuer.x509) && cert.x509.verify(issuer.x509.publicKey);
  } catch {
    return false;
  }
}

/**
 * Whether the private key really belongs to the certificate: it signs a random challenge that the
 * certificate's public key verifies. OpenSSL takes an EC or RSA key's public part from the encoding
 * without checking it against the private part, so equal public keys alone prove nothing. Keys that
 * cannot sign (X25519, X448, DH) derive their public part from the private one and pass.
 */
function keyWorksWith(pkcs8: Uint8Array, publicKey: KeyObject): boolean {
  const key = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
  const type = key.asymmetricKeyType;
  if (type === undefined || !['rsa', 'rsa-pss', 'dsa', 'ec', 'ed25519', 'ed448'].includes(type)) return true;
  const challenge = randomBytes(32);
  const digest = type === 'ed25519' || type === 'ed448' ? null : 'sha256';
  try {
    return verify(digest, challenge, publicKey, sign(digest, challenge, key));
  } catch {
    return false;
  }
}
