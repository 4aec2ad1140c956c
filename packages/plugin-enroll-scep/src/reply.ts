import { createHash, verify, type X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { MESSAGE_TYPE, OID } from './oids.js';
import { protocolError } from './protocol-error.js';

/** What a CertRep said (RFC 8894 §3.3.2), once its signature and its attributes are checked. */
export type CertRep =
  | { readonly status: 'success'; readonly enveloped: Uint8Array }
  | { readonly status: 'failure'; readonly failInfo: string }
  | { readonly status: 'pending' };

/** The request a CertRep must answer. */
export interface AnsweredRequest {
  readonly transactionId: string;
  readonly senderNonce: Uint8Array;
}

/** failInfo values (RFC 8894 §3.2.1.4). */
const FAIL_INFO: Readonly<Record<string, string>> = {
  '0': 'badAlg',
  '1': 'badMessageCheck',
  '2': 'badRequest',
  '3': 'badTime',
  '4': 'badCertId',
};

/**
 * Digests a CertRep's signature may use. SHA-1 is here because SCEP servers (micromdm's among them)
 * sign every reply with it; it is accepted for this signature only, never sent by credroam and
 * never accepted anywhere else (docs/decisions/019-scep-enroller.md).
 */
const DIGESTS: Readonly<Record<string, { readonly name: string; readonly withRsa: string }>> = {
  [OID.sha1]: { name: 'sha1', withRsa: OID.sha1WithRSA },
  [OID.sha256]: { name: 'sha256', withRsa: OID.sha256WithRSA },
};

/**
 * Reads a CertRep: one SignedData, one signer, which must be one of `signers` (the pinned CA or an
 * RA it issued, never a certificate the reply carries), its signature over the signed attributes
 * and their messageDigest over the content checked; then messageType CertRep, the transactionID
 * and the recipientNonce of `request`, and pkiStatus. Throws `E_ENROLL_PROTOCOL` for anything else.
 */
export function readCertRep(
  body: Uint8Array,
  signers: readonly X509Certificate[],
  request: AnsweredRequest,
  shown: string,
): CertRep {
  const fail = (why: string) =>
    protocolError(`the SCEP server at ${shown} sent a reply to PKIOperation that credroam refuses: ${why}`, {
      url: shown,
    });
  const asn1 = asn1js.fromBER(body);
  if (asn1.offset === -1 || asn1.offset !== body.length) throw fail('it is not one DER structure');
  let signed: pkijs.SignedData;
  try {
    const info = new pkijs.ContentInfo({ schema: asn1.result });
    if (info.contentType !== OID.signedData) throw new Error();
    signed = new pkijs.SignedData({ schema: info.content });
  } catch {
    throw fail('it is not a CMS SignedData');
  }
  if (signed.signerInfos.length !== 1) throw fail(`it has ${signed.signerInfos.length} signers, not one`);
  const info = signed.signerInfos[0]!;
  const signer = signerOf(info, signers);
  if (!signer) throw fail('it is not signed by the pinned CA or an RA certificate it issued');
  const digest = DIGESTS[info.digestAlgorithm.algorithmId];
  if (!digest) throw fail(`its digest algorithm ${info.digestAlgorithm.algorithmId} is not SHA-1 or SHA-256`);
  const sigAlg = info.signatureAlgorithm.algorithmId;
  if (sigAlg !== OID.rsaEncryption && sigAlg !== digest.withRsa)
    throw fail(`its signature algorithm ${sigAlg} is not RSA with ${digest.name}`);
  if (!info.signedAttrs) throw fail('it has no signed attributes');
  const attrs = attributesOf(info.signedAttrs.attributes);
  if (!attrs) throw fail('a signed attribute is repeated or has other than one value');
  if (signed.encapContentInfo.eContentType !== OID.data) throw fail('its content is not of type data');
  const content = contentOf(signed);
  const messageDigest = attrs.get(OID.messageDigest);
  const contentType = attrs.get(OID.contentType);
  if (!(contentType instanceof asn1js.ObjectIdentifier) || contentType.valueBlock.toString() !== OID.data)
    throw fail('its contentType attribute is not data');
  if (
    !(messageDigest instanceof asn1js.OctetString) ||
    !Buffer.from(messageDigest.valueBlock.valueHexView).equals(
      createHash(digest.name)
        .update(content ?? new Uint8Array())
        .digest(),
    )
  )
    throw fail('its messageDigest does not match its content');
  let valid = false;
  try {
    valid = verify(
      digest.name,
      new Uint8Array(info.signedAttrs.encodedValue),
      signer.publicKey,
      info.signature.valueBlock.valueHexView,
    );
  } catch {
    valid = false;
  }
  if (!valid) throw fail("its signature does not verify with the CA's key");
  if (printable(attrs.get(OID.messageType)) !== MESSAGE_TYPE.certRep) throw fail('it is not a CertRep');
  if (printable(attrs.get(OID.transactionID)) !== request.transactionId)
    throw fail('its transactionID is not the one of this request');
  const nonce = attrs.get(OID.recipientNonce);
  if (
    !(nonce instanceof asn1js.OctetString) ||
    !Buffer.from(nonce.valueBlock.valueHexView).equals(request.senderNonce)
  )
    throw fail(
      'its recipientNonce is not the senderNonce of this request (a replay, or an answer to another request)',
    );
  const status = printable(attrs.get(OID.pkiStatus));
  if (status === '0') {
    if (!content) throw fail('it says SUCCESS but carries no content');
    return { status: 'success', enveloped: content };
  }
  if (status === '2') {
    const info = printable(attrs.get(OID.failInfo));
    return { status: 'failure', failInfo: (info !== undefined && FAIL_INFO[info]) || 'unspecified' };
  }
  if (status === '3') return { status: 'pending' };
  throw fail(`its pkiStatus is ${status === undefined ? 'missing' : 'not 0, 2 or 3'}`);
}

/** The certificate among `signers` that the SignerInfo names (issuer and serial number). */
function signerOf(info: pkijs.SignerInfo, signers: readonly X509Certificate[]): X509Certificate | undefined {
  const sid = info.sid;
  if (!(sid instanceof pkijs.IssuerAndSerialNumber)) return undefined;
  const issuer = Buffer.from(sid.issuer.toSchema().toBER());
  const serial = Buffer.from(sid.serialNumber.valueBlock.valueHexView);
  return signers.find((cert) => {
    const parsed = pkijs.Certificate.fromBER(cert.raw);
    return (
      Buffer.from(parsed.issuer.toSchema().toBER()).equals(issuer) &&
      Buffer.from(parsed.serialNumber.valueBlock.valueHexView).equals(serial)
    );
  });
}

/** Attributes by type, each with exactly one value; undefined when one repeats or has several. */
function attributesOf(attributes: readonly pkijs.Attribute[]): Map<string, unknown> | undefined {
  const map = new Map<string, unknown>();
  for (const a of attributes) {
    if (map.has(a.type) || a.values.length !== 1) return undefined;
    map.set(a.type, a.values[0]);
  }
  return map;
}

/** The encapsulated content's octets, or undefined when it is absent. */
function contentOf(signed: pkijs.SignedData): Uint8Array | undefined {
  const e = signed.encapContentInfo.eContent;
  if (!e) return undefined;
  if (!e.idBlock.isConstructed) return new Uint8Array(e.valueBlock.valueHexView);
  const pieces = (e.valueBlock.value as asn1js.OctetString[]).map((p) =>
    Buffer.from(p.valueBlock.valueHexView),
  );
  return new Uint8Array(Buffer.concat(pieces));
}

function printable(value: unknown): string | undefined {
  return value instanceof asn1js.PrintableString ? value.valueBlock.value : undefined;
}
