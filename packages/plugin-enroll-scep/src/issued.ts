import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { OID } from './oids.js';
import { protocolError } from './protocol-error.js';

/**
 * The issued certificate in a CertRep's decrypted content, a degenerate certs-only SignedData
 * (RFC 8894 §3.3.2): the one for `spki`, the request key (DER). Core checks it further (signed by
 * the pinned CA) before anything is stored.
 */
export function issuedCertificate(der: Uint8Array, spki: Uint8Array, shown: string): Uint8Array {
  const fail = (why: string) =>
    protocolError(`the SCEP server at ${shown} sent a CertRep whose content credroam refuses: ${why}`, {
      url: shown,
    });
  let certificates: pkijs.Certificate[];
  try {
    const asn1 = asn1js.fromBER(der);
    if (asn1.offset !== der.length) throw new Error();
    const info = new pkijs.ContentInfo({ schema: asn1.result });
    if (info.contentType !== OID.signedData) throw new Error();
    const signed = new pkijs.SignedData({ schema: info.content });
    certificates = (signed.certificates ?? []).filter(
      (c): c is pkijs.Certificate => c instanceof pkijs.Certificate,
    );
  } catch {
    throw fail('it is not a PKCS#7 of certificates');
  }
  const want = Buffer.from(spki);
  const mine = certificates.find((c) => Buffer.from(c.subjectPublicKeyInfo.toSchema().toBER()).equals(want));
  if (!mine) throw fail('none of its certificates is for the request key');
  return new Uint8Array(mine.toSchema().toBER());
}
