import { execFile } from 'node:child_process';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CredroamError } from '@credroam/core';
import test, { type ExecutionContext } from 'ava';
import { checkMirror } from '../../src/mirrors/destinations.js';
import { FileFolder } from '../../src/mirrors/file-folder.js';
import { Mirror, type MirrorCredential } from '../../src/mirrors/mirror.js';

const run = promisify(execFile);
const sha256 = (d: Uint8Array) => createHash('sha256').update(d).digest('hex');

async function tmp(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'credroam-files-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A credential made by openssl (P-256, self-signed), as the primary would hand it over. */
async function credential(dir: string, name: string): Promise<MirrorCredential> {
  await run(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-subj',
      `/CN=${name}`,
      '-days',
      '2',
    ],
    { cwd: dir },
  );
  const x = new X509Certificate(await readFile(path.join(dir, `${name}.crt`)));
  const cert = new Uint8Array(x.raw);
  const key = new Uint8Array(
    createPrivateKey(await readFile(path.join(dir, `${name}.key`))).export({ type: 'pkcs8', format: 'der' }),
  );
  return {
    certId: sha256(cert),
    cert,
    keyId: sha256(x.publicKey.export({ type: 'spki', format: 'der' })),
    key,
    keyUnknown: false,
  };
}

const folder = (dir: string) =>
  new FileFolder({
    folder: dir,
    format: 'pem',
    password: async () => '',
    pkcs12: {
      readCredentials: () => Promise.reject(new Error('not used')),
      writePkcs12: () => Promise.reject(new Error('not used')),
    },
  });

test('a folder that is a link is refused (E_MIRROR_FOLDER) and nothing is written where it points', async (t) => {
  const dir = await tmp(t);
  const c = await credential(dir, 'alice');
  await mkdir(path.join(dir, 'elsewhere'));
  await symlink(path.join(dir, 'elsewhere'), path.join(dir, 'files'));
  const mirror = new Mirror('files:test', path.join(dir, 'home'), folder(path.join(dir, 'files')));
  const error = await t.throwsAsync(mirror.update([c]));
  t.true(error instanceof CredroamError && error.code === 'E_MIRROR_FOLDER', String(error));
  t.deepEqual(await readdir(path.join(dir, 'elsewhere')), []);
});

test('a link named as credroam’s file is replaced, not written through; the user’s own files stay; the state file is owner-only', async (t) => {
  const dir = await tmp(t);
  const c = await credential(dir, 'alice');
  const files = path.join(dir, 'files');
  await mkdir(files, { mode: 0o755 });
  await writeFile(path.join(dir, 'victim'), 'do not touch');
  await symlink(path.join(dir, 'victim'), path.join(files, `alice-${c.certId.slice(0, 8)}.key`));
  await writeFile(path.join(files, 'mine.pem'), 'the user’s own');
  const home = path.join(dir, 'home');
  const mirror = new Mirror('files:test', home, folder(files));
  t.like(await mirror.update([c]), { put: 1, failed: [] });
  t.is(await readFile(path.join(dir, 'victim'), 'utf8'), 'do not touch');
  const key = path.join(files, `alice-${c.certId.slice(0, 8)}.key`);
  t.true((await lstat(key)).isFile());
  t.is((await lstat(key)).mode & 0o777, 0o600);
  t.is((await lstat(files)).mode & 0o777, 0o700);
  const [state] = await readdir(path.join(home, 'mirrors'));
  t.is((await lstat(path.join(home, 'mirrors', state!))).mode & 0o777, 0o600);
  t.true((await mirror.inspect([c])).current);
  // The primary lost it: its files go, the user's stay.
  t.like(await mirror.update([]), { removed: 1 });
  t.deepEqual(await readdir(files), ['mine.pem']);
});

test('a mirror’s settings are checked when the manifest is read: an unknown mirror, or a folder without a path, is an error naming it', (t) => {
  const unknown = t.throws(() => checkMirror({ use: 'safari', settings: {} }, 'm.json: /mirrors/0'));
  t.regex(unknown?.message ?? '', /\/mirrors\/0\/use: 'safari' is not a mirror/);
  const noPath = t.throws(() => checkMirror({ use: 'pem-folder', settings: {} }, 'm.json: /mirrors/1'));
  t.regex(noPath?.message ?? '', /mirrors\/1\/settings.*path/);
  t.throws(() => checkMirror({ use: 'pem-folder', settings: { path: '/x', format: 'der' } }, 'm'));
  t.notThrows(() => checkMirror({ use: 'firefox', settings: {} }, 'm'));
});
