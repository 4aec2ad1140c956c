import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { publicKeyInfoOfPkcs8 } from './public-key-info.js';

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/**
 * Ids by the SHA-256 of the key bytes they were derived from: a command meets each key in several
 * passes (the store's listing, the engine's inspection, the views), and deriving the public key
 * is most of what each pass costs. Bounded: a long-lived agent starts over past `KNOWN_MAX`.
 */
const known = new Map<string, string>();
const KNOWN_MAX = 50_000;

/**
 * The id of a private key (PKCS#8 DER): SHA-256 of its SubjectPublicKeyInfo as Node exports it,
 * which is also the `keyId` of its certificates (`describeCertificate`). The one place it is
 * derived; each key once per process. The SubjectPublicKeyInfo is taken from the key's own bytes
 * where they hold exactly what OpenSSL would export (`publicKeyInfoOfPkcs8`), else OpenSSL reads
 * the key. Throws for bytes that are neither.
 */
export function privateKeyId(pkcs8: Uint8Array): string {
  const bytes = sha256(pkcs8);
  const cached = known.get(bytes);
  if (cached !== undefined) return cached;
  const id = sha256(publicKeyInfoOfPkcs8(pkcs8) ?? exportedPublicKeyInfo(pkcs8));
  if (known.size >= KNOWN_MAX) known.clear();
  known.set(bytes, id);
  return id;
}

/**
 * The id of a private key that comes from outside (a file being imported): OpenSSL reads the key,
 * and refuses what it refuses, a public point off its curve included (which `privateKeyId`, taking
 * the point as the key holds it, does not check). Throws for bytes OpenSSL does not read.
 */
export function checkedPrivateKeyId(pkcs8: Uint8Array): string {
  return sha256(exportedPublicKeyInfo(pkcs8));
}

/** The SubjectPublicKeyInfo OpenSSL exports for a private key (PKCS#8 DER) it reads. */
export function exportedPublicKeyInfo(pkcs8: Uint8Array): Uint8Array {
  const key = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
  return createPublicKey(key).export({ type: 'spki', format: 'der' });
}
