import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { FolderDirectoryStore } from '@credroam/core';
import type { ExecutionContext } from 'ava';
import { Keyring } from '../src/index.js';

const run = promisify(execFile);

export async function tempDir(t: ExecutionContext, prefix = 'credroam-pkcs12-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Alice's keyring on a folder directory in `root/dir` (a fast scrypt), unlocked with 'pw' unless
 * `unlock` is false: what the store tests open keys with.
 */
export async function folderKeyring(root: string, unlock = true): Promise<Keyring> {
  await mkdir(path.join(root, 'dir'), { recursive: true });
  const keyring = new Keyring({
    user: 'alice',
    directory: new FolderDirectoryStore(path.join(root, 'dir'), 'alice'),
    cacheFile: path.join(root, 'keys.json'),
    policy: { kdf: { name: 'scrypt', N: 2 ** 14, r: 8, p: 1 } },
  });
  if (unlock) await keyring.unlock('pw');
  return keyring;
}

/** Runs the real `openssl` (the independent party); passwords go through files, never argv. */
export async function openssl(
  args: readonly string[],
  options: { cwd: string; input?: string },
): Promise<string> {
  const { stdout } = await run('openssl', [...args], {
    cwd: options.cwd,
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

export interface TestCredential {
  readonly dir: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly p12: Uint8Array;
  readonly fingerprint: string;
  readonly spkiSha256: string;
}

/** A self-signed credential made by openssl, exported by openssl with its OpenSSL 3 defaults. */
export async function opensslCredential(
  dir: string,
  options: { name?: string; key?: 'rsa' | 'ec'; password?: string; extra?: readonly string[] } = {},
): Promise<TestCredential> {
  const name = options.name ?? 'alice';
  const keyArgs =
    options.key === 'rsa'
      ? ['-newkey', 'rsa:2048']
      : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  await openssl(
    [
      'req',
      '-x509',
      ...keyArgs,
      '-nodes',
      '-keyout',
      `${name}.key.pem`,
      '-out',
      `${name}.cert.pem`,
      '-days',
      '30',
      '-subj',
      `/CN=${name}`,
    ],
    { cwd: dir },
  );
  await writeFile(path.join(dir, `${name}.pass`), options.password ?? 'p12-secret');
  await openssl(
    [
      'pkcs12',
      '-export',
      '-in',
      `${name}.cert.pem`,
      '-inkey',
      `${name}.key.pem`,
      '-out',
      `${name}.p12`,
      '-passout',
      `file:${name}.pass`,
      ...(options.extra ?? []),
    ],
    { cwd: dir },
  );
  const fingerprint = (
    await openssl(['x509', '-in', `${name}.cert.pem`, '-noout', '-fingerprint', '-sha256'], { cwd: dir })
  )
    .split('=')[1]!
    .trim()
    .replace(/:/g, '')
    .toLowerCase();
  const spkiDer = await run('openssl', ['pkey', '-in', `${name}.key.pem`, '-pubout', '-outform', 'DER'], {
    cwd: dir,
    encoding: 'buffer',
  });
  const { createHash } = await import('node:crypto');
  return {
    dir,
    certPem: await readFile(path.join(dir, `${name}.cert.pem`), 'utf8'),
    keyPem: await readFile(path.join(dir, `${name}.key.pem`), 'utf8'),
    p12: new Uint8Array(await readFile(path.join(dir, `${name}.p12`))),
    fingerprint,
    spkiSha256: createHash('sha256').update(spkiDer.stdout).digest('hex'),
  };
}
