import { randomBytes } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { sha256WithRsa } from './csr.js';
import { type RsaKey, signSha256 } from './request-key.js';

const DAY_MS = 86_400_000;

/**
 * The throwaway self-signed certificate a first request is signed with (RFC 8894 §2.3): the
 * request's subject and key, a random serial, valid from a day before `now` to a day after (the
 * CA's clock may differ; the certificate only identifies the key to the CA and is never kept).
 */
export function selfSignedCertificate(
  subject: pkijs.RelativeDistinguishedNames,
  key: RsaKey,
  now: Date = new Date(),
): Uint8Array {
  const cert = new pkijs.Certificate();
  cert.version = 2;
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40; // positive, and no leading zero byte
  cert.serialNumber = new asn1js.Integer({ valueHex: serial });
  cert.issuer = subject;
  cert.subject = subject;
  cert.notBefore = new pkijs.Time({ type: 0, value: new Date(now.getTime() - DAY_MS) });
  cert.notAfter = new pkijs.Time({ type: 0, value: new Date(now.getTime() + DAY_MS) });
  cert.subjectPublicKeyInfo = pkijs.PublicKeyInfo.fromBER(key.spki);
  cert.signature = sha256WithRsa();
  cert.signatureAlgorithm = sha256WithRsa();
  cert.tbsView = new Uint8Array(cert.encodeTBS().toBER());
  cert.signatureValue = new asn1js.BitString({ valueHex: signSha256(cert.tbsView, key.privateKey) });
  return new Uint8Array(cert.toSchema().toBER());
}
