import { createDecipheriv } from 'node:crypto';
import * as asn1js from 'asn1js';
import forge from 'node-forge';
import * as pkijs from 'pkijs';
import { OID } from './oids.js';
import { protocolError } from './protocol-error.js';

/** The recipient a CertRep's envelope is for: the certificate the request was signed with, and its key (PKCS#8). */
export interface EnvelopeRecipient {
  readonly certificate: Uint8Array;
  readonly privateKey: Uint8Array;
}

/** Content ciphers node:crypto decrypts, by OID, as it names them. */
const NODE_CIPHERS: Readonly<Record<string, { readonly name: string; readonly keyBytes: number }>> = {
  [OID.aes128CBC]: { name: 'aes-128-cbc', keyBytes: 16 },
  [OID.aes256CBC]: { name: 'aes-256-cbc', keyBytes: 32 },
  [OID.desEde3CBC]: { name: 'des-ede3-cbc', keyBytes: 24 },
};

/**
 * Opens the EnvelopedData of a CertRep (RFC 8894 §3.3.2), after its signature was checked: the
 * key transport must be rsaEncryption to `recipient`, the content AES-CBC, triple DES or single DES.
 *
 * Servers (micromdm's scepserver among them) encrypt with single DES and RSA PKCS#1 v1.5, both of
 * which Node 20 refuses without process-wide flags (the legacy provider; `--security-revert` for
 * PKCS#1 v1.5 decryption). Those two steps, and only those, are done in JavaScript with node-forge
 * (docs/decisions/019-scep-enroller.md); AES and triple DES stay with node:crypto.
 */
export function openEnvelope(der: Uint8Array, recipient: EnvelopeRecipient, shown: string): Uint8Array {
  const fail = (why: string) =>
    protocolError(`the certificate the SCEP server at ${shown} sent cannot be decrypted: ${why}`, {
      url: shown,
    });
  let enveloped: pkijs.EnvelopedData;
  try {
    const asn1 = asn1js.fromBER(der);
    if (asn1.offset !== der.length) throw new Error();
    const info = new pkijs.ContentInfo({ schema: asn1.result });
    if (info.contentType !== OID.envelopedData) throw new Error();
    enveloped = new pkijs.EnvelopedData({ schema: info.content });
  } catch {
    throw fail('it is not a CMS EnvelopedData');
  }
  const own = pkijs.Certificate.fromBER(recipient.certificate);
  const ownIssuer = Buffer.from(own.issuer.toSchema().toBER());
  const ownSerial = Buffer.from(own.serialNumber.valueBlock.valueHexView);
  const mine = enveloped.recipientInfos.find((r) => {
    if (r.variant !== 1 || !(r.value instanceof pkijs.KeyTransRecipientInfo)) return false;
    const rid = r.value.rid;
    return (
      rid instanceof pkijs.IssuerAndSerialNumber &&
      Buffer.from(rid.issuer.toSchema().toBER()).equals(ownIssuer) &&
      Buffer.from(rid.serialNumber.valueBlock.valueHexView).equals(ownSerial)
    );
  })?.value as pkijs.KeyTransRecipientInfo | undefined;
  if (!mine) throw fail('it is not encrypted to the certificate the request was signed with');
  if (mine.keyEncryptionAlgorithm.algorithmId !== OID.rsaEncryption)
    throw fail(`its key transport ${mine.keyEncryptionAlgorithm.algorithmId} is not rsaEncryption`);
  const contentKey = rsaPkcs1Decrypt(recipient.privateKey, mine.encryptedKey.valueBlock.valueHexView);
  if (!contentKey) throw fail('its content key does not decrypt with the request key');
  const eci = enveloped.encryptedContentInfo;
  const algorithm = eci.contentEncryptionAlgorithm.algorithmId;
  const params = eci.contentEncryptionAlgorithm.algorithmParams;
  if (!(params instanceof asn1js.OctetString)) throw fail('its content encryption has no IV');
  const iv = Buffer.from(params.valueBlock.valueHexView);
  const encrypted = octets(eci.encryptedContent);
  if (!encrypted) throw fail('it has no encrypted content');
  if (algorithm === OID.desCBC) {
    const plain = desCbcDecrypt(contentKey, iv, encrypted);
    if (!plain) throw fail('its DES-encrypted content does not decrypt');
    return plain;
  }
  const cipher = NODE_CIPHERS[algorithm];
  if (!cipher) throw fail(`its content encryption ${algorithm} is not AES-CBC, triple DES or DES`);
  if (contentKey.length !== cipher.keyBytes) throw fail(`its content key is not ${cipher.keyBytes} bytes`);
  try {
    const d = createDecipheriv(cipher.name, contentKey, iv);
    return new Uint8Array(Buffer.concat([d.update(encrypted), d.final()]));
  } catch {
    throw fail(`its ${cipher.name} content does not decrypt`);
  }
}

/** RSA PKCS#1 v1.5 decryption (RFC 8017 §7.2.2) with node-forge; undefined when the padding is wrong. */
function rsaPkcs1Decrypt(pkcs8: Uint8Array, encrypted: Uint8Array): Buffer | undefined {
  try {
    const key = forge.pki.privateKeyFromAsn1(
      forge.asn1.fromDer(forge.util.createBuffer(Buffer.from(pkcs8).toString('binary'))),
    ) as forge.pki.rsa.PrivateKey;
    return Buffer.from(key.decrypt(Buffer.from(encrypted).toString('binary'), 'RSAES-PKCS1-V1_5'), 'binary');
  } catch {
    return undefined;
  }
}

/** Single DES in CBC mode with PKCS#5 padding, with node-forge; undefined when it does not decrypt. */
function desCbcDecrypt(key: Buffer, iv: Buffer, encrypted: Buffer): Uint8Array | undefined {
  if (key.length !== 8 || iv.length !== 8 || encrypted.length % 8 !== 0) return undefined;
  const decipher = forge.cipher.createDecipher('DES-CBC', forge.util.createBuffer(key.toString('binary')));
  decipher.start({ iv: forge.util.createBuffer(iv.toString('binary')) });
  decipher.update(forge.util.createBuffer(encrypted.toString('binary')));
  if (!decipher.finish()) return undefined;
  return new Uint8Array(Buffer.from(decipher.output.getBytes(), 'binary'));
}

/** The octets of an OCTET STRING, primitive or constructed. */
function octets(value: asn1js.OctetString | undefined): Buffer | undefined {
  if (!value) return undefined;
  if (!value.idBlock.isConstructed) return Buffer.from(value.valueBlock.valueHexView);
  return Buffer.concat(
    (value.valueBlock.value as asn1js.OctetString[]).map((p) => Buffer.from(p.valueBlock.valueHexView)),
  );
}
