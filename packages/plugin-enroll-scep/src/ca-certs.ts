import { X509Certificate } from 'node:crypto';
import { pinnedCertificate } from '@credroam/core/kit';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { OID } from './oids.js';
import { protocolError } from './protocol-error.js';

/** The most certificates a GetCACert reply may carry (a CA, its RA certificates, a chain). */
const MAX_CA_CERTIFICATES = 16;

/**
 * The certificates of a GetCACert reply (RFC 8894 §4.2.1), DER: one certificate
 * (`application/x-x509-ca-cert`) or a degenerate certs-only SignedData of several
 * (`application/x-x509-ca-ra-cert`). Judged by what the body is, not by its content type alone;
 * anything else is `E_ENROLL_PROTOCOL`.
 */
export function caCertificatesOf(body: Uint8Array, shown: string): Uint8Array[] {
  const fail = (why: string) =>
    protocolError(`the SCEP server at ${shown} answered GetCACert with ${why}: it is not a SCEP CA`, {
      url: shown,
    });
  const asn1 = asn1js.fromBER(body);
  if (asn1.offset === -1 || asn1.offset !== body.length)
    throw fail('something that is not one DER structure');
  try {
    pkijs.Certificate.fromBER(body);
    return [body.slice()];
  } catch {
    // not one certificate: a certs-only SignedData?
  }
  let certificates: Uint8Array[];
  try {
    const info = new pkijs.ContentInfo({ schema: asn1.result });
    if (info.contentType !== OID.signedData) throw new Error('not SignedData');
    const signed = new pkijs.SignedData({ schema: info.content });
    certificates = (signed.certificates ?? [])
      .filter((c): c is pkijs.Certificate => c instanceof pkijs.Certificate)
      .map((c) => new Uint8Array(c.toSchema().toBER()));
  } catch {
    throw fail('neither a certificate nor a PKCS#7 of certificates');
  }
  if (certificates.length === 0) throw fail('a PKCS#7 holding no certificate');
  if (certificates.length > MAX_CA_CERTIFICATES) throw fail(`more than ${MAX_CA_CERTIFICATES} certificates`);
  return certificates;
}

/** The CA as a request sees it: the pinned certificate, the RA certificates it issued, and who encrypts and signs. */
export interface ScepCa {
  /** Every certificate GetCACert returned (DER), the pinned one among them. */
  readonly certificates: readonly Uint8Array[];
  readonly pinned: X509Certificate;
  /** The certificate requests are encrypted to: an RA's for key encipherment when there is one, else the CA's. */
  readonly encryption: X509Certificate;
  /** The certificates whose signature on a CertRep is accepted: the CA's and the RA certificates it issued. */
  readonly signers: readonly X509Certificate[];
}

/**
 * Picks the pinned CA among `certificates` (`E_ENROLL_CA_MISMATCH` from `pinnedCertificate` when
 * none has the fingerprint), and, per RFC 8894 §3.1, the RA certificates it issued: the one with
 * keyEncipherment (or no key usage) receives requests, any may sign replies. A certificate it did
 * not issue is ignored, whatever the server says it is.
 */
export function scepCa(certificates: readonly Uint8Array[], fingerprint: string, shown: string): ScepCa {
  const pinnedDer = pinnedCertificate(certificates, fingerprint);
  let pinned: X509Certificate;
  try {
    pinned = new X509Certificate(pinnedDer);
  } catch (error) {
    throw protocolError(
      `the pinned CA certificate from ${shown} cannot be read: ${(error as Error).message}`,
      {
        url: shown,
      },
    );
  }
  const ras: X509Certificate[] = [];
  for (const der of certificates) {
    if (der === pinnedDer) continue;
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(der);
    } catch {
      continue;
    }
    if (
      cert.publicKey.asymmetricKeyType === 'rsa' &&
      cert.checkIssued(pinned) &&
      cert.verify(pinned.publicKey)
    )
      ras.push(cert);
  }
  const encryption = ras.find((ra) => canEncipher(ra)) ?? pinned;
  assertRsa(encryption, shown);
  return { certificates, pinned, encryption, signers: [pinned, ...ras] };
}

function canEncipher(cert: X509Certificate): boolean {
  const usage = pkijs.Certificate.fromBER(cert.raw).extensions?.find((e) => e.extnID === OID.keyUsage);
  if (!usage) return true;
  const bits = asn1js.fromBER(usage.extnValue.valueBlock.valueHexView).result as asn1js.BitString;
  const first = bits.valueBlock?.valueHexView?.[0] ?? 0;
  return (first & 0x20) !== 0; // keyEncipherment (bit 2)
}

function assertRsa(cert: X509Certificate, shown: string): void {
  if (cert.publicKey.asymmetricKeyType !== 'rsa')
    throw protocolError(
      `the CA certificate from ${shown} has a ${cert.publicKey.asymmetricKeyType} key and no RSA RA certificate came with it: SCEP encrypts requests to an RSA key`,
      { url: shown },
    );
}
