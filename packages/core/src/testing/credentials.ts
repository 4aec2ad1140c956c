import { execFile } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, sign, verify, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { LocalItem } from '../api/points/local-store.js';

const run = promisify(execFile);
const sha256 = (d: Uint8Array) => createHash('sha256').update(d).digest('hex');

/** A self-signed credential made by the real `openssl`, as the engine sees it: a cert and a key item. */
export interface OpensslCredential {
  readonly cert: LocalItem;
  readonly key: LocalItem;
}

/**
 * Makes a self-signed credential (RSA 2048 or P-256) with `openssl req` in `dir`; its files are
 * `<name>.pem` and `<name>.key.pem`. Ids as the engine derives them (SHA-256 of the DER, SHA-256
 * of the SubjectPublicKeyInfo).
 */
export async function opensslCredential(
  dir: string,
  name: string,
  type: 'rsa' | 'ec' = 'ec',
  modified = 1_700_000_000_000,
): Promise<OpensslCredential> {
  const keyArgs =
    type === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  await run(
    'openssl',
    [
      'req',
      '-x509',
      ...keyArgs,
      '-nodes',
      '-keyout',
      `${name}.key.pem`,
      '-out',
      `${name}.pem`,
      '-days',
      '30',
      '-subj',
      `/CN=${name}`,
    ],
    { cwd: dir },
  );
  const der = new Uint8Array(new X509Certificate(await readFile(`${dir}/${name}.pem`)).raw);
  const privateKey = createPrivateKey(await readFile(`${dir}/${name}.key.pem`));
  const pkcs8 = new Uint8Array(privateKey.export({ type: 'pkcs8', format: 'der' }));
  const keyId = sha256(createPublicKey(privateKey).export({ type: 'spki', format: 'der' }));
  return {
    cert: { kind: 'cert', id: sha256(der), content: der, archived: false, modified },
    key: { kind: 'key', id: keyId, content: pkcs8, archived: false, modified },
  };
}

/**
 * Another self-signed certificate on the key of `opensslCredential(dir, keyOf)` (a renewal that
 * kept its key, a second profile), made by `openssl req` in `dir` as `<name>.pem`: its cert item.
 */
export async function opensslCertOnKey(
  dir: string,
  keyOf: string,
  name: string,
  modified = 1_700_000_000_000,
): Promise<LocalItem> {
  await run(
    'openssl',
    [
      'req',
      '-x509',
      '-key',
      `${keyOf}.key.pem`,
      '-out',
      `${name}.pem`,
      '-days',
      '60',
      '-subj',
      `/CN=${name}`,
    ],
    { cwd: dir },
  );
  const der = new Uint8Array(new X509Certificate(await readFile(`${dir}/${name}.pem`)).raw);
  return { kind: 'cert', id: sha256(der), content: der, archived: false, modified };
}

/** True when the PKCS#8 key signs for the certificate (a signature the certificate's key verifies). */
export function signsFor(pkcs8: Uint8Array, certDer: Uint8Array): boolean {
  const key = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
  const data = Buffer.from('credroam');
  const alg = key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
  return verify(alg, data, new X509Certificate(Buffer.from(certDer)).publicKey, sign(alg, data, key));
}
