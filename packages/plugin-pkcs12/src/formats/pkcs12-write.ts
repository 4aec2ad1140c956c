import { createHash } from 'node:crypto';
import * as asn1js from 'asn1js';
import type { Credential } from './assemble.js';
import { pbes2Encrypt } from './pbe.js';
import { OID } from './pkcs12-algorithms.js';
import { makeMac } from './pkcs12-mac.js';

/** Iterations this implementation writes: PBKDF2-SHA256 for the key and certificates, and the MAC. */
export const EXPORT_ITERATIONS = 100_000;

const seq = (...value: asn1js.BaseBlock[]) => new asn1js.Sequence({ value });
const oid = (value: string) => new asn1js.ObjectIdentifier({ value });
const octetString = (data: Uint8Array) => new asn1js.OctetString({ valueHex: data });
/** [n] EXPLICIT around one value. */
const tagged = (n: number, value: asn1js.BaseBlock) =>
  new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: n }, value: [value] });
const der = (block: asn1js.BaseBlock) => new Uint8Array(block.toBER(false));

function attributes(localKeyId: Uint8Array | undefined, friendlyName: string | undefined): asn1js.Set {
  const value: asn1js.BaseBlock[] = [];
  if (friendlyName) {
    value.push(
      seq(oid(OID.friendlyName), new asn1js.Set({ value: [new asn1js.BmpString({ value: friendlyName })] })),
    );
  }
  if (localKeyId) value.push(seq(oid(OID.localKeyId), new asn1js.Set({ value: [octetString(localKeyId)] })));
  return new asn1js.Set({ value });
}

/**
 * Writes a PKCS#12 file that OpenSSL 3 (without `-legacy`), NSS, GnuTLS and Java open: the key in
 * a shrouded bag and the certificates (the credential's own, then its chain) in an encrypted
 * container, both PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC), and an HMAC-SHA256 MAC. Every OCTET
 * STRING is primitive DER (GnuTLS reads no other). The key and its certificate carry the
 * certificate's SHA-1 as localKeyId and the friendly name; certificates are written as the store
 * holds them, never re-encoded.
 */
export async function writePkcs12(credential: Credential, password: string): Promise<Uint8Array> {
  const localKeyId = credential.key ? createHash('sha1').update(credential.cert).digest() : undefined;
  const { friendlyName } = credential;
  const safes: asn1js.BaseBlock[] = [];

  const certBag = (cert: Uint8Array, attrs: asn1js.Set | undefined) =>
    seq(
      oid(OID.certBag),
      tagged(0, seq(oid(OID.x509Certificate), tagged(0, octetString(cert)))),
      ...(attrs && attrs.valueBlock.value.length > 0 ? [attrs] : []),
    );
  const certs = seq(
    certBag(credential.cert, attributes(localKeyId, friendlyName)),
    ...(credential.chain ?? []).map((c) => certBag(c, undefined)),
  );
  const certsEncrypted = await pbes2Encrypt(der(certs), password, EXPORT_ITERATIONS);
  safes.push(
    seq(
      oid(OID.encryptedData),
      tagged(
        0,
        seq(
          new asn1js.Integer({ value: 0 }),
          seq(
            oid(OID.data),
            certsEncrypted.algorithm.toSchema(),
            // encryptedContent [0] IMPLICIT OCTET STRING, primitive.
            new asn1js.Primitive({
              idBlock: { tagClass: 3, tagNumber: 0 },
              valueHex: certsEncrypted.encrypted,
            }),
          ),
        ),
      ),
    ),
  );
  if (credential.key) {
    const keyEncrypted = await pbes2Encrypt(credential.key, password, EXPORT_ITERATIONS);
    const keyBag = seq(
      oid(OID.shroudedKeyBag),
      tagged(0, seq(keyEncrypted.algorithm.toSchema(), octetString(keyEncrypted.encrypted))),
      attributes(localKeyId, friendlyName),
    );
    safes.push(seq(oid(OID.data), tagged(0, octetString(der(seq(keyBag))))));
  }
  const authSafe = der(seq(...safes));
  const mac = makeMac(authSafe, password, EXPORT_ITERATIONS);
  return der(
    seq(
      new asn1js.Integer({ value: 3 }),
      seq(oid(OID.data), tagged(0, octetString(authSafe))),
      mac.toSchema(),
    ),
  );
}
