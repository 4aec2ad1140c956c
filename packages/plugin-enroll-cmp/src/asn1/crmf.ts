import * as asn1js from 'asn1js';
import { decode, der, explicit, integer, octets, oid, seq } from './der.js';
import { OID } from './oids.js';

/**
 * CertReqMessages (RFC 4211, IMPLICIT TAGS), one request, proof of possession by signature:
 *
 *   CertReqMsg ::= SEQUENCE { certReq CertRequest, popo ProofOfPossession OPTIONAL, … }
 *   CertRequest ::= SEQUENCE { certReqId INTEGER, certTemplate CertTemplate, controls Controls OPTIONAL }
 *   CertTemplate ::= SEQUENCE { …, subject [5] Name, publicKey [6] SubjectPublicKeyInfo,
 *                               extensions [9] Extensions, … }
 *   ProofOfPossession ::= CHOICE { …, signature [1] POPOSigningKey, … }
 *   POPOSigningKey ::= SEQUENCE { poposkInput [0] OPTIONAL, algorithmIdentifier, signature BIT STRING }
 *
 * With subject and publicKey in the template, the POP signs the DER of certReq (§4.1).
 */
export interface CertRequestInput {
  readonly certReqId: number;
  /** DER of the subject Name (an empty RDNSequence is omitted from the template). */
  readonly subject: asn1js.Sequence;
  /** DER SubjectPublicKeyInfo of the key to certify. */
  readonly publicKey: Uint8Array;
  /** subjectAltName's GeneralNames, when there are any. */
  readonly subjectAltNames?: asn1js.Sequence;
  /** For a key update: the certificate being renewed (id-regCtrl-oldCertID). */
  readonly oldCert?: { readonly issuer: asn1js.BaseBlock; readonly serialNumber: asn1js.BaseBlock };
}

export function certRequest(input: CertRequestInput): Uint8Array {
  const spki = decode(input.publicKey, 'the public key') as asn1js.Sequence;
  const hasSubject = input.subject.valueBlock.value.length > 0;
  const template: asn1js.BaseBlock[] = [];
  if (hasSubject) template.push(explicit(5, input.subject));
  template.push(
    new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 6 }, value: spki.valueBlock.value }),
  );
  if (input.subjectAltNames && input.subjectAltNames.valueBlock.value.length > 0) {
    const extension = seq(
      oid(OID.subjectAltName),
      // RFC 5280: critical when the subject is empty.
      ...(hasSubject ? [] : [new asn1js.Boolean({ value: true })]),
      octets(der(input.subjectAltNames)),
    );
    template.push(new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 9 }, value: [extension] }));
  }
  const controls = input.oldCert
    ? [
        seq(
          seq(oid(OID.regCtrlOldCertId), seq(explicit(4, input.oldCert.issuer), input.oldCert.serialNumber)),
        ),
      ]
    : [];
  return der(seq(integer(input.certReqId), seq(...template), ...controls));
}

/** CertReqMessages with the POP over `certReq` (DER from `certRequest`). */
export function certReqMessages(
  certReq: Uint8Array,
  algorithm: asn1js.Sequence,
  signature: Uint8Array,
): asn1js.Sequence {
  const popo = new asn1js.Constructed({
    idBlock: { tagClass: 3, tagNumber: 1 },
    value: [algorithm, new asn1js.BitString({ valueHex: signature })],
  });
  return seq(seq(decode(certReq, 'certReq'), popo));
}
