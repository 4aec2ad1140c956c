import { webcrypto } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

const crypto = webcrypto as unknown as Crypto;

/** A new ECDSA P-256 key pair, exportable. */
const newKeys = () =>
  crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);

/** A self-signed certificate (DER) for `keys`, named `CN=<name>`, valid a year. */
async function selfSigned(keys: CryptoKeyPair, name: string, serial: number): Promise<Uint8Array> {
  pkijs.setEngine('bench', new pkijs.CryptoEngine({ name: 'bench', crypto }));
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = new asn1js.Integer({ value: serial });
  const cn = new pkijs.AttributeTypeAndValue({
    type: '2.5.4.3',
    value: new asn1js.Utf8String({ value: name }),
  });
  cert.subject.typesAndValues.push(cn);
  cert.issuer.typesAndValues.push(cn);
  cert.notBefore.value = new Date(Date.now() - 60_000);
  cert.notAfter.value = new Date(Date.now() + 365 * 86_400_000);
  await cert.subjectPublicKeyInfo.importKey(keys.publicKey);
  await cert.sign(keys.privateKey, 'SHA-256');
  return new Uint8Array(cert.toSchema().toBER(false));
}

/** Makes `count` distinct self-signed certificates (ECDSA P-256, one key), fast, for benchmarks. */
export async function makeCertificates(count: number): Promise<Uint8Array[]> {
  const keys = await newKeys();
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) out.push(await selfSigned(keys, `bench ${i}`, i + 1));
  return out;
}

/** A self-signed certificate (DER) and its own private key (PKCS#8 DER). */
export interface BenchCredential {
  readonly cert: Uint8Array;
  readonly key: Uint8Array;
}

/** Makes `count` distinct credentials, each an ECDSA P-256 key of its own and its self-signed certificate. */
export async function makeCredentials(count: number, label = 'bench'): Promise<BenchCredential[]> {
  const out: BenchCredential[] = [];
  for (let i = 0; i < count; i++) {
    const keys = await newKeys();
    out.push({
      cert: await selfSigned(keys, `${label} ${i}`, i + 1),
      key: new Uint8Array(await crypto.subtle.exportKey('pkcs8', keys.privateKey)),
    });
  }
  return out;
}
