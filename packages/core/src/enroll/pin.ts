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

/**
 * What core refuses of a certificate the pinned CA signed for the key it made (`E_ENROLL_PROTOCOL`,
 * nothing stored): one not valid now (expired, or starting beyond the clock skew: stored, it would
 * count as the profile's and, on a renewal, archive the certificate that works), and one that is a
 * CA (`basicConstraints` CA:TRUE: an enrollment makes end-entity certificates; a CA certificate
 * with the user's key is a misissuance, and stores and mirrors treat CA certificates apart).
 */
export function checkIssuedUsable(issued: X509Certificate, now: number, skewMs: number): void {
  const notBefore = Date.parse(issued.validFrom);
  const notAfter = Date.parse(issued.validTo);
  if (!Number.isFinite(notBefore) || !Number.isFinite(notAfter))
    throw new CredroamError('E_ENROLL_PROTOCOL', 'the issued certificate has no readable validity');
  if (notAfter <= now)
    throw new CredroamError(
      'E_ENROLL_PROTOCOL',
      `the issued certificate expired at ${new Date(notAfter).toISOString()}: nothing is stored`,
    );
  if (notBefore > now + skewMs)
    throw new CredroamError(
      'E_ENROLL_PROTOCOL',
      `the issued certificate is not valid before ${new Date(notBefore).toISOString()}: nothing is stored`,
    );
  if (issued.ca)
    throw new CredroamError(
      'E_ENROLL_PROTOCOL',
      'the issued certificate is a CA certificate (basicConstraints CA:TRUE): nothing is stored',
    );
}

/**
 * The chain stored with an issued certificate: the pinned CA certificate that signed it, then each
 * certificate among `offered` that signed the one before (at most `max` in all). Anything else the
 * CA (or the network) put beside them is dropped: it would roam, and reach exports and mirrors, as
 * if it were part of the chain.
 */
export function verifiedChain(
  caCertificate: Uint8Array,
  offered: readonly Uint8Array[],
  max: number,
): Uint8Array[] {
  const chain = [caCertificate];
  const parsed = offered.flatMap((der) => {
    try {
      return [{ der, cert: new X509Certificate(der) }];
    } catch {
      return [];
    }
  });
  let current = new X509Certificate(caCertificate);
  while (chain.length < max) {
    if (current.checkIssued(current) && current.verify(current.publicKey)) break; // a root
    const child = current;
    const parent = parsed.find(
      (p) =>
        !chain.some((c) => Buffer.compare(Buffer.from(c), Buffer.from(p.der)) === 0) &&
        child.checkIssued(p.cert) &&
        child.verify(p.cert.publicKey),
    );
    if (!parent) break;
    chain.push(parent.der);
    current = parent.cert;
  }
  return chain;
}
