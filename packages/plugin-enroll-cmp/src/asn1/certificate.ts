import type * as asn1js from 'asn1js';
import { decode, MalformedAsn1, readOid, sequenceOf } from './der.js';
import { OID } from './oids.js';

/**
 * What CMP needs from a certificate (RFC 5280 §4.1) beyond node:crypto's X509Certificate: the
 * issuer Name and serialNumber as encoded (a key update's oldCertID), and the hash of its
 * signature algorithm (certConf's certHash, RFC 4210 §5.3.18; MD5 and SHA-1 become SHA-256, as
 * RFC 9481 and OpenSSL do).
 */
export function issuerAndSerial(certificate: Uint8Array): {
  issuer: asn1js.BaseBlock;
  serialNumber: asn1js.BaseBlock;
} {
  const tbs = sequenceOf(
    sequenceOf(decode(certificate, 'the certificate'), 'Certificate')[0],
    'TBSCertificate',
  );
  // version [0] is present in every v3 certificate; without it the fields move one left.
  const shift = tbs[0]?.idBlock.tagClass === 3 ? 1 : 0;
  const serialNumber = tbs[shift];
  const issuer = tbs[shift + 2];
  if (!serialNumber || !issuer) throw new MalformedAsn1('TBSCertificate: too short');
  return { issuer, serialNumber };
}

const HASH_OF: Readonly<Record<string, string>> = {
  [OID.sha256WithRSA]: 'sha256',
  [OID.sha384WithRSA]: 'sha384',
  [OID.sha512WithRSA]: 'sha512',
  [OID.ecdsaWithSha256]: 'sha256',
  [OID.ecdsaWithSha384]: 'sha384',
  [OID.ecdsaWithSha512]: 'sha512',
};

export function certHashAlgorithm(certificate: Uint8Array): string {
  const [, algorithm] = sequenceOf(decode(certificate, 'the certificate'), 'Certificate');
  const id = readOid(sequenceOf(algorithm, 'signatureAlgorithm')[0], 'signatureAlgorithm');
  return HASH_OF[id] ?? 'sha256';
}
