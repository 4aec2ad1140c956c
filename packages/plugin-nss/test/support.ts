import { execFile } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, sign, verify, X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { LocalItem } from '@credroam/core';
import { activate as activatePkcs12 } from '@credroam/plugin-pkcs12';
import type { ExecutionContext } from 'ava';
import { NssStore, NssTools, type Pkcs12Codec, type ToolRun } from '../src/index.js';

const run = promisify(execFile);
export const sha256 = (d: Uint8Array) => createHash('sha256').update(d).digest('hex');
export const T0 = 1_700_000_000_000;

export async function tempDir(t: ExecutionContext, prefix = 'credroam-nss-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The real tools, as a user or a browser runs them (passwords in files). */
export async function certutil(args: readonly string[]): Promise<string> {
  const { stdout } = await run('certutil', [...args], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
  return stdout;
}

export async function pk12util(args: readonly string[]): Promise<string> {
  const { stdout } = await run('pk12util', [...args], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
  return stdout;
}

/** A new NSS database made by `certutil -N`: empty password, or the one in `passwordFile`. */
export async function newDatabase(dir: string, passwordFile?: string): Promise<string> {
  const db = path.join(dir, 'nssdb');
  await mkdir(db, { mode: 0o700 });
  await certutil(
    passwordFile
      ? ['-N', '-d', `sql:${db}`, '-f', passwordFile]
      : ['-N', '--empty-password', '-d', `sql:${db}`],
  );
  return db;
}

let codec: Pkcs12Codec | undefined;
/** The pkcs12 plugin's reader and writer, as the host hands them to a dependent plugin. */
export function pkcs12Codec(): Pkcs12Codec {
  codec ??= activatePkcs12({
    contribute: () => ({ dispose: () => undefined }),
    subscriptions: { push: () => undefined },
  } as never);
  return codec;
}

export interface Made {
  readonly cert: LocalItem;
  readonly key: LocalItem;
  readonly dir: string;
  readonly name: string;
  /** The credential as a PKCS#12 file made by openssl (password `p12pw` in `<name>.pass`). */
  readonly p12: string;
  readonly pass: string;
}

/** A self-signed credential made by openssl: RSA, P-256 or Ed25519. */
export async function credential(
  dir: string,
  name: string,
  type: 'rsa' | 'ec' | 'ed25519' = 'ec',
  options: { readonly friendlyName?: string; readonly subject?: string } = {},
): Promise<Made> {
  const keyArgs =
    type === 'rsa'
      ? ['-newkey', 'rsa:2048']
      : type === 'ec'
        ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']
        : ['-newkey', 'ed25519'];
  const ssl = (args: readonly string[]) => run('openssl', [...args], { cwd: dir, encoding: 'utf8' });
  await ssl([
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
    options.subject ?? `/CN=${name}`,
  ]);
  await writeFile(path.join(dir, `${name}.pass`), 'p12pw');
  await ssl([
    'pkcs12',
    '-export',
    '-in',
    `${name}.pem`,
    '-inkey',
    `${name}.key.pem`,
    '-out',
    `${name}.p12`,
    '-passout',
    `file:${name}.pass`,
    '-name',
    options.friendlyName ?? name,
  ]);
  const der = new Uint8Array(new X509Certificate(await readFile(path.join(dir, `${name}.pem`))).raw);
  const pkcs8 = new Uint8Array(
    createPrivateKey(await readFile(path.join(dir, `${name}.key.pem`))).export({
      type: 'pkcs8',
      format: 'der',
    }),
  );
  const keyId = sha256(
    createPublicKey(createPrivateKey(await readFile(path.join(dir, `${name}.key.pem`)))).export({
      type: 'spki',
      format: 'der',
    }),
  );
  return {
    cert: { kind: 'cert', id: sha256(der), content: der, archived: false, modified: T0 },
    key: { kind: 'key', id: keyId, content: pkcs8, archived: false, modified: T0 },
    dir,
    name,
    p12: path.join(dir, `${name}.p12`),
    pass: path.join(dir, `${name}.pass`),
  };
}

/** True when the PKCS#8 key signs for the certificate (a signature the certificate's key verifies). */
export function signsFor(pkcs8: Uint8Array, certDer: Uint8Array): boolean {
  const key = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
  const data = Buffer.from('credroam');
  const alg = key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
  const signature = sign(alg, data, key);
  return verify(alg, data, new X509Certificate(Buffer.from(certDer)).publicKey, signature);
}

export interface Setup {
  readonly root: string;
  readonly database: string;
  readonly stateDir: string;
  readonly store: NssStore;
  /** Every tool run the store made, with its arguments. */
  readonly runs: ToolRun[];
}

export async function setup(
  t: ExecutionContext,
  options: { readonly password?: string; readonly givePassword?: boolean } = {},
): Promise<Setup> {
  const root = await tempDir(t);
  let passwordFile: string | undefined;
  if (options.password !== undefined) {
    passwordFile = path.join(root, 'db.pass');
    await writeFile(passwordFile, `${options.password}\n`, { mode: 0o600 });
  }
  const database = await newDatabase(root, passwordFile);
  const stateDir = path.join(root, 'home', 'nss', 'state');
  const runs: ToolRun[] = [];
  const store = new NssStore({
    database,
    stateDir,
    pkcs12: pkcs12Codec(),
    ...(passwordFile && options.givePassword !== false ? { passwordFile } : {}),
    tools: new NssTools({ onSpawn: (r) => runs.push(r) }),
  });
  return { root, database, stateDir, store, runs };
}

/** The nicknames and trust flags `certutil -L` shows. */
export async function nicknames(database: string): Promise<string[]> {
  const out = await certutil(['-L', '-d', `sql:${database}`]);
  const lines = out.split('\n');
  const start = lines.findIndex((l) => l.includes('SSL,S/MIME'));
  return lines
    .slice(start + 1)
    .filter((l) => l.trim() !== '')
    .map((l) => l.replace(/\s+\S*,\S*,\S*\s*$/, ''));
}
