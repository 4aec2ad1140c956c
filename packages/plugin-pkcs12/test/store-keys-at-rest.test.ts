import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EventId, EventLog, type LocalItem, type LogRecord } from '@credroam/core';
import * as asn1js from 'asn1js';
import test, { type ExecutionContext } from 'ava';
import { CredentialFolderStore, type Keyring } from '../src/index.js';
import { LEGACY_MAX_ITERATIONS } from '../src/store/legacy-key.js';
import { MAX_KEY_FILE, SEALED_KEY_HEADER, sealingKey, sealKey } from '../src/store/sealed-key.js';
import { tempDir } from './support.js';

const sha256 = (d: Uint8Array) => createHash('sha256').update(d).digest('hex');
const T0 = 1_700_000_000_000;

interface MasterKey {
  readonly keyId: string;
  readonly key: Buffer;
}
const masterKey = (): MasterKey => ({ keyId: randomBytes(8).toString('hex'), key: randomBytes(32) });

/** What the store asks of a keyring: whether it is open, and its at-rest keys, oldest first. */
function keyring(...keys: MasterKey[]): Keyring {
  return { unlocked: keys.length > 0, atRestKeys: () => keys } as unknown as Keyring;
}

function newKey(type: 'ec' | 'rsa' = 'ec'): LocalItem {
  const { privateKey } =
    type === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const content = new Uint8Array(privateKey.export({ type: 'pkcs8', format: 'der' }));
  const id = sha256(createPublicKey(privateKey).export({ type: 'spki', format: 'der' }));
  return { kind: 'key', id, content, archived: false, modified: T0 };
}

/** A key file as the earlier store wrote it: Node's PKCS#8 export, the at-rest key as passphrase. */
const legacyFile = (item: LocalItem, atRest: Buffer): Buffer =>
  createPrivateKey({ key: Buffer.from(item.content), format: 'der', type: 'pkcs8' }).export({
    type: 'pkcs8',
    format: 'der',
    cipher: 'aes-256-cbc',
    passphrase: atRest,
  });

/** The re-encoding the earlier store listed (OpenSSL's). */
const normalized = (item: LocalItem) =>
  new Uint8Array(
    createPrivateKey({ key: Buffer.from(item.content), format: 'der', type: 'pkcs8' }).export({
      type: 'pkcs8',
      format: 'der',
    }),
  );

async function setup(t: ExecutionContext, ...keys: MasterKey[]) {
  const root = await tempDir(t);
  const mk = keys.length > 0 ? keys : [masterKey()];
  const store = new CredentialFolderStore(path.join(root, 'store'), keyring(...mk));
  const file = (id: string) => path.join(root, 'store', 'keys', `${id}.p8`);
  return { root, store, file, mk };
}

test('a key is written sealed: the header names the format, the kind, the sealing master key and the key; it lists back byte for byte', async (t) => {
  const { store, file, mk } = await setup(t);
  const item = newKey();
  await store.put(item);
  const data = await readFile(file(item.id));
  t.is(data.subarray(0, 4).toString('latin1'), 'CRKA');
  t.is(data[4], 1, 'format version 1');
  t.is(data[5], 1, 'kind: a private key');
  t.is(data.subarray(8, 16).toString('hex'), mk[0]!.keyId);
  t.is(data.subarray(16, 48).toString('hex'), item.id);
  t.is(data.length, SEALED_KEY_HEADER + item.content.length + 16);
  t.false(data.includes(Buffer.from(item.content).subarray(-32)), 'not in clear');
  const listed = (await store.list()).items.find((i) => i.kind === 'key');
  t.deepEqual(listed, item);
  t.deepEqual(await store.privateKey(item.id), item.content);
});

test('every write draws a new nonce: the same key written twice never repeats one', async (t) => {
  const { store, file } = await setup(t);
  const item = newKey();
  const nonces = new Set<string>();
  for (let i = 0; i < 50; i++) {
    await store.put(item);
    nonces.add((await readFile(file(item.id))).subarray(52, 64).toString('hex'));
  }
  t.is(nonces.size, 50);
});

test('a key put under an id that is not its own is refused, nothing written', async (t) => {
  const { store, root } = await setup(t);
  const item = newKey();
  await t.throwsAsync(store.put({ ...item, id: newKey().id }), { message: /id is not/ });
  t.deepEqual(await readdir(path.join(root, 'store')).catch(() => []), []);
});

