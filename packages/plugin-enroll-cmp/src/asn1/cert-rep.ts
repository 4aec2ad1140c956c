import type * as asn1js from 'asn1js';
import { encoded, MalformedAsn1, readInteger, sequenceOf, tagged } from './der.js';
import { type PkiStatusInfo, readPkiStatusInfo } from './pki-status.js';

/**
 * CertRepMessage (the ip, cp and kup bodies; RFC 4210 §5.3.4, EXPLICIT TAGS):
 *
 *   CertRepMessage ::= SEQUENCE { caPubs [1] SEQUENCE SIZE (1..MAX) OF CMPCertificate OPTIONAL,
 *                                 response SEQUENCE OF CertResponse }
 *   CertResponse ::= SEQUENCE { certReqId INTEGER, status PKIStatusInfo,
 *                               certifiedKeyPair CertifiedKeyPair OPTIONAL, rspInfo OCTET STRING OPTIONAL }
 *   CertifiedKeyPair ::= SEQUENCE { certOrEncCert CertOrEncCert, … }
 *   CertOrEncCert ::= CHOICE { certificate [0] CMPCertificate, encryptedCert [1] EncryptedKey }
 */
export interface CertRep {
  readonly caPubs: readonly Uint8Array[];
  readonly certReqId: number;
  readonly status: PkiStatusInfo;
  /** DER of the certificate, when one came (never an encrypted one: credroam sends signature POP). */
  readonly certificate?: Uint8Array;
}

export function readCertRep(node: asn1js.BaseBlock): CertRep {
  const parts = sequenceOf(node, 'CertRepMessage');
  const caPubsNode = tagged(parts[0], 1, 'CertRepMessage.caPubs');
  const caPubs = caPubsNode ? sequenceOf(caPubsNode, 'caPubs').map(encoded) : [];
  const responses = sequenceOf(parts[caPubsNode ? 1 : 0], 'CertRepMessage.response');
  if (responses.length !== 1)
    throw new MalformedAsn1(`CertRepMessage: ${responses.length} responses to one request`);
  const [certReqId, status, keyPair] = sequenceOf(responses[0], 'CertResponse');
  let certificate: Uint8Array | undefined;
  if (keyPair && keyPair.idBlock.tagClass === 1) {
    const [certOrEnc] = sequenceOf(keyPair, 'CertifiedKeyPair');
    const cert = tagged(certOrEnc, 0, 'CertOrEncCert');
    if (!cert)
      throw new MalformedAsn1(
        'CertifiedKeyPair: not a plain certificate (an encrypted one was not asked for)',
      );
    sequenceOf(cert, 'CertOrEncCert.certificate');
    certificate = encoded(cert);
  }
  return {
    caPubs,
    certReqId: readInteger(certReqId, 'CertResponse.certReqId'),
    status: readPkiStatusInfo(status, 'CertResponse.status'),
    certificate,
  };
}
