import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EventId, EventLog, FolderDirectoryStore, type LogRecord } from '@credroam/core';
import test from 'ava';
import { type KdfParams, Keyring } from '../src/index.js';
import { tempDir } from './support.js';

const FAST: KdfParams = { name: 'scrypt', N: 2 ** 14, r: 8, p: 1 };

async function setup(t: Parameters<typeof tempDir>[0], escrowPublicKeyPem?: string) {
  const root = await tempDir(t);
  const directory = new FolderDirectoryStore(root, 'alice');
  const events: LogRecord[] = [];
  const logger = new EventLog({ write: () => undefined });
  logger.subscribe((r) => events.push(r));
  const endpoint = (name: string) =>
    new Keyring({
      user: 'alice',
      directory,
      cacheFile: path.join(root, name, 'keys.json'),
      policy: { kdf: FAST, ...(escrowPublicKeyPem ? { escrowPublicKeyPem } : {}) },
      logger,
    });
  /** Replaces the wrapped-key values in the directory, as a directory writer without the keys would. */
  const plant = async (keys: readonly Uint8Array[]) => {
    const now = await directory.readKeys();
    await directory.write({
      keys: { remove: [...now.keys], add: [...keys] },
      stamp: { remove: [...now.stamp], add: [new Uint8Array(randomBytes(16))] },
    });
  };
  const eventsOf = (id: number) => events.filter((e) => e.event === id);
  return { root, directory, endpoint, plant, events, eventsOf };
}

const text = (v: object) => new TextEncoder().encode(JSON.stringify(v));
const hostileKey = (keyId: string, kdf: object, extra: object = {}) =>
  text({
    format: 'credroam-master-key',
    version: 1,
    keyId,
    created: 1,
    wrap: 'password',
    kdf: { ...kdf, salt: 'AAAAAAAAAAAAAAAAAAAAAA==' },
    nonce: 'AAAAAAAAAAAAAAAA',
    ciphertext: Buffer.alloc(48).toString('base64'),
    ...extra,
  });

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
  const wrong = await t.throwsAsync(endpoint('b').unlock('wrong'), {
    code: 'E_WRONG_PASSWORD',
    message: /nothing was changed.*credroam passwd.*credroam recover/s,
  } as never);
  t.truthy((wrong as unknown as { details: { user?: string } }).details.user, 'names the user');
  t.deepEqual(await directory.read(), before);
});

