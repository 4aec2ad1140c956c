import { generateKeyPairSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { FolderDirectoryStore } from '@credroam/core';
import test from 'ava';
import { type KdfParams, Keyring } from '../src/index.js';
import { tempDir } from './support.js';

const FAST: KdfParams = { name: 'scrypt', N: 2 ** 14, r: 8, p: 1 };

async function setup(t: Parameters<typeof tempDir>[0], escrowPublicKeyPem?: string) {
  const root = await tempDir(t);
  const directory = new FolderDirectoryStore(root, 'alice');
  const endpoint = (name: string) =>
    new Keyring({
      user: 'alice',
      directory,
      cacheFile: path.join(root, name, 'keys.json'),
      policy: { kdf: FAST, ...(escrowPublicKeyPem ? { escrowPublicKeyPem } : {}) },
    });
  return { root, directory, endpoint };
}

test('first logon creates one master key, wrapped in the directory; the next logon opens the same key', async (t) => {
  const { directory, endpoint } = await setup(t);
  const a = endpoint('a');
  t.deepEqual(await a.unlock('correct horse'), { created: true, offline: false });
  const { keys } = await directory.readKeys();
  t.is(keys.length, 1);
  t.notRegex(Buffer.from(keys[0]!).toString('utf8'), /correct horse/);
  const b = endpoint('b');
  t.deepEqual(await b.unlock('correct horse'), { created: false, offline: false });
  t.deepEqual(a.primary().key, b.primary().key);
  t.deepEqual(a.atRestKey().key, b.atRestKey().key);
});

test('a wrong password is a clear error and changes nothing', async (t) => {
  const { directory, endpoint } = await setup(t);
  await endpoint('a').unlock('right');
  const before = await directory.read();
  await t.throwsAsync(endpoint('b').unlock('wrong'), {
    code: 'E_WRONG_PASSWORD',
    message: /nothing was changed.*credroam passwd.*credroam recover/s,
  } as never);
  t.deepEqual(await directory.read(), before);
});

test('passwd re-wraps: other endpoints log on with the new password; the old one is recognised as changed elsewhere', async (t) => {
  const { directory, endpoint } = await setup(t);
  const a = endpoint('a');
  await a.unlock('old password');
  const b = endpoint('b');
  await b.unlock('old password');
  const key = a.primary().key;
  t.deepEqual(await a.changePassword('old password', 'new password'), { rewrapped: 1 });
  t.is((await directory.readKeys()).keys.length, 1, 'the old wrapping is gone from the directory');
  const b2 = endpoint('b');
  await t.throwsAsync(b2.unlock('old password'), {
    code: 'E_PASSWORD_CHANGED',
    message: /changed on another endpoint/,
  } as never);
  await b2.unlock('new password');
  t.deepEqual(b2.primary().key, key);
});

test('passwd with a wrong old password changes nothing', async (t) => {
  const { directory, endpoint } = await setup(t);
  await endpoint('a').unlock('pw');
  const before = await directory.read();
  await t.throwsAsync(endpoint('a').changePassword('nope', 'new'), { code: 'E_WRONG_PASSWORD' } as never);
  t.deepEqual(await directory.read(), before);
});

test('escrow: keys are also wrapped to the site key; recovery sets a new password without the old one', async (t) => {
  const escrow = generateKeyPairSync('rsa', { modulusLength: 3072 });
  const pub = escrow.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const priv = escrow.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const { directory, endpoint } = await setup(t, pub);
  const a = endpoint('a');
  await a.unlock('forgotten');
  const key = a.primary().key;
  t.is((await directory.readKeys()).keys.length, 2);
  const admin = endpoint('admin');
  t.deepEqual(await admin.recover(priv, 'reset by admin'), { recovered: 1 });
  const b = endpoint('b');
  await b.unlock('reset by admin');
  t.deepEqual(b.primary().key, key);
  await t.throwsAsync(endpoint('c').unlock('forgotten'), { code: 'E_WRONG_PASSWORD' } as never);
  const other = generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
  await t.throwsAsync(endpoint('d').recover(other, 'x'), { code: 'E_ESCROW_KEY' } as never);
});

test('a wrapped key naming KDF parameters beyond the bounds is refused before any derivation', async (t) => {
  const { directory, endpoint } = await setup(t);
  const hostile = {
    format: 'credroam-master-key',
    version: 1,
    keyId: '0123456789abcdef',
    created: 1,
    wrap: 'password',
    kdf: { name: 'scrypt', N: 2 ** 30, r: 8, p: 1, salt: 'AAAA' },
    nonce: 'AAAAAAAAAAAAAAAA',
    ciphertext: 'AAAA',
  };
  await directory.write({
    keys: { remove: [], add: [new TextEncoder().encode(JSON.stringify(hostile))] },
    stamp: { remove: [], add: [new Uint8Array([1])] },
  });
  const started = Date.now();
  await t.throwsAsync(endpoint('a').unlock('pw'), { code: 'E_KDF_BOUNDS' } as never);
  t.true(Date.now() - started < 2000);
});

test('offline: an endpoint that logged on before opens its keys from its own copy', async (t) => {
  const { root, endpoint } = await setup(t);
  const a = endpoint('a');
  await a.unlock('pw');
  const cache = JSON.parse(await readFile(path.join(root, 'a', 'keys.json'), 'utf8')) as string[];
  t.is(cache.length, 1);
  const offlineDir = new FolderDirectoryStore(path.join(root, 'unmounted-share'), 'alice');
  const again = new Keyring({
    user: 'alice',
    directory: offlineDir,
    cacheFile: path.join(root, 'a', 'keys.json'),
    policy: { kdf: FAST },
  });
  t.deepEqual(await again.unlock('pw'), { created: false, offline: true });
  const fresh = new Keyring({
    user: 'alice',
    directory: offlineDir,
    cacheFile: path.join(root, 'z', 'keys.json'),
    policy: { kdf: FAST },
  });
  await t.throwsAsync(fresh.unlock('pw'), { code: 'E_UNREACHABLE' } as never);
});

test("keys are bound to the user: alice's wrapped key does not open as bob's", async (t) => {
  const root = await tempDir(t);
  const aliceDir = new FolderDirectoryStore(root, 'alice');
  const alice = new Keyring({
    user: 'alice',
    directory: aliceDir,
    cacheFile: path.join(root, 'a.json'),
    policy: { kdf: FAST },
  });
  await alice.unlock('same');
  const { keys } = await aliceDir.readKeys();
  const bobDir = new FolderDirectoryStore(root, 'bob');
  await bobDir.write({
    keys: { remove: [], add: [...keys] },
    stamp: { remove: [], add: [new Uint8Array([2])] },
  });
  const bob = new Keyring({
    user: 'bob',
    directory: bobDir,
    cacheFile: path.join(root, 'b.json'),
    policy: { kdf: FAST },
  });
  await t.throwsAsync(bob.unlock('same'), { code: 'E_WRONG_PASSWORD' } as never);
});

test('a hostile wrapped key beside the real one does not block logon', async (t) => {
  const { directory, endpoint } = await setup(t);
  await endpoint('a').unlock('pw');
  const hostile = {
    format: 'credroam-master-key',
    version: 1,
    keyId: 'fedcba9876543210',
    created: 9e12,
    wrap: 'password',
    kdf: { name: 'pbkdf2-sha256', iterations: 1e12, salt: 'AAAA' },
    nonce: 'AAAA',
    ciphertext: 'AAAA',
  };
  const { stamp } = await directory.readKeys();
  await directory.write({
    keys: { remove: [], add: [new TextEncoder().encode(JSON.stringify(hostile))] },
    stamp: { remove: [...stamp], add: [new Uint8Array([3])] },
  });
  const b = endpoint('b');
  t.deepEqual(await b.unlock('pw'), { created: false, offline: false });
  t.is(b.keyIds.length, 1);
});

test('several master keys (two first logons at once): every endpoint opens all, tokens sealed under either open', async (t) => {
  const { MasterKeyProtector } = await import('../src/index.js');
  const { directory, endpoint } = await setup(t);
  const [a, b] = [endpoint('a'), endpoint('b')];
  const results = await Promise.all([a.unlock('pw'), b.unlock('pw')]);
  t.true(results.some((r) => r.created));
  const c = endpoint('c');
  await c.unlock('pw');
  const wrapped = (await directory.readKeys()).keys.length;
  t.is(c.keyIds.length, wrapped, 'the third endpoint holds every master key in the directory');
  const aad = new TextEncoder().encode('aad');
  const fromA = await new MasterKeyProtector(a).seal({
    kind: 'cert',
    payload: new Uint8Array([1, 2, 3]),
    aad,
  });
  const fromB = await new MasterKeyProtector(b).seal({ kind: 'key', payload: new Uint8Array([4]), aad });
  const pc = new MasterKeyProtector(c);
  t.deepEqual(await pc.open({ kind: 'cert', sealed: fromA, aad }), new Uint8Array([1, 2, 3]));
  t.deepEqual(await pc.open({ kind: 'key', sealed: fromB, aad }), new Uint8Array([4]));
  await t.throwsAsync(pc.open({ kind: 'key', sealed: fromA, aad }), { code: 'E_AUTH' } as never);
});