test('a store of the earlier format (PBES2 files) still opens: read as before, and an unlocked listing seals each again in the current format (event 1034), under its name, date and master key', async (t) => {
  const { root, file, mk } = await setup(t);
  const logged: LogRecord[] = [];
  const logger = new EventLog({ write: () => undefined });
  logger.subscribe((r) => logged.push(r));
  const store = new CredentialFolderStore(path.join(root, 'store'), keyring(...mk), { logger });
  const items = [newKey(), newKey('rsa')];
  const { mkdir, utimes } = await import('node:fs/promises');
  await mkdir(path.dirname(file(items[0]!.id)), { recursive: true, mode: 0o700 });
  for (const item of items) {
    await writeFile(file(item.id), legacyFile(item, mk[0]!.key), { mode: 0o600 });
    await utimes(file(item.id), new Date(T0), new Date(T0));
  }
  const before = await Promise.all(items.map((i) => readFile(file(i.id))));
  for (const item of items) t.deepEqual(await store.privateKey(item.id), normalized(item));
  t.deepEqual(
    await Promise.all(items.map((i) => readFile(file(i.id)))),
    before,
    'reading one key writes nothing',
  );
  const { items: listed, unreadable } = await store.list();
  t.deepEqual(unreadable, []);
  for (const item of items) {
    t.deepEqual(listed.find((i) => i.id === item.id)?.content, normalized(item));
    const data = await readFile(file(item.id));
    t.is(data.subarray(0, 4).toString('latin1'), 'CRKA', 'sealed again');
    t.is(data.subarray(8, 16).toString('hex'), mk[0]!.keyId);
    t.is((await stat(file(item.id))).mtimeMs, T0, 'its date kept');
  }
  t.is(logged.filter((r) => r.event === EventId.StoreKeysResealed && r.level === 'info').length, 1);
  // Listed again: the same content, nothing more to seal.
  const again = await store.list();
  t.deepEqual(
    again.items.map((i) => [i.id, Buffer.from(i.content).toString('hex')]).sort(),
    items.map((i) => [i.id, Buffer.from(normalized(i)).toString('hex')]).sort(),
  );
  t.is(logged.filter((r) => r.event === EventId.StoreKeysResealed).length, 1);
});

test('a locked listing of a store of the earlier format writes nothing', async (t) => {
  const { root, file, mk } = await setup(t);
  const item = newKey();
  const { mkdir } = await import('node:fs/promises');
  await mkdir(path.dirname(file(item.id)), { recursive: true, mode: 0o700 });
  await writeFile(file(item.id), legacyFile(item, mk[0]!.key), { mode: 0o600 });
  const before = await readFile(file(item.id));
  const locked = await new CredentialFolderStore(path.join(root, 'store'), keyring()).list();
  t.like(locked.unreadable[0], { kind: 'key', id: item.id });
  t.deepEqual(await readFile(file(item.id)), before);
});

test('several master keys: new files are sealed under the oldest; files sealed or encrypted under any held key open; one under a key not held is reported, kept', async (t) => {
  const [older, newer] = [masterKey(), masterKey()];
  const { root, file } = await setup(t, older, newer);
  const both = new CredentialFolderStore(path.join(root, 'store'), keyring(older, newer));
  const [a, b, c] = [newKey(), newKey(), newKey()];
  await both.put(a);
  t.is((await readFile(file(a.id))).subarray(8, 16).toString('hex'), older.keyId);
  // b sealed on an endpoint that held only the newer key; c in the earlier format under it.
  await new CredentialFolderStore(path.join(root, 'store'), keyring(newer)).put(b);
  await writeFile(file(c.id), legacyFile(c, newer.key), { mode: 0o600 });
  const listing = await both.list();
  t.deepEqual(listing.unreadable, []);
  t.deepEqual(listing.items.map((i) => i.id).sort(), [a.id, b.id, c.id].sort());
  // An endpoint without the older key: a is reported with its id, never deleted.
  const onlyNewer = await new CredentialFolderStore(path.join(root, 'store'), keyring(newer)).list();
  t.deepEqual(onlyNewer.items.map((i) => i.id).sort(), [b.id, c.id].sort());
  t.like(onlyNewer.unreadable[0], { kind: 'key', id: a.id });
  t.regex(onlyNewer.unreadable[0]!.reason, new RegExp(`master key ${older.keyId}`));
  t.true((await readdir(path.dirname(file(a.id)))).includes(`${a.id}.p8`));
});

