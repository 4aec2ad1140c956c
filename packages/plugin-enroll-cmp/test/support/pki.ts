import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { EnrollmentKey } from '@credroam/core/api';

const run = promisify(execFile);

/** A test CA made by openssl, and keys with certificates it issued beforehand (what the mock server hands out). */
export interface Pki {
  readonly dir: string;
  /** PEM files: the CA certificate and key. */
  readonly caPem: string;
  readonly caKey: string;
  /** The CA certificate's SHA-256 fingerprint (hex, lower case), as `openssl x509 -fingerprint -sha256` shows it. */
  readonly fingerprint: string;
}

export const openssl = (dir: string, args: string[]) => run('openssl', args, { cwd: dir });

export async function makeCa(): Promise<Pki> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'credroam-cmp-'));
  await openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-subj',
    '/CN=credroam test CMP CA',
    '-days',
    '30',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  const { stdout } = await openssl(dir, ['x509', '-in', 'ca.pem', '-noout', '-fingerprint', '-sha256']);
  const fingerprint = stdout.trim().split('=')[1]!.replaceAll(':', '').toLowerCase();
  return { dir, caPem: path.join(dir, 'ca.pem'), caKey: path.join(dir, 'ca.key'), fingerprint };
}

export const removePki = (pki: Pki): Promise<void> => rm(pki.dir, { recursive: true, force: true });

export interface IssuedKey {
  readonly key: EnrollmentKey;
  /** PEM files of the key and of the certificate the CA issued for it. */
  readonly keyPem: string;
  readonly certPem: string;
  readonly certDer: Uint8Array;
}

/** A key (EC P-256 unless told), and a certificate for it issued by the CA with openssl. */
export async function issueFor(
  pki: Pki,
  name: string,
  type: 'ec' | 'ec384' | 'rsa' = 'ec',
  subject = '/CN=alice',
): Promise<IssuedKey> {
  const pair =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: type === 'ec' ? 'P-256' : 'P-384' });
  const keyPem = path.join(pki.dir, `${name}.key`);
  const certPem = path.join(pki.dir, `${name}.pem`);
  await writeFile(keyPem, pair.privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  await openssl(pki.dir, ['req', '-new', '-key', keyPem, '-subj', subject, '-out', `${name}.csr`]);
  await openssl(pki.dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    pki.caPem,
    '-CAkey',
    pki.caKey,
    '-set_serial',
    String(Date.now() * 1000 + Math.floor(Math.random() * 1000)),
    '-days',
    '10',
    '-out',
    certPem,
  ]);
  await openssl(pki.dir, ['x509', '-in', certPem, '-outform', 'DER', '-out', `${name}.der`]);
  return {
    key: {
      privateKey: new Uint8Array(pair.privateKey.export({ format: 'der', type: 'pkcs8' })),
      publicKey: new Uint8Array(pair.publicKey.export({ format: 'der', type: 'spki' })),
    },
    keyPem,
    certPem,
    certDer: new Uint8Array(await readFile(path.join(pki.dir, `${name}.der`))),
  };
}
