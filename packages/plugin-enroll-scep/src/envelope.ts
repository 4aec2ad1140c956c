import { constants, createCipheriv, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';
import * as asn1js from 'asn1js';
import type * as pkijs from 'pkijs';
import { OID } from './oids.js';

/** The content encryption a request is sent with: AES-CBC (RFC 8894 §3.5.2 advertises AES as 128). */
export type ContentCipher = 'aes-128-cbc' | 'aes-256-cbc';

const CIPHER_OID: Readonly<Record<ContentCipher, string>> = {
  'aes-128-cbc': OID.aes128CBC,
  'aes-256-cbc': OID.aes256CBC,
};
const KEY_BYTES: Readonly<Record<ContentCipher, number>> = { 'aes-128-cbc': 16, 'aes-256-cbc': 32 };

/** IssuerAndSerialNumber (RFC 5652 §10.2.4) of a certificate. */
export const issuerAndSerial = (cert: pkijs.Certificate): asn1js.Sequence =>
  new asn1js.Sequence({ value: [cert.issuer.toSchema(), cert.serialNumber] });

/**
 * A ContentInfo holding an EnvelopedData (RFC 5652 §6) of `content` for one recipient: a fresh
 * content key, `cipher` with a random IV, and the key encrypted to the recipient's RSA key with
 * rsaEncryption (PKCS#1 v1.5), the key transport SCEP servers take (RFC 8894 §3.2.2). Public-key
 * encryption with PKCS#1 v1.5 padding is allowed by Node; only its decryption is not.
 */
export function envelope(
  content: Uint8Array,
  recipient: pkijs.Certificate,
  cipher: ContentCipher,
): Uint8Array {
  const key = randomBytes(KEY_BYTES[cipher]);
  const iv = randomBytes(16);
  const c = createCipheriv(cipher, key, iv);
  const encrypted = Buffer.concat([c.update(content), c.final()]);
  const recipientKey = createPublicKey({
    key: Buffer.from(recipient.subjectPublicKeyInfo.toSchema().toBER()),
    format: 'der',
    type: 'spki',
  });
  const encryptedKey = publicEncrypt({ key: recipientKey, padding: constants.RSA_PKCS1_PADDING }, key);
  const recipientInfo = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 0 }),
      issuerAndSerial(recipient),
      new asn1js.Sequence({
        value: [new asn1js.ObjectIdentifier({ value: OID.rsaEncryption }), new asn1js.Null()],
      }),
      new asn1js.OctetString({ valueHex: encryptedKey }),
    ],
  });
  const encryptedContentInfo = new asn1js.Sequence({
    value: [
      new asn1js.ObjectIdentifier({ value: OID.data }),
      new asn1js.Sequence({
        value: [
          new asn1js.ObjectIdentifier({ value: CIPHER_OID[cipher] }),
          new asn1js.OctetString({ valueHex: iv }),
        ],
      }),
      // [0] IMPLICIT OCTET STRING, primitive.
      new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 0 }, valueHex: encrypted }),
    ],
  });
  const envelopedData = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 0 }),
      new asn1js.Set({ value: [recipientInfo] }),
      encryptedContentInfo,
    ],
  });
  return contentInfo(OID.envelopedData, envelopedData);
}

/** ContentInfo (RFC 5652 §3): the type and the content under `[0] EXPLICIT`. */
export function contentInfo(type: string, content: asn1js.BaseBlock): Uint8Array {
  return new Uint8Array(
    new asn1js.Sequence({
      value: [
        new asn1js.ObjectIdentifier({ value: type }),
        new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [content] }),
      ],
    }).toBER(),
  );
}