/** A store holding key `item` sealed, whose file the test then replaces; returns what a listing says of it. */
async function tampered(t: ExecutionContext, change: (data: Buffer, ctx: { item: LocalItem }) => Buffer) {
  const { store, file } = await setup(t);
  const item = newKey();
  await store.put(item);
  const data = change(await readFile(file(item.id)), { item });
  await writeFile(file(item.id), data);
  const { items, unreadable } = await store.list();
  t.deepEqual(items, [], 'nothing is listed from it');
  t.is(unreadable.length, 1);
  t.like(unreadable[0], { name: `keys/${item.id}.p8`, kind: 'key', id: item.id });
  t.deepEqual(await readFile(file(item.id)), data, 'the file is left as it is');
  await t.throwsAsync(store.privateKey(item.id));
  return unreadable[0]!.reason;
}

const flip = (offset: number) => (data: Buffer) => {
  const out = Buffer.from(data);
  const at = offset < 0 ? out.length + offset : offset;
  out[at]! ^= 0x01;
  return out;
};

for (const [what, offset] of [
  ['the format version', 4],
  ['the kind', 5],
  ['a reserved byte', 7],
  ['the master key id', 9],
  ['the key id', 20],
  ['the length', 51],
  ['the nonce', 55],
  ['the ciphertext', 70],
  ['the tag', -1],
] as const) {
  test(`a sealed key with ${what} altered is unreadable: reported with its id, left in place`, async (t) => {
    const reason = await tampered(t, flip(offset));
    t.truthy(reason);
  });
}

for (const cut of [0, 3, 4, 63, 64, 80, -1]) {
  test(`a sealed key truncated to ${cut < 0 ? 'all but its last byte' : `${cut} bytes`} is unreadable, left in place`, async (t) => {
    const reason = await tampered(t, (d) => d.subarray(0, cut < 0 ? d.length + cut : cut));
    t.regex(reason, /truncated|not a credroam key file|not a key file/);
  });
}

test('a sealed key with a byte appended is unreadable', async (t) => {
  t.regex(await tampered(t, (d) => Buffer.concat([d, Buffer.from([0])])), /truncated or extended/);
});

test('a header that claims a huge key is refused from the header, whatever the file holds', async (t) => {
  const reason = await tampered(t, (d) => {
    const out = Buffer.from(d);
    out.writeUInt32BE(0xffffffff, 48);
    return out;
  });
  t.regex(reason, /claims 4294967295 bytes/);
});

test('a key file larger than any key is refused unread', async (t) => {
  const reason = await tampered(t, () => Buffer.alloc(MAX_KEY_FILE + 1, 0x30));
  t.regex(reason, /more than the \d+ such a file holds/);
});

test('a key file of a newer format version is reported as such, even with a valid seal', async (t) => {
  const { store, file, mk } = await setup(t);
  const item = newKey();
  await store.put(item);
  // Sealed properly, as a future version would, its version in the authenticated header.
  const data = Buffer.from(await readFile(file(item.id)));
  data[4] = 2;
  const { createCipheriv } = await import('node:crypto');
  const cipher = createCipheriv('aes-256-gcm', sealingKey(mk[0]!.key), data.subarray(52, 64));
  cipher.setAAD(data.subarray(0, SEALED_KEY_HEADER));
  const body = Buffer.concat([cipher.update(item.content), cipher.final()]);
  const future = Buffer.concat([data.subarray(0, SEALED_KEY_HEADER), body, cipher.getAuthTag()]);
  await writeFile(file(item.id), future);
  const { unreadable } = await store.list();
  t.like(unreadable[0], { kind: 'key', id: item.id });
  t.regex(unreadable[0]!.reason, /format 2.*newer version/);
  t.deepEqual(await readFile(file(item.id)), future);
});

