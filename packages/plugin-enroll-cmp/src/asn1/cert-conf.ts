import * as asn1js from 'asn1js';
import { integer, octets, seq } from './der.js';

/**
 * CertConfirmContent (RFC 4210 §5.3.18): the client's word on the certificate it got.
 *
 *   CertConfirmContent ::= SEQUENCE OF CertStatus
 *   CertStatus ::= SEQUENCE { certHash OCTET STRING, certReqId INTEGER, statusInfo PKIStatusInfo OPTIONAL }
 *
 * Accepting omits statusInfo; refusing sends rejection with a statusString.
 */
export function certConfContent(
  certHash: Uint8Array,
  certReqId: number,
  rejection?: string,
): asn1js.Sequence {
  const status = rejection ? [seq(integer(2), seq(new asn1js.Utf8String({ value: rejection })))] : [];
  return seq(seq(octets(certHash), integer(certReqId), ...status));
}
