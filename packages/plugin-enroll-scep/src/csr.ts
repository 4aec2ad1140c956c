import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { OID } from './oids.js';
import { type RsaKey, signSha256 } from './request-key.js';

/** What a certification request carries. */
export interface CsrContent {
  readonly subject: pkijs.RelativeDistinguishedNames;
  /** The subjectAltName extension's value (GeneralNames, DER), when the profile names any. */
  readonly altNames?: Uint8Array;
  /** The challenge password (RFC 2985 §5.4.1), when the profile has one. */
  readonly challenge?: string;
}

export const sha256WithRsa = (): pkijs.AlgorithmIdentifier =>
  new pkijs.AlgorithmIdentifier({ algorithmId: OID.sha256WithRSA, algorithmParams: new asn1js.Null() });

/**
 * A PKCS#10 certification request (RFC 2986) for `key`, signed with it (SHA-256): the subject,
 * the subjectAltName in an extensionRequest attribute, and the challengePassword attribute
 * (a PrintableString when it fits one, else UTF8String: both are DirectoryString choices).
 */
export function certificationRequest(content: CsrContent, key: RsaKey): Uint8Array {
  const csr = new pkijs.CertificationRequest();
  csr.version = 0;
  csr.subject = content.subject;
  csr.subjectPublicKeyInfo = pkijs.PublicKeyInfo.fromBER(key.spki);
  const attributes: pkijs.Attribute[] = [];
  if (content.challenge !== undefined) {
    const value = /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(content.challenge)
      ? new asn1js.PrintableString({ value: content.challenge })
      : new asn1js.Utf8String({ value: content.challenge });
    attributes.push(new pkijs.Attribute({ type: OID.challengePassword, values: [value] }));
  }
  if (content.altNames) {
    const extensions = new pkijs.Extensions({
      extensions: [
        new pkijs.Extension({
          extnID: OID.subjectAltName,
          critical: false,
          extnValue: content.altNames.slice().buffer as ArrayBuffer,
        }),
      ],
    });
    attributes.push(new pkijs.Attribute({ type: OID.extensionRequest, values: [extensions.toSchema()] }));
  }
  csr.attributes = attributes;
  csr.signatureAlgorithm = sha256WithRsa();
  // The CertificationRequestInfo, as `toSchema(true)` encodes it (pkijs keeps encodeTBS protected here).
  const info = (csr.toSchema(true) as asn1js.Sequence).valueBlock.value[0]!;
  csr.tbsView = new Uint8Array(info.toBER());
  csr.signatureValue = new asn1js.BitString({ valueHex: signSha256(csr.tbsView, key.privateKey) });
  return new Uint8Array(csr.toSchema().toBER());
}