test('a key file sealed for another key and put under this key’s name is refused: the seal binds the name', async (t) => {
  const { store, file } = await setup(t);
  const [a, b] = [newKey(), newKey()];
  await store.put(a);
  await store.put(b);
  const aFile = await readFile(file(a.id));
  await writeFile(file(b.id), aFile); // a's file swapped in under b's name
  const { items, unreadable } = await store.list();
  t.deepEqual(
    items.map((i) => i.id),
    [a.id],
  );
  t.like(unreadable[0], { kind: 'key', id: b.id });
  t.regex(unreadable[0]!.reason, /sealed as key/);
  await t.throwsAsync(store.privateKey(b.id), { message: /sealed as key/ });
  // Its header rewritten to b's id: the tag fails.
  const forged = Buffer.from(aFile);
  Buffer.from(b.id, 'hex').copy(forged, 16);
  await writeFile(file(b.id), forged);
  t.regex((await store.list()).unreadable[0]!.reason, /failed authentication/);
});

test('a key of another user (or another master key) copied into the store does not open', async (t) => {
  const { store, file, root } = await setup(t);
  const item = newKey();
  const other = new CredentialFolderStore(path.join(root, 'other'), keyring(masterKey()));
  await other.put(item);
  const { mkdir } = await import('node:fs/promises');
  await mkdir(path.dirname(file(item.id)), { recursive: true });
  await writeFile(file(item.id), await readFile(path.join(root, 'other', 'keys', `${item.id}.p8`)));
  t.regex((await store.list()).unreadable[0]!.reason, /which this user’s keys do not hold/);
});

test('a sealed key under a name that is not its id is not read', async (t) => {
  const { store, file, root } = await setup(t);
  const item = newKey();
  await store.put(item);
  const { rename } = await import('node:fs/promises');
  await rename(file(item.id), path.join(root, 'store', 'keys', 'copy.p8'));
  const { items, unreadable } = await store.list();
  t.deepEqual(items, []);
  t.deepEqual(
    unreadable.map((u) => u.name),
    ['keys/copy.p8'],
  );
});

/** An EncryptedPrivateKeyInfo with the given parameters (and junk to decrypt): what an attacker hands over. */
function craftedLegacy(o: {
  iterations?: number | bigint;
  kdf?: string;
  cipher?: string;
  prf?: string;
}): Buffer {
  const int = (v: number | bigint) => {
    let hex = BigInt(v).toString(16);
    if (hex.length % 2) hex = `0${hex}`;
    if (Number.parseInt(hex.slice(0, 2), 16) & 0x80) hex = `00${hex}`;
    return new asn1js.Integer({ valueHex: Buffer.from(hex, 'hex') });
  };
  const oid = (value: string) => new asn1js.ObjectIdentifier({ value });
  const kdfParams = new asn1js.Sequence({
    value: [
      new asn1js.OctetString({ valueHex: randomBytes(8) }),
      int(o.iterations ?? 2048),
      new asn1js.Sequence({ value: [oid(o.prf ?? '1.2.840.113549.2.9'), new asn1js.Null()] }),
    ],
  });
  const structure = new asn1js.Sequence({
    value: [
      new asn1js.Sequence({
        value: [
          oid('1.2.840.113549.1.5.13'),
          new asn1js.Sequence({
            value: [
              new asn1js.Sequence({ value: [oid(o.kdf ?? '1.2.840.113549.1.5.12'), kdfParams] }),
              new asn1js.Sequence({
                value: [
                  oid(o.cipher ?? '2.16.840.1.101.3.4.1.42'),
                  new asn1js.OctetString({ valueHex: randomBytes(o.cipher ? 8 : 16) }),
                ],
              }),
            ],
          }),
        ],
      }),
      new asn1js.OctetString({ valueHex: randomBytes(144) }),
    ],
  });
  return Buffer.from(structure.toBER());
}

for (const [what, crafted, reason] of [
  ['2^31 PBKDF2 iterations', { iterations: 2 ** 31 - 1 }, /2147483647 iterations; the limit is 2048/],
  ['2^64 PBKDF2 iterations', { iterations: 2n ** 64n }, /more than 2\^53 iterations/],
  [
    `${LEGACY_MAX_ITERATIONS + 1} PBKDF2 iterations`,
    { iterations: LEGACY_MAX_ITERATIONS + 1 },
    /the limit is 2048/,
  ],
  ['scrypt', { kdf: '1.3.6.1.4.1.11591.4.11' }, /key derivation is not PBKDF2/],
  ['3DES (a cipher credroam never wrote)', { cipher: '1.2.840.113549.3.7' }, /cipher is not AES-256-CBC/],
  ['HMAC-SHA-512', { prf: '1.2.840.113549.2.11' }, /HMAC-sha512/],
] as const) {
  test(`a key file of the earlier format asking for ${what} is refused before any key derivation`, async (t) => {
    const { store, file } = await setup(t);
    const item = newKey();
    await store.put(item);
    const data = craftedLegacy(crafted);
    await writeFile(file(item.id), data);
    const started = performance.now();
    const { unreadable } = await store.list();
    t.true(performance.now() - started < 2000, 'at no cost');
    t.like(unreadable[0], { kind: 'key', id: item.id });
    t.regex(unreadable[0]!.reason, reason);
    t.deepEqual(await readFile(file(item.id)), data);
  });
}

