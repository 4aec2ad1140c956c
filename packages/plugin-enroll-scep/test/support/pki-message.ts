import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

const OID = {
  messageType: '2.16.840.1.113733.1.9.2',
  transactionID: '2.16.840.1.113733.1.9.7',
  senderNonce: '2.16.840.1.113733.1.9.5',
} as const;

/** What a test server reads of a pkiMessage without decrypting it: its signed attributes and signer certificate. */
export interface SignedMessage {
  readonly messageType: string;
  readonly transactionId: string;
  readonly senderNonce: Uint8Array;
  /** The signer's certificate (DER), the one the reply is encrypted to. */
  readonly signer: Uint8Array;
  /** The signed attributes' encodings (DER), in the order they were sent. */
  readonly attributeEncodings: readonly Uint8Array[];
  /** The digest algorithm's OID. */
  readonly digest: string;
  /** The serial number (hex) of the certificate the request is encrypted to. */
  readonly recipientSerial: string;
}

export function signedMessage(der: Uint8Array): SignedMessage {
  const info = pkijs.ContentInfo.fromBER(der);
  const signed = new pkijs.SignedData({ schema: info.content });
  const signer = signed.signerInfos[0]!;
  const attrs = signer.signedAttrs!.attributes;
  const value = (oid: string) => attrs.find((a) => a.type === oid)!.values[0];
  return {
    messageType: (value(OID.messageType) as asn1js.PrintableString).valueBlock.value,
    transactionId: (value(OID.transactionID) as asn1js.PrintableString).valueBlock.value,
    senderNonce: new Uint8Array((value(OID.senderNonce) as asn1js.OctetString).valueBlock.valueHexView),
    signer: new Uint8Array((signed.certificates![0] as pkijs.Certificate).toSchema().toBER()),
    attributeEncodings: (
      asn1js.fromBER(signer.signedAttrs!.encodedValue).result as asn1js.Set
    ).valueBlock.value.map((a) => new Uint8Array(a.valueBeforeDecodeView)),
    digest: signer.digestAlgorithm.algorithmId,
    recipientSerial: recipientSerialOf(signed),
  };
}

function recipientSerialOf(signed: pkijs.SignedData): string {
  const content = signed.encapContentInfo.eContent!.valueBlock.valueHexView;
  const enveloped = new pkijs.EnvelopedData({ schema: pkijs.ContentInfo.fromBER(content).content });
  const rid = (enveloped.recipientInfos[0]!.value as pkijs.KeyTransRecipientInfo)
    .rid as pkijs.IssuerAndSerialNumber;
  return Buffer.from(rid.serialNumber.valueBlock.valueHexView).toString('hex');
}
