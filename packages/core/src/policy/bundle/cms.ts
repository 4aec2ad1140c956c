import { createHash, type KeyObject, verify as verifySignature, X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

/**
 * The CMS pieces a policy bundle is made of (RFC 5652 SignedData, content attached, one signer,
 * signed attributes), shared by `sign.ts` and `verify.ts`. pkijs reads and writes the ASN.1;
 * node:crypto computes and checks the signature, because pkijs 4.0's crypto engine has no Ed25519
 * (RFC 8419) and node:crypto has all three signer kinds (Ed25519, ECDSA, RSA PKCS#1 v1.5).
 */
export const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  rsaEncryption: '1.2.840.113549.1.1.1',
  sha256WithRSA: '1.2.840.113549.1.1.11',
  sha384WithRSA: '1.2.840.113549.1.1.12',
  sha512WithRSA: '1.2.840.113549.1.1.13',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  ecdsaWithSha512: '1.2.840.10045.4.3.4',
  ed25519: '1.3.101.112',
} as const;

/** The digest algorithms a bundle may use, by OID, as node:crypto names them. */
export const DIGESTS: Readonly<Record<string, string>> = {
  [OID.sha256]: 'sha256',
  [OID.sha384]: 'sha384',
  [OID.sha512]: 'sha512',
};

export const digest = (name: string, data: Uint8Array): Uint8Array =>
  new Uint8Array(createHash(name).update(data).digest());

/** The DER of the signed attributes as signed: the `[0] IMPLICIT` tag replaced by SET OF (RFC 5652 §5.4). */
export function signedAttributesToSign(attrs: pkijs.SignedAndUnsignedAttributes): Uint8Array {
  const der = new Uint8Array(attrs.toSchema().toBER());
  der[0] = 0x31;
  return der;
}

/** The SHA-256 fingerprint of a certificate's DER, lowercase hex without colons (nextSigners' form). */
export const fingerprintOf = (cert: X509Certificate): string =>
  cert.fingerprint256.replaceAll(':', '').toLowerCase();

/**
 * Checks a signer's signature over `data` with the certificate's public key: Ed25519 (no digest),
 * ECDSA (DER signature) or RSA PKCS#1 v1.5 with `hash`. False for anything else.
 */
export function signatureVerifies(
  cert: X509Certificate,
  signatureAlgorithm: string,
  hash: string,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  const key: KeyObject = cert.publicKey;
  try {
    switch (key.asymmetricKeyType) {
      case 'ed25519':
        return signatureAlgorithm === OID.ed25519 && verifySignature(null, data, key, signature);
      case 'ec': {
        const named = ECDSA_HASH[signatureAlgorithm];
        return named !== undefined && verifySignature(named, data, key, signature);
      }
      case 'rsa': {
        const named = signatureAlgorithm === OID.rsaEncryption ? hash : RSA_HASH[signatureAlgorithm];
        return named !== undefined && verifySignature(named, data, key, signature);
      }
      default:
        return false;
    }
  } catch {
    return false;
  }
}

const ECDSA_HASH: Readonly<Record<string, string>> = {
  [OID.ecdsaWithSha256]: 'sha256',
  [OID.ecdsaWithSha384]: 'sha384',
  [OID.ecdsaWithSha512]: 'sha512',
};
const RSA_HASH: Readonly<Record<string, string>> = {
  [OID.sha256WithRSA]: 'sha256',
  [OID.sha384WithRSA]: 'sha384',
  [OID.sha512WithRSA]: 'sha512',
};

/** An attribute of one value. */
export const attribute = (type: string, value: asn1js.BaseBlock): pkijs.Attribute =>
  new pkijs.Attribute({ type, values: [value] });
