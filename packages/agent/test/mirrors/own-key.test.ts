import { execFile } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { NssStore, type Pkcs12Codec } from '@credroam/plugin-nss';
import { activate as activatePkcs12 } from '@credroam/plugin-pkcs12';
import test, { type ExecutionContext } from 'ava';
import { Mirror, type MirrorCredential } from '../../src/mirrors/mirror.js';
import { StoreTarget } from '../../src/mirrors/store-target.js';
import { opensslSelfSigned } from '../support.js';

const run = promisify(execFile);
const sha256 = (d: Uint8Array) => createHash('sha256').update(d).digest('hex');
const tool = async (name: string, args: readonly string[], cwd?: string) =>
  (await run(name, [...args], { encoding: 'utf8', ...(cwd ? { cwd } : {}) })).stdout;

/** The private keys `certutil -K` lists (their CKA_IDs), whatever certificate they have. */
async function keysIn(database: string): Promise<string[]> {
  const out = await run('certutil', ['-K', '-d', `sql:${database}`, '-f', '/dev/null'], {
    encoding: 'utf8',
  }).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
  return out.stdout.split('\n').filter((l) => /^<\s*\d+>/.test(l));
}

async function setup(t: ExecutionContext) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'credroam-own-key-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const database = path.join(dir, 'nssdb');
  await mkdir(database, { mode: 0o700 });
  await tool('certutil', ['-N', '--empty-password', '-d', `sql:${database}`]);
  await writeFile(path.join(dir, 'p12pw'), 'p12pw');
  // The user's own credential (openssl made it), and a certificate credroam roams on the same key.
  await opensslSelfSigned(dir, 'own');
  await tool(
    'openssl',
    [
      'pkcs12',
      '-export',
      '-in',
      'own.cert.pem',
      '-inkey',
      'own.key.pem',
      '-out',
      'own.p12',
      '-passout',
      'file:p12pw',
      '-name',
      'My Own',
    ],
    dir,
  );
  const pem = await readFile(path.join(dir, 'own.key.pem'));
  /** A certificate credroam roams on the user's key. */
  const onTheKey = async (name: string): Promise<MirrorCredential> => {
    await tool(
      'openssl',
      ['req', '-x509', '-key', 'own.key.pem', '-out', `${name}.pem`, '-days', '30', '-subj', `/CN=${name}`],
      dir,
    );
    const cert = new Uint8Array(new X509Certificate(await readFile(path.join(dir, `${name}.pem`))).raw);
    return {
      certId: sha256(cert),
      cert,
      keyId: sha256(createPublicKey(createPrivateKey(pem)).export({ type: 'spki', format: 'der' })),
      key: new Uint8Array(createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' })),
      keyUnknown: false,
    };
  };
  const roamed = await onTheKey('roamed on the same key');
  const codec = activatePkcs12({
    contribute: () => ({ dispose: () => undefined }),
    subscriptions: { push: () => undefined },
  } as never) as Pkcs12Codec;
  const store = new NssStore({ database, stateDir: path.join(dir, 'home', 'nss'), pkcs12: codec });
  const mirror = new Mirror(`nss:${database}`, path.join(dir, 'home'), new StoreTarget(store));
  const importOwn = () =>
    tool('pk12util', [
      '-i',
      path.join(dir, 'own.p12'),
      '-d',
      `sql:${database}`,
      '-w',
      path.join(dir, 'p12pw'),
      '-k',
      '/dev/null',
    ]);
  return { database, roamed, onTheKey, mirror, importOwn };
}

test('a key the user had in an NSS database before credroam mirrored a certificate on it stays when that certificate goes (with the user’s own certificate, and alone)', async (t) => {
  for (const alone of [false, true]) {
    const { database, roamed, mirror, importOwn } = await setup(t);
    await importOwn();
    // Alone: the user's key without a certificate (they deleted theirs, or made a request with it).
    if (alone) await tool('certutil', ['-D', '-n', 'My Own', '-d', `sql:${database}`]);
    t.is((await keysIn(database)).length, 1);

    const first = await mirror.update([roamed]);
    t.deepEqual(first.failed, []);
    t.is((await keysIn(database)).length, 1, 'one key: the user’s, which the roamed certificate uses');

    // The roamed certificate leaves the primary: the mirror takes it out, not the user's key.
    const second = await mirror.update([]);
    t.deepEqual(second.failed, []);
    t.is((await keysIn(database)).length, 1, alone ? 'the user’s key alone' : 'the user’s credential');
    if (!alone) {
      const listed = await tool('certutil', ['-L', '-d', `sql:${database}`]);
      t.regex(listed, /My Own/);
      t.notRegex(listed, /roamed on the same key/);
    }
  }
});

test('a key credroam gave a mirror is still taken out with the last certificate on it, also when a second one came on it later', async (t) => {
  const { database, roamed, onTheKey, mirror } = await setup(t);
  await mirror.update([roamed]);
  t.is((await keysIn(database)).length, 1);
  const renewed = await onTheKey('renewed');
  t.deepEqual((await mirror.update([roamed, renewed])).failed, []);
  t.deepEqual((await mirror.update([renewed])).failed, []);
  t.is((await keysIn(database)).length, 1, 'the renewed certificate keeps the key');
  t.deepEqual((await mirror.update([])).failed, []);
  t.deepEqual(await keysIn(database), [], 'credroam’s key went with its last certificate');
});

test('a key credroam gave an NSS mirror that the user then gave a certificate of their own stays when credroam’s certificate goes', async (t) => {
  const { database, roamed, mirror, importOwn } = await setup(t);
  t.deepEqual((await mirror.update([roamed])).failed, []);
  // The user imports a certificate of their own on that key (NSS keeps one key for both).
  await importOwn();
  t.is((await keysIn(database)).length, 1);
  t.deepEqual((await mirror.update([])).failed, []);
  t.is((await keysIn(database)).length, 1, 'the user’s certificate keeps its key');
  const listed = await tool('certutil', ['-L', '-d', `sql:${database}`]);
  t.regex(listed, /My Own/);
  t.notRegex(listed, /roamed on the same key/);
});
