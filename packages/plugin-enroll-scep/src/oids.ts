/** The object identifiers SCEP messages use (RFC 8894 §3.2.1, RFC 5652, RFC 5280, RFC 2985). */
export const OID = {
  // CMS content types.
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  envelopedData: '1.2.840.113549.1.7.3',
  // CMS and PKCS#9 attributes.
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  challengePassword: '1.2.840.113549.1.9.7',
  extensionRequest: '1.2.840.113549.1.9.14',
  // SCEP's signed attributes (id-attributes, 2.16.840.1.113733.1.9).
  messageType: '2.16.840.1.113733.1.9.2',
  pkiStatus: '2.16.840.1.113733.1.9.3',
  failInfo: '2.16.840.1.113733.1.9.4',
  senderNonce: '2.16.840.1.113733.1.9.5',
  recipientNonce: '2.16.840.1.113733.1.9.6',
  transactionID: '2.16.840.1.113733.1.9.7',
  // Algorithms.
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  sha1WithRSA: '1.2.840.113549.1.1.5',
  sha256WithRSA: '1.2.840.113549.1.1.11',
  desCBC: '1.3.14.3.2.7',
  desEde3CBC: '1.2.840.113549.3.7',
  aes128CBC: '2.16.840.1.101.3.4.1.2',
  aes256CBC: '2.16.840.1.101.3.4.1.42',
  // Extensions and names.
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  upn: '1.3.6.1.4.1.311.20.2.3',
} as const;

/** SCEP message types (RFC 8894 §3.2.1.2), as the PrintableString decimal they are sent as. */
export const MESSAGE_TYPE = {
  certRep: '3',
  renewalReq: '17',
  pkcsReq: '19',
  certPoll: '20',
} as const;
