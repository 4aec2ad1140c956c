import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { CredroamError } from '../api/errors.js';

const fingerprintOf = (der: Uint8Array): string => createHash('sha256').update(der).digest('hex');

/**
 * The CA certificate with the pinned SHA-256 fingerprint among `certificates` (DER), or
 * `E_ENROLL_CA_MISMATCH` naming the fingerprints seen. An enroller calls it on what the CA sent
 * before it sends the challenge or the request; core calls it again on what `request` returned.
 */
export function pinnedCertificate(certificates: readonly Uint8Array[], fingerprint: string): Uint8Array {
  const want = fingerprint.toLowerCase();
  const found = certificates.find((der) => fingerprintOf(der) === want);
  if (found) return found;
  const seen = certificates.map((der) => fingerprintOf(der).slice(0, 16)).join(', ') || 'none';
  throw new CredroamError(
    'E_ENROLL_CA_MISMATCH',
    `the CA sent no certificate with the pinned fingerprint ${want.slice(0, 16)}… (it sent: ${seen})`,
  );
}

/**
 * Checks an issued certificate before anything is stored: it parses, it is signed by the pinned CA
 * certificate, and it carries the public key credroam made (SubjectPublicKeyInfo, DER). Any failure
 * is `E_ENROLL_CA_MISMATCH`: a CA that hands back someone else's certificate is not the CA pinned.
 */
export function checkIssuedCertificate(
  certificate: Uint8Array,
  caCertificate: Uint8Array,
  publicKey: Uint8Array,
): X509Certificate {
  let issued: X509Certificate;
  let ca: X509Certificate;
  try {
    issued = new X509Certificate(certificate);
    ca = new X509Certificate(caCertificate);
  } catch (error) {
    throw new CredroamError(
      'E_ENROLL_CA_MISMATCH',
      `the issued certificate cannot be read: ${(error as Error).message}`,
    );
  }
  if (!issued.checkIssued(ca) || !issued.verify(ca.publicKey))
    throw new CredroamError(
      'E_ENROLL_CA_MISMATCH',
      'the issued certificate is not signed by the pinned CA certificate',
    );
  const want = createPublicKey({ key: Buffer.from(publicKey), format: 'der', type: 'spki' });
  if (!issued.publicKey.equals(want))
    throw new CredroamError(
      'E_ENROLL_CA_MISMATCH',
      'the issued certificate is for another key than the one credroam made',
    );
  return issued;
}
