import { createHash, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { type ContentCipher, contentInfo, envelope, issuerAndSerial } from './envelope.js';
import { OID } from './oids.js';
import { signSha256 } from './request-key.js';

/** The certificate and key a SCEP message is signed with (the throwaway one, or the one being renewed). */
export interface MessageSigner {
  /** DER. */
  readonly certificate: Uint8Array;
  readonly privateKey: KeyObject;
}

/** A SCEP request (RFC 8894 §3): PKCSReq or RenewalReq (a CSR), or CertPoll (IssuerAndSubject). */
export interface PkiMessageInput {
  readonly messageType: string;
  readonly transactionId: string;
  readonly senderNonce: Uint8Array;
  /** What is enveloped for the CA: the CSR, or IssuerAndSubject (DER). */
  readonly content: Uint8Array;
  /** The CA's (or RA's) encryption certificate. */
  readonly recipient: pkijs.Certificate;
  readonly cipher: ContentCipher;
  readonly signer: MessageSigner;
}

const attribute = (type: string, value: asn1js.BaseBlock): asn1js.Sequence =>
  new asn1js.Sequence({
    value: [new asn1js.ObjectIdentifier({ value: type }), new asn1js.Set({ value: [value] })],
  });

/**
 * The pkiMessage (RFC 8894 §3.2): a SignedData, SHA-256 and RSA, whose content is the EnvelopedData
 * of `content`, carrying the signer's certificate and the signed attributes contentType,
 * messageDigest, messageType, transactionID and senderNonce. The signed attributes are encoded in
 * DER SET OF order (sorted by their encodings): a server that re-encodes them to check the
 * signature (micromdm's) computes a different digest from an unsorted set.
 */
export function pkiMessage(input: PkiMessageInput): Uint8Array {
  const enveloped = envelope(input.content, input.recipient, input.cipher);
  const signer = pkijs.Certificate.fromBER(input.signer.certificate);
  const attributes = [
    attribute(OID.contentType, new asn1js.ObjectIdentifier({ value: OID.data })),
    attribute(
      OID.messageDigest,
      new asn1js.OctetString({ valueHex: createHash('sha256').update(enveloped).digest() }),
    ),
    attribute(OID.messageType, new asn1js.PrintableString({ value: input.messageType })),
    attribute(OID.transactionID, new asn1js.PrintableString({ value: input.transactionId })),
    attribute(OID.senderNonce, new asn1js.OctetString({ valueHex: input.senderNonce })),
  ]
    .map((a) => Buffer.from(a.toBER()))
    .sort(Buffer.compare);
  const attributesDer = Buffer.concat(attributes);
  const toSign = Buffer.concat([Buffer.from([0x31]), derLength(attributesDer.length), attributesDer]);
  const signature = signSha256(toSign, input.signer.privateKey);
  const signedAttrs = Buffer.from(toSign);
  signedAttrs[0] = 0xa0; // [0] IMPLICIT SET OF Attribute
  const sha256 = new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: OID.sha256 })] });
  const signerInfo = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 1 }),
      issuerAndSerial(signer),
      sha256,
      asn1js.fromBER(signedAttrs).result,
      new asn1js.Sequence({
        value: [new asn1js.ObjectIdentifier({ value: OID.rsaEncryption }), new asn1js.Null()],
      }),
      new asn1js.OctetString({ valueHex: signature }),
    ],
  });
  const signedData = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 1 }),
      new asn1js.Set({ value: [sha256] }),
      new asn1js.Sequence({
        value: [
          new asn1js.ObjectIdentifier({ value: OID.data }),
          new asn1js.Constructed({
            idBlock: { tagClass: 3, tagNumber: 0 },
            value: [new asn1js.OctetString({ valueHex: enveloped })],
          }),
        ],
      }),
      new asn1js.Constructed({
        idBlock: { tagClass: 3, tagNumber: 0 },
        value: [asn1js.fromBER(input.signer.certificate).result],
      }),
      new asn1js.Set({ value: [signerInfo] }),
    ],
  });
  return contentInfo(OID.signedData, signedData);
}

/** IssuerAndSubject (RFC 8894 §3.3.3): what a CertPoll asks about. */
export function issuerAndSubject(issuer: Uint8Array, subject: Uint8Array): Uint8Array {
  return new Uint8Array(
    new asn1js.Sequence({ value: [asn1js.fromBER(issuer).result, asn1js.fromBER(subject).result] }).toBER(),
  );
}

/** A DER length. */
function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
