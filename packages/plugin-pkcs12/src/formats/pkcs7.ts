import * as asn1js from 'asn1js';
import { OID } from './pkcs12-algorithms.js';

/**
 * The certificates of a PKCS#7/CMS SignedData (a `.p7b` bundle, RFC 5652 5.1), byte for byte as
 * the file holds them; undefined when `der` is not a SignedData. Signatures are not checked: a
 * certificate bundle carries none worth checking, and what is imported is a certificate.
 */
export function pkcs7Certificates(der: Uint8Array): Uint8Array[] | undefined {
  const { result, offset } = asn1js.fromBER(der);
  if (offset === -1 || !(result instanceof asn1js.Sequence)) return undefined;
  const [type, content] = result.valueBlock.value;
  if (!(type instanceof asn1js.ObjectIdentifier) || type.valueBlock.toString() !== OID.signedData)
    return undefined;
  const signedData = (content as asn1js.Constructed | undefined)?.valueBlock.value?.[0];
  if (!(signedData instanceof asn1js.Sequence)) return [];
  // SignedData ::= SEQUENCE { version, digestAlgorithms, encapContentInfo, certificates [0] IMPLICIT OPTIONAL, ... }
  const certificates = signedData.valueBlock.value.find(
    (v, i) => i >= 3 && v.idBlock.tagClass === 3 && v.idBlock.tagNumber === 0,
  ) as asn1js.Constructed | undefined;
  return (certificates?.valueBlock.value ?? [])
    .filter((c) => c instanceof asn1js.Sequence)
    .map((c) => new Uint8Array(c.valueBeforeDecodeView));
}