test('a key file of the earlier format holding another key than its name says is refused', async (t) => {
  const { store, file, mk } = await setup(t);
  const [a, b] = [newKey(), newKey()];
  await store.put(a);
  await writeFile(file(a.id), legacyFile(b, mk[0]!.key));
  const { items, unreadable } = await store.list();
  t.deepEqual(items, []);
  t.regex(unreadable[0]!.reason, /holds key .*not the key its name says/);
});

test('locked, a listing reports each key by its name without reading it; get says locked; nothing is lost', async (t) => {
  const { root, store } = await setup(t);
  const item = newKey();
  await store.put(item);
  const { chmod } = await import('node:fs/promises');
  const keyFile = path.join(root, 'store', 'keys', `${item.id}.p8`);
  await chmod(keyFile, 0o000); // were it read, the error would be another
  const locked = new CredentialFolderStore(path.join(root, 'store'), keyring());
  const { unreadable } = await locked.list();
  t.like(unreadable[0], { kind: 'key', id: item.id });
  t.regex(unreadable[0]!.reason, /locked/);
  await t.throwsAsync(locked.get('key', item.id), { message: /locked/ });
  t.is(await locked.get('key', newKey().id), undefined, 'a key it does not hold is not there');
  await chmod(keyFile, 0o600);
  t.deepEqual(await store.privateKey(item.id), item.content);
});

test('get reads the one item asked for: a damaged neighbour does not matter', async (t) => {
  const { store, file } = await setup(t);
  const [a, b] = [newKey(), newKey()];
  await store.put(a);
  await store.put(b);
  await writeFile(file(b.id), 'damaged');
  t.deepEqual(await store.get('key', a.id), a);
  await t.throwsAsync(store.get('key', b.id));
  t.is(await store.get('key', 'not an id'), undefined);
  t.is(await store.get('cert', a.id), undefined);
});

test('the sealing key is derived from the at-rest key, not the at-rest key itself', (t) => {
  const atRest = randomBytes(32);
  const k = sealingKey(atRest);
  t.is(k.length, 32);
  t.notDeepEqual(k, atRest);
  const item = newKey();
  const sealed = sealKey({ pkcs8: item.content, id: item.id, keyId: '0011223344556677', key: k });
  t.is(sealed.length, SEALED_KEY_HEADER + item.content.length + 16);
});

test('a key opened under one set of master keys is not served from what the store kept once the keyring holds others (locked and opened again between two listings)', async (t) => {
  const [a, b] = [masterKey(), masterKey()];
  const held: MasterKey[] = [a];
  const changing = {
    get unlocked() {
      return held.length > 0;
    },
    atRestKeys: () => [...held],
  } as unknown as Keyring;
  const root = await tempDir(t);
  const store = new CredentialFolderStore(path.join(root, 'store'), changing);
  const item = newKey();
  await store.put(item); // sealed under a
  t.deepEqual(
    (await store.list()).items.map((i) => i.id),
    [item.id],
  );
  // Locked and opened again, with no call to the store between: now only b is held.
  held.splice(0, 1, b);
  const after = await store.list();
  t.deepEqual(after.items, [], 'a key b cannot open is not listed');
  t.like(after.unreadable[0], { kind: 'key', id: item.id });
  t.regex(after.unreadable[0]!.reason, new RegExp(`master key ${a.keyId}`));
  await t.throwsAsync(store.get('key', item.id));
  await t.throwsAsync(store.privateKey(item.id));
  // a held again: it opens.
  held.splice(0, 1, a);
  t.deepEqual(await store.privateKey(item.id), item.content);
});