test('passwd re-wraps: other endpoints log on with the new password; an endpoint still on the old one keeps its keys and is told', async (t) => {
  const { directory, endpoint, eventsOf } = await setup(t);
  const a = endpoint('a');
  await a.unlock('old password');
  const b = endpoint('b');
  await b.unlock('old password');
  const key = a.primary().key;
  t.deepEqual(await a.changePassword('old password', 'new password'), { rewrapped: 1 });
  t.is((await directory.readKeys()).keys.length, 1, 'the old wrapping is gone from the directory');
  await t.throwsAsync(endpoint('fresh').unlock('old password'), { code: 'E_WRONG_PASSWORD' } as never);
  // b opens its own copy; it neither trusts nor overwrites the directory's, and says why.
  const b2 = endpoint('b');
  await b2.unlock('old password');
  t.deepEqual(b2.primary().key, key);
  t.regex(eventsOf(EventId.WrappedKeyDiffers)[0]?.message ?? '', /new password on another endpoint/);
  const b3 = endpoint('b');
  await b3.unlock('new password');
  t.deepEqual(b3.primary().key, key);
  t.is((await directory.readKeys()).keys.length, 1, 'nothing was added to the directory');
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

test('a wrapped key naming KDF parameters beyond the bounds is skipped before any derivation; no key is made over it', async (t) => {
  const { directory, endpoint, plant, eventsOf } = await setup(t);
  await plant([hostileKey('0123456789abcdef', { name: 'scrypt', N: 2 ** 30, r: 8, p: 1 })]);
  const before = await directory.read();
  await t.throwsAsync(endpoint('a').unlock('pw'), {
    code: 'E_NO_USABLE_KEY',
    message: /none of them can be used.*no new key/s,
  } as never);
  t.deepEqual(await directory.read(), before);
  t.like(eventsOf(EventId.WrappedKeySkipped)[0], { keyId: '0123456789abcdef' });
  t.regex(eventsOf(EventId.WrappedKeySkipped)[0]?.message ?? '', /outside the allowed bounds/);
});

test('deleted wrapped keys: an endpoint that holds the key puts its copy back; no new key, every key at rest still opens', async (t) => {
  const { directory, endpoint, plant, eventsOf } = await setup(t);
  const a = endpoint('a');
  await a.unlock('pw');
  const key = a.primary().key;
  const atRest = a.atRestKey();
  await plant([]);
  const a2 = endpoint('a');
  t.deepEqual(await a2.unlock('pw'), { created: false, offline: false });
  t.deepEqual(a2.primary().key, key, 'the same master key, not a new one');
  t.deepEqual(a2.atRestKey(), atRest);
  t.is(eventsOf(EventId.MasterKeyRestored).length, 1);
  t.is((await directory.readKeys()).keys.length, 1, 'the copy is back in the directory');
  const fresh = endpoint('fresh');
  await fresh.unlock('pw');
  t.deepEqual(fresh.primary().key, key, 'a new endpoint opens the restored key');
});

test('garbled wrapped keys (not a wrapped key any more) are put back too, and the garbage is named in an event, not removed', async (t) => {
  const { directory, endpoint, plant, eventsOf } = await setup(t);
  const a = endpoint('a');
  await a.unlock('pw');
  const key = a.primary().key;
  const garbage = new Uint8Array(randomBytes(200));
  await plant([garbage]);
  const a2 = endpoint('a');
  await a2.unlock('pw');
  t.deepEqual(a2.primary().key, key);
  t.is(eventsOf(EventId.MasterKeyRestored).length, 1);
  t.true(eventsOf(EventId.WrappedKeySkipped).some((e) => e.keyId === '#0'));
  const { keys } = await directory.readKeys();
  t.is(keys.length, 2);
  t.true(
    keys.some((k) => Buffer.from(k).equals(Buffer.from(garbage))),
    'a writer’s value is left alone',
  );
  // The fresh endpoint opens it too; with nothing to try it would have failed.
  const fresh = endpoint('fresh');
  await fresh.unlock('pw');
  t.deepEqual(fresh.primary().key, key);
});

test('an altered wrapped key (same id, ciphertext changed): the endpoint keeps opening its own copy and reports it; nothing is overwritten', async (t) => {
  const { root, directory, endpoint, plant, eventsOf } = await setup(t);
  const a = endpoint('a');
  await a.unlock('pw');
  const key = a.primary().key;
  const localCopy = await readFile(path.join(root, 'a', 'keys.json'));
  const [original] = (await directory.readKeys()).keys;
  const w = JSON.parse(Buffer.from(original!).toString('utf8')) as { ciphertext: string };
  const flipped = Buffer.from(w.ciphertext, 'base64');
  flipped[3]! ^= 1;
  await plant([text({ ...w, ciphertext: flipped.toString('base64') })]);
  const a2 = endpoint('a');
  await a2.unlock('pw');
  t.deepEqual(a2.primary().key, key);
  t.is(eventsOf(EventId.WrappedKeyDiffers).length, 1);
  t.deepEqual(await readFile(path.join(root, 'a', 'keys.json')), localCopy, 'the local copy is untouched');
  t.is((await directory.readKeys()).keys.length, 1);
});

test('offline after the directory lost the keys, then online: still the same key, then put back', async (t) => {
  const { root, endpoint, plant } = await setup(t);
  const a = endpoint('a');
  await a.unlock('pw');
  const key = a.primary().key;
  await plant([]);
  const offline = new Keyring({
    user: 'alice',
    directory: new FolderDirectoryStore(path.join(root, 'unmounted-share'), 'alice'),
    cacheFile: path.join(root, 'a', 'keys.json'),
    policy: { kdf: FAST },
  });
  t.deepEqual(await offline.unlock('pw'), { created: false, offline: true });
  t.deepEqual(offline.primary().key, key);
  const online = endpoint('a');
  t.deepEqual(await online.unlock('pw'), { created: false, offline: false });
  t.deepEqual(online.primary().key, key);
});

test('wrapped keys cost bounded work: values at the schema’s upper bound, for another user, or past the count are skipped, each with an event', async (t) => {
  const { root, directory, endpoint, plant, eventsOf } = await setup(t);
  const a = endpoint('a');
  await a.unlock('pw');
  const [real] = (await directory.readKeys()).keys;
  const huge = Array.from({ length: 6 }, (_, i) =>
    hostileKey(`00000000000000a${i}`, { name: 'scrypt', N: 2 ** 20, r: 8, p: 1 }),
  );
  const bob = hostileKey('00000000000000b0', FAST, { user: 'bob' });
  const cheap = Array.from({ length: 40 }, (_, i) => hostileKey(i.toString(16).padStart(16, 'c'), FAST));
  await plant([real!, ...huge, bob, ...cheap]);
  const fresh = endpoint('fresh');
  await fresh.unlock('pw');
  const skipped = eventsOf(EventId.WrappedKeySkipped);
  for (const i of [0, 1, 2, 3, 4, 5])
    t.true(
      skipped.some(
        (e) => e.keyId === `00000000000000a${i}` && /1024 MiB, above the policy's ceiling/.test(e.message),
      ),
    );
  t.true(skipped.some((e) => e.keyId === '00000000000000b0' && /another user/.test(e.message)));
  t.true(skipped.filter((e) => /more than 32 wrapped keys/.test(e.message)).length >= 8);
  t.true(skipped.filter((e) => /more than 4 wrapped keys to try/.test(e.message)).length > 0);
  t.deepEqual(fresh.primary().key, a.primary().key);
  // What was tried and refused with a password that opened the keys is not tried again.
  const refused = (
    JSON.parse(await readFile(path.join(root, 'fresh', 'keys.json'), 'utf8')) as { refused: string[] }
  ).refused;
  t.true(refused.length > 0 && refused.length <= 4);
});

test('offline: an endpoint that logged on before opens its keys from its own copy', async (t) => {
  const { root, endpoint } = await setup(t);
  const a = endpoint('a');
  await a.unlock('pw');
  const cache = JSON.parse(await readFile(path.join(root, 'a', 'keys.json'), 'utf8')) as { keys: string[] };
  t.is(cache.keys.length, 1);
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

test("keys are bound to the user: alice's wrapped key is not even tried as bob's; without its name, it does not open", async (t) => {
  const root = await tempDir(t);
  const aliceDir = new FolderDirectoryStore(root, 'alice');
  const alice = new Keyring({
    user: 'alice',
    directory: aliceDir,
    cacheFile: path.join(root, 'a.json'),
    policy: { kdf: FAST },
  });
  await alice.unlock('same');
  const [value] = (await aliceDir.readKeys()).keys;
  const { user: _user, ...unnamed } = JSON.parse(Buffer.from(value!).toString('utf8')) as { user: string };
  const bobLogon = async (keys: Uint8Array[]) => {
    const bobDir = new FolderDirectoryStore(
      path.join(root, `bob-${keys.length}-${randomBytes(2).toString('hex')}`),
      'bob',
    );
    await (await import('node:fs/promises')).mkdir(bobDir.root);
    await bobDir.write({
      keys: { remove: [], add: keys },
      stamp: { remove: [], add: [new Uint8Array([2])] },
    });
    const events: LogRecord[] = [];
    const logger = new EventLog({ write: () => undefined });
    logger.subscribe((r) => events.push(r));
    const bob = new Keyring({
      user: 'bob',
      directory: bobDir,
      cacheFile: path.join(bobDir.root, 'b.json'),
      policy: { kdf: FAST },
      logger,
    });
    return { unlock: bob.unlock('same'), events };
  };
  const named = await bobLogon([value!]);
  await t.throwsAsync(named.unlock, { code: 'E_NO_USABLE_KEY' } as never);
  t.regex(
    named.events.find((e) => e.event === EventId.WrappedKeySkipped)?.message ?? '',
    /another user \('alice'\)/,
  );
  const anonymous = await bobLogon([text(unnamed)]);
  await t.throwsAsync(anonymous.unlock, { code: 'E_WRONG_PASSWORD' } as never);
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

test('keys already open are never replaced: with the local copy deleted and the directory emptied, another password makes no key', async (t) => {
  const { root, directory, endpoint, plant } = await setup(t);
  const a = endpoint('a');
  await a.unlock('pw');
  const key = a.primary().key;
  const { rm } = await import('node:fs/promises');
  await rm(path.join(root, 'a', 'keys.json'));
  await plant([]);
  await t.throwsAsync(a.unlock('attacker password'), { code: 'E_WRONG_PASSWORD' } as never);
  t.deepEqual(a.primary().key, key, 'the open key is still the one that seals');
  t.is((await directory.readKeys()).keys.length, 0, 'no key was made in the directory');
});

test('junk ahead of the real wrapped key: a new endpoint is told there are too many to try, not that its password is wrong', async (t) => {
  const { directory, endpoint, plant } = await setup(t);
  await endpoint('a').unlock('pw');
  const [real] = (await directory.readKeys()).keys;
  const junk = Array.from({ length: 6 }, (_, i) => hostileKey(`00000000000000d${i}`, FAST));
  await plant([...junk, real!]);
  await t.throwsAsync(endpoint('fresh').unlock('pw'), {
    code: 'E_NO_USABLE_KEY',
    message: /more wrapped keys for you than one logon tries/,
  } as never);
  // An endpoint that holds the key is not slowed: its own copy opens first.
  t.deepEqual(await endpoint('a').unlock('pw'), { created: false, offline: false });
});

test('a logon that opens the keys this endpoint had writes nothing to its copy; one that refuses a new value records it', async (t) => {
  const { root, directory, endpoint, plant } = await setup(t);
  await endpoint('a').unlock('pw');
  const file = path.join(root, 'a', 'keys.json');
  const before = await stat(file);
  await endpoint('a').unlock('pw');
  const after = await stat(file);
  t.is(after.ino, before.ino, 'not written again (an atomic write replaces the file)');
  t.is(after.mtimeMs, before.mtimeMs);
  // A value planted in the directory is tried once and recorded as refused: the copy is written.
  const { keys } = await directory.readKeys();
  await plant([...keys, hostileKey('00000000000000d0', FAST)]);
  await endpoint('a').unlock('pw');
  const refused = (JSON.parse(await readFile(file, 'utf8')) as { refused: string[] }).refused;
  t.is(refused.length, 1);
  t.not((await stat(file)).ino, before.ino);
});

test('a logon still writes the copy again where the file needs it: a mode others may use, the first format', async (t) => {
  const { root, endpoint } = await setup(t);
  await endpoint('a').unlock('pw');
  const file = path.join(root, 'a', 'keys.json');
  // Made readable by others (a restored backup, a copy made with another umask): its wrapped keys
  // are what a password guess is tried against, offline.
  await chmod(file, 0o644);
  await endpoint('a').unlock('pw');
  t.is((await stat(file)).mode & 0o777, 0o600, 'owner-only again, as every logon made it before');
  // The first format (a bare array): written in the current one.
  const { keys } = JSON.parse(await readFile(file, 'utf8')) as { keys: string[] };
  await writeFile(file, JSON.stringify(keys), { mode: 0o600 });
  await endpoint('a').unlock('pw');
  t.is((JSON.parse(await readFile(file, 'utf8')) as { version?: number }).version, 2);
});

test('derived keys are derived once and handed out as copies: zeroing one changes nothing; lock forgets them', async (t) => {
  const { endpoint } = await setup(t);
  const a = endpoint('a');
  await a.unlock('correct horse');
  const { keyId } = a.primary();
  const first = a.tokenKey(keyId, 'cert')!;
  const kept = Buffer.from(first);
  first.fill(0); // what the protector does with each key it is given
  t.deepEqual(a.tokenKey(keyId, 'cert'), kept);
  t.notDeepEqual(a.tokenKey(keyId, 'key'), kept, 'one key per kind');
  const atRest = a.atRestKey().key;
  atRest.fill(0);
  t.notDeepEqual(a.atRestKey().key, atRest);
  a.lock();
  t.is(a.tokenKey(keyId, 'cert'), undefined);
  t.throws(() => a.atRestKey(), { message: /locked/ });
  // The same master key opened again derives the same keys.
  await a.unlock('correct horse');
  t.deepEqual(a.tokenKey(keyId, 'cert'), kept);
});

test('a password changed where a key was missing: the endpoint that holds that key keeps its copy, and passwd with the old password re-wraps it', async (t) => {
  const { root, directory, endpoint, plant } = await setup(t);
  const a = endpoint('a');
  await a.unlock('old');
  const k1 = a.primary().keyId;
  // A directory writer empties the attribute; a new endpoint's first logon makes a second key,
  // seals with it, and the writer deletes that one too before the user changes the password at a.
  await plant([]);
  const c = endpoint('c');
  t.true((await c.unlock('old')).created);
  const k3 = c.atRestKey();
  t.not(k3.keyId, k1);
  await plant([]);
  await endpoint('a').changePassword('old', 'new');
  t.deepEqual(
    (await directory.readKeys()).keys.map((v) => JSON.parse(Buffer.from(v).toString('utf8')).keyId),
    [k1],
  );
  // c logs on with the new password: it opens k1 from the directory, and must not forget k3.
  const c2 = endpoint('c');
  await c2.unlock('new');
  t.deepEqual(c2.keyIds, [k1]);
  const copy = JSON.parse(await readFile(path.join(root, 'c', 'keys.json'), 'utf8')) as { keys: string[] };
  t.is(copy.keys.length, 2, "c's copy still holds the key only the old password opens");
  t.false(
    (await directory.readKeys()).keys.some(
      (v) => JSON.parse(Buffer.from(v).toString('utf8')).keyId === k3.keyId,
    ),
    'a value only the old password opens does not go back to the directory',
  );
  // The user runs passwd once with the old password (as the error of a wrong password says): k3 is back.
  await endpoint('c').changePassword('old', 'new');
  const c3 = endpoint('c');
  await c3.unlock('new');
  t.deepEqual(new Set(c3.keyIds), new Set([k1, k3.keyId]));
  t.deepEqual(
    c3.atRestKeys().find((k) => k.keyId === k3.keyId),
    k3,
    'the files c sealed under k3 open again',
  );
});
