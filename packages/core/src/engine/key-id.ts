import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';

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
 * derived; each key once per process. Throws for bytes that are not a PKCS#8 private key.
 */
export function privateKeyId(pkcs8: Uint8Array): string {
  const bytes = sha256(pkcs8);
  const cached = known.get(bytes);
  if (cached !== undefined) return cached;
  const key = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
  const id = sha256(createPublicKey(key).export({ type: 'spki', format: 'der' }));
  if (known.size >= KNOWN_MAX) known.clear();
  known.set(bytes, id);
  return id;
}
