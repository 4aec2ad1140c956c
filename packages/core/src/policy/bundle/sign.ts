import { createPrivateKey, type KeyObject, sign, X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { CredroamError } from '../../api/errors.js';
import { attribute, DIGESTS, digest, OID, signedAttributesToSign } from './cms.js';
import { certificatesOfPem } from './pem-certificates.js';

export { certificatesOfPem };

/** What `signPolicyBundle` signs with: PEM texts, never file names (the caller reads them). */
export interface PolicySigner {
  /** The signer's private key (PKCS#8 or the traditional forms node:crypto reads), unencrypted. */
  readonly keyPem: string;
  /** The signer's certificate: it must carry the policy-signing EKU and chain to the site root. */
  readonly certPem: string;
  /** Intermediate CA certificates to carry in the bundle (PEM; one or several per text). */
  readonly chainPems?: readonly string[];
  /** The signing time attribute (default: now). */
  readonly signingTime?: Date;
}

/**
 * Makes a policy bundle: a DER CMS SignedData (RFC 5652) with `document` attached (eContentType
 * id-data), one signer identified by issuer and serial number, signed attributes (content type,
 * signing time, message digest), and the signer's certificate with `chainPems` in it. The digest is
 * SHA-256, except Ed25519, which RFC 8419 pairs with SHA-512. `document` is the JSON text (UTF-8
 * when a string) as it is to be signed: `policy sign` passes `canonicalJson(document)`. Throws
 * `E_POLICY_SIGNER` when the key does not fit.
 */
export function signPolicyBundle(document: Uint8Array | string, signer: PolicySigner): Uint8Array {
  const content = typeof document === 'string' ? new TextEncoder().encode(document) : document;
  let key: KeyObject;
  let cert: X509Certificate;
  try {
    key = createPrivateKey(signer.keyPem);
    cert = new X509Certificate(signer.certPem);
  } catch (error) {
    throw new CredroamError(
      'E_POLICY_SIGNER',
      `the signing key or certificate cannot be read: ${(error as Error).message}`,
    );
  }
  if (!cert.checkPrivateKey(key))
    throw new CredroamError(
      'E_POLICY_SIGNER',
      `the key given is not the key of the certificate ${cert.subject}`,
    );
  const kind = key.asymmetricKeyType;
  const [digestOid, signatureOid] =
    kind === 'ed25519'
      ? [OID.sha512, OID.ed25519]
      : kind === 'ec'
        ? [OID.sha256, OID.ecdsaWithSha256]
        : kind === 'rsa'
          ? [OID.sha256, OID.sha256WithRSA]
          : [undefined, undefined];
  if (!digestOid || !signatureOid)
    throw new CredroamError('E_POLICY_SIGNER', `a ${kind} key cannot sign policy: use Ed25519, ECDSA or RSA`);
  const hash = DIGESTS[digestOid]!;
  const toPkijs = (c: X509Certificate) => pkijs.Certificate.fromBER(new Uint8Array(c.raw));
  const signerCert = toPkijs(cert);
  const chain = (signer.chainPems ?? []).flatMap(certificatesOfPem).map(toPkijs);

  const attrs = [
    attribute(OID.contentType, new asn1js.ObjectIdentifier({ value: OID.data })),
    attribute(OID.signingTime, new asn1js.UTCTime({ valueDate: signer.signingTime ?? new Date() })),
    attribute(OID.messageDigest, new asn1js.OctetString({ valueHex: digest(hash, content) })),
  ];
  // DER: a SET OF is sorted by the encodings of its members.
  const encoded = (a: pkijs.Attribute) => Buffer.from(a.toSchema().toBER());
  attrs.sort((a, b) => Buffer.compare(encoded(a), encoded(b)));
  const signedAttrs = new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes: attrs });
  const toSign = signedAttributesToSign(signedAttrs);
  const signature = sign(kind === 'ed25519' ? null : hash, toSign, key);

  const algorithm = (oid: string, nullParams: boolean) =>
    new pkijs.AlgorithmIdentifier({
      algorithmId: oid,
      ...(nullParams ? { algorithmParams: new asn1js.Null() } : {}),
    });
  const signerInfo = new pkijs.SignerInfo({
    version: 1,
    sid: new pkijs.IssuerAndSerialNumber({
      issuer: signerCert.issuer,
      serialNumber: signerCert.serialNumber,
    }),
    digestAlgorithm: algorithm(digestOid, false),
    signedAttrs,
    signatureAlgorithm: algorithm(signatureOid, kind === 'rsa'),
    signature: new asn1js.OctetString({ valueHex: signature }),
  });
  const signed = new pkijs.SignedData({
    version: 1,
    digestAlgorithms: [algorithm(digestOid, false)],
    encapContentInfo: new pkijs.EncapsulatedContentInfo({
      eContentType: OID.data,
      eContent: new asn1js.OctetString({ valueHex: content }),
    }),
    certificates: [signerCert, ...chain],
    signerInfos: [signerInfo],
  });
  const info = new pkijs.ContentInfo({ contentType: OID.signedData, content: signed.toSchema(true) });
  return new Uint8Array(info.toSchema().toBER());
}
