import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import {
  chmod,
  lstat,
  mkdir,
  readdir,
  readFile,
  rename,
  symlink,
  truncate,
  utimes,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import { EventId, EventLog, type LogRecord } from '@credroam/core';
import { HOSTILE_CERTIFICATES, makeHostileCertificate } from '@credroam/core/testing';
import test from 'ava';
import { readPkcs12 } from '../src/formats/pkcs12.js';
import { CredentialFolderStore } from '../src/index.js';
import { folderKeyring, opensslCredential, tempDir } from './support.js';

const sha256 = (d: Uint8Array) => createHash('sha256').update(d).digest('hex');

async function setup(t: Parameters<typeof tempDir>[0], unlock = true) {
  const root = await tempDir(t);
  const keyring = await folderKeyring(root, unlock);
  const events: LogRecord[] = [];
  const logger = new EventLog({ write: () => undefined });
  logger.subscribe((r) => events.push(r));
  const store = new CredentialFolderStore(path.join(root, 'store'), keyring, { logger });
  const c = await opensslCredential(root);
  const [cred] = (await readPkcs12(c.p12, 'p12-secret')).credentials;
  const certItem = {
    kind: 'cert' as const,
    id: sha256(cred!.cert),
    content: cred!.cert,
    archived: false,
    modified: 1_700_000_000_000,
  };
  const keyItem = {
    kind: 'key' as const,
    id: c.spkiSha256,
    content: cred!.key!,
    archived: false,
    modified: 1_700_000_000_000,
  };
  return { root, keyring, store, c, certItem, keyItem, events };
}

test('a credential put in the store lists back the same, in standard files, owner-only', async (t) => {
  const { store, certItem, keyItem, root } = await setup(t);
  await store.put(certItem);
  await store.put(keyItem);
  const { items, unreadable } = await store.list();
  t.deepEqual(unreadable, []);
  t.deepEqual(
    items.find((i) => i.kind === 'cert'),
    certItem,
  );
  t.deepEqual(
    items.find((i) => i.kind === 'key'),
    keyItem,
  );
  const certFile = path.join(root, 'store', 'certs', `${certItem.id}.der`);
  t.is(
    new X509Certificate(await readFile(certFile)).fingerprint256.replace(/:/g, '').toLowerCase(),
    certItem.id,
  );
  const keyFile = await readFile(path.join(root, 'store', 'keys', `${keyItem.id}.p8`));
  t.false(
    keyFile.includes(Buffer.from(keyItem.content).subarray(-32)),
    'the private key is not stored in clear',
  );
  for (const f of [certFile, path.join(root, 'store', 'keys', `${keyItem.id}.p8`)])
    t.is((await lstat(f)).mode & 0o777, 0o600);
  t.is((await lstat(path.join(root, 'store', 'keys'))).mode & 0o777, 0o700);
});

test('without the keys unlocked, private keys are reported (with their ids), not guessed and not lost', async (t) => {
  const { root, store, certItem, keyItem } = await setup(t);
  await store.put(certItem);
  await store.put(keyItem);
  const locked = new CredentialFolderStore(path.join(root, 'store'), undefined);
  const { items, unreadable } = await locked.list();
  t.is(items.length, 1);
  t.is(unreadable.length, 1);
  t.like(unreadable[0], { kind: 'key', id: keyItem.id });
  t.regex(unreadable[0]!.reason, /locked/);
});

test('a file it cannot read is reported and left untouched; a link is not followed', async (t) => {
  const { root, store, certItem } = await setup(t);
  await store.put(certItem);
  await writeFile(path.join(root, 'store', 'certs', 'garbage.der'), 'not a certificate');
  await writeFile(path.join(root, 'outside.der'), Buffer.from(certItem.content));
  await symlink(path.join(root, 'outside.der'), path.join(root, 'store', 'certs', 'link.der'));
  const { items, unreadable } = await store.list();
  t.is(items.length, 1);
  t.deepEqual(unreadable.map((u) => u.name).sort(), ['certs/garbage.der', 'certs/link.der']);
  t.regex(unreadable.find((u) => u.name === 'certs/link.der')!.reason, /link: not followed/);
  t.deepEqual(
    (await readdir(path.join(root, 'store', 'certs'))).sort(),
    [`${certItem.id}.der`, 'garbage.der', 'link.der'].sort(),
  );
});

test('a FIFO or a device planted in the store is reported as not a regular file, and the listing does not block on it', async (t) => {
  const { root, store, certItem } = await setup(t);
  await store.put(certItem);
  const certs = path.join(root, 'store', 'certs');
  await new Promise<void>((resolve, reject) =>
    execFile('mkfifo', [path.join(certs, 'fifo.der')], (error) => (error ? reject(error) : resolve())),
  );
  await symlink('/dev/zero', path.join(certs, 'zero.der')); // a link: refused before it is opened
  const { items, unreadable } = await store.list();
  t.deepEqual(
    items.map((i) => i.id),
    [certItem.id],
  );
  t.regex(unreadable.find((u) => u.name === 'certs/fifo.der')!.reason, /not a regular file/);
  t.regex(unreadable.find((u) => u.name === 'certs/zero.der')!.reason, /link: not followed/);
});

test('a huge file dropped in the store is refused unread: no memory for it, no long block of the event loop', async (t) => {
  const { root, store, certItem } = await setup(t);
  await store.put(certItem);
  const big = path.join(root, 'store', 'certs', 'huge.der');
  await writeFile(big, '');
  await truncate(big, 1024 * 1024 * 1024); // sparse: 1 GiB on no disk
  const started = Date.now();
  const { items, unreadable } = await store.list();
  t.deepEqual(
    items.map((i) => i.id),
    [certItem.id],
  );
  t.regex(unreadable.find((u) => u.name === 'certs/huge.der')!.reason, /not read/);
  t.true(Date.now() - started < 2000);
});

test('a certificate copied into the store by another tool (PEM) is picked up, its id from its content', async (t) => {
  const { root, store, c } = await setup(t);
  await mkdir(path.join(root, 'store', 'certs'), { recursive: true });
  await writeFile(path.join(root, 'store', 'certs', 'copied-in.pem'), c.certPem);
  const { items } = await store.list();
  t.is(items.length, 1);
  t.is(items[0]!.id, c.fingerprint);
});

test('certificates OpenSSL reads but Node cannot fully describe are listed, put, inventoried and removed like any other', async (t) => {
  const { root, store } = await setup(t);
  await mkdir(path.join(root, 'store', 'certs'), { recursive: true });
  const made = [];
  for (const kind of HOSTILE_CERTIFICATES) made.push(await makeHostileCertificate(root, kind));
  // One copied in as PEM by another tool, the others put as the engine does.
  await writeFile(path.join(root, 'store', 'certs', 'copied-in.pem'), await readFile(made[0]!.pem));
  for (const m of made.slice(1)) {
    const content = new Uint8Array(await readFile(m.der));
    await store.put({ kind: 'cert', id: m.sha256, content, archived: false, modified: 1_700_000_000_000 });
  }
  const ids = made.map((m) => m.sha256).sort();
  const { items, unreadable } = await store.list();
  t.deepEqual(unreadable, []);
  t.deepEqual(items.map((i) => i.id).sort(), ids);
  t.deepEqual((await store.inventory()).map((i) => i.id).sort(), ids);
  for (const id of ids) await store.remove('cert', id);
  t.deepEqual((await store.list()).items, []);
});

test('remove keeps a copy in removed/ until the given time; the revision changes with every change', async (t) => {
  const { root, store, certItem, keyItem } = await setup(t);
  const r0 = await store.revision();
  await store.put(certItem);
  await store.put(keyItem);
  const r1 = await store.revision();
  t.not(r1, r0);
  await store.list();
  const keepUntil = Date.now() + 86_400_000;
  await store.remove('cert', certItem.id, { keepUntil });
  await store.remove('key', keyItem.id, { keepUntil });
  t.not(await store.revision(), r1);
  t.deepEqual((await store.list()).items, []);
  t.deepEqual((await readdir(path.join(root, 'store', 'removed'))).sort(), [
    `${keepUntil}-cert-${certItem.id}.der`,
    `${keepUntil}-key-${keyItem.id}.p8`,
  ]);
});

test('the revision moves when a file changes behind the store with its name, size and time kept (its mode, or its bytes with the old time restored)', async (t) => {
  const { root, store, certItem, keyItem } = await setup(t);
  await store.put(certItem);
  await store.put(keyItem);
  const keyFile = path.join(root, 'store', 'keys', `${keyItem.id}.p8`);
  const r0 = await store.revision();
  await chmod(keyFile, 0o000);
  const r1 = await store.revision();
  t.not(r1, r0, 'a key made unreadable is a change');
  await chmod(keyFile, 0o600);
  const certFile = path.join(root, 'store', 'certs', `${certItem.id}.der`);
  const before = await lstat(certFile);
  const bytes = await readFile(certFile);
  bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 1, bytes.length - 1);
  await writeFile(certFile, bytes);
  await utimes(certFile, before.atime, before.mtime);
  t.not(await store.revision(), r1, 'same name, size and modification time: still a change');
});

test('a listing opens again only what changed, and sees a file rewritten in place with its old time restored', async (t) => {
  const { root, store, certItem, keyItem, keyring } = await setup(t);
  await store.put(certItem);
  await store.put(keyItem);
  const first = await store.list();
  t.is(first.items.length, 2);
  // The same name, bytes that are not a certificate, the old modification time: a changed file.
  const certFile = path.join(root, 'store', 'certs', `${certItem.id}.der`);
  const before = await lstat(certFile);
  const damaged = Buffer.alloc(Number(before.size), 0x41);
  await writeFile(certFile, damaged);
  await utimes(certFile, before.atime, before.mtime);
  const second = await store.list();
  t.like(second.unreadable[0], { name: `certs/${certItem.id}.der` });
  t.deepEqual(
    second.items.map((i) => i.kind),
    ['key'],
  );
  // Put back: listed again as it was. A locked keyring lists the key from its name only.
  await store.put(certItem);
  t.deepEqual((await store.list()).items.map((i) => i.id).sort(), [certItem.id, keyItem.id].sort());
  keyring.lock();
  const locked = await store.list();
  t.deepEqual(
    locked.items.map((i) => i.kind),
    ['cert'],
  );
  t.like(locked.unreadable[0], { kind: 'key', id: keyItem.id });
});

test('archived certificates live apart and list as archived', async (t) => {
  const { root, store, certItem } = await setup(t);
  await store.put(certItem);
  await store.put({ ...certItem, archived: true });
  const { items } = await store.list();
  t.is(items.length, 1);
  t.true(items[0]!.archived);
  t.deepEqual(await readdir(path.join(root, 'store', 'certs')), []);
});

const FOLDERS = ['certs', 'archived', 'keys', 'removed'] as const;

test('a link where a store folder should be is not followed: nothing is written or read through it, the error and an event name it', async (t) => {
  for (const folder of FOLDERS) {
    const { root, store, certItem, keyItem, events } = await setup(t);
    await store.put(certItem);
    await store.put(keyItem);
    await store.put({ ...certItem, archived: true });
    await store.put(certItem);
    const elsewhere = path.join(root, `elsewhere-${folder}`);
    await mkdir(elsewhere);
    const linked = path.join(root, 'store', folder);
    await rename(linked, path.join(root, `moved-${folder}`)).catch(() => undefined);
    await symlink(elsewhere, linked);
    // What the link points to is not the store's: never listed as the user's credentials.
    await writeFile(path.join(elsewhere, 'planted.der'), certItem.content);

    const attempts: Array<() => Promise<unknown>> = [
      () =>
        store.remove(folder === 'keys' ? 'key' : 'cert', folder === 'keys' ? keyItem.id : certItem.id, {
          keepUntil: Date.now() + 1000,
        }),
    ];
    if (folder === 'keys') attempts.push(() => store.put(keyItem));
    if (folder === 'certs' || folder === 'archived')
      attempts.push(() => store.put({ ...certItem, archived: folder === 'archived' }));
    for (const attempt of attempts) {
      const error = await t.throwsAsync(attempt(), { code: 'E_STORE_LINK' } as never, folder);
      t.true(error?.message.includes(linked), `${folder}: ${error?.message}`);
      t.regex(error?.message ?? '', /is a link.*nothing was written/, folder);
    }
    t.deepEqual(await readdir(elsewhere), ['planted.der'], `${folder}: nothing was written through the link`);
    t.true(
      events.some((e) => e.event === EventId.StoreFolderRefused && e.path === linked),
      `${folder}: event 1032 names the link`,
    );
    if (folder !== 'removed') {
      const { items, unreadable } = await store.list();
      t.true(
        unreadable.some((u) => u.name === folder && /is a link/.test(u.reason)),
        folder,
      );
      const kind = folder === 'keys' ? 'key' : 'cert';
      const fromLink = items.filter((i) => i.kind === kind && (folder === 'archived') === i.archived);
      t.deepEqual(fromLink, [], `${folder}: nothing listed through the link`);
    }
  }
});

test('a link at the store folder itself is refused with a clear error, nothing written through it', async (t) => {
  const { root, store, certItem } = await setup(t);
  await mkdir(path.join(root, 'elsewhere'));
  await symlink(path.join(root, 'elsewhere'), path.join(root, 'store'));
  await t.throwsAsync(store.put(certItem), { code: 'E_STORE_LINK', message: /store is a link/ } as never);
  await t.throwsAsync(store.list(), { code: 'E_STORE_LINK' } as never);
  t.deepEqual(await readdir(path.join(root, 'elsewhere')), []);
});

test('wrong modes on store files and folders are made owner-only by the next listing, each with an event naming it', async (t) => {
  const { root, store, certItem, keyItem, events } = await setup(t);
  await store.put(certItem);
  await store.put(keyItem);
  const keyFile = path.join(root, 'store', 'keys', `${keyItem.id}.p8`);
  const certFile = path.join(root, 'store', 'certs', `${certItem.id}.der`);
  await chmod(keyFile, 0o644);
  await chmod(certFile, 0o666);
  await chmod(path.join(root, 'store'), 0o755);
  await chmod(path.join(root, 'store', 'keys'), 0o777);
  const { items } = await store.list();
  t.is(items.length, 2);
  for (const [file, mode] of [
    [keyFile, 0o600],
    [certFile, 0o600],
    [path.join(root, 'store'), 0o700],
    [path.join(root, 'store', 'keys'), 0o700],
  ] as const) {
    t.is((await lstat(file)).mode & 0o777, mode, file);
    const event = events.find((e) => e.event === EventId.StoreModeRepaired && e.path === file);
    t.truthy(event, `an event names ${file}`);
  }
  t.regex(
    events.find((e) => e.path === keyFile)?.message ?? '',
    /keys\/[0-9a-f]{64}\.p8 was mode 0644: made owner-only \(0600\)/,
  );
  const before = events.length;
  await store.list();
  t.is(events.length, before, 'nothing to repair the second time');
});

test('a write makes the folder it writes to owner-only, with an event', async (t) => {
  const { root, store, keyItem, events } = await setup(t);
  await store.put(keyItem);
  await chmod(path.join(root, 'store', 'keys'), 0o755);
  await store.put(keyItem);
  t.is((await lstat(path.join(root, 'store', 'keys'))).mode & 0o777, 0o700);
  t.true(events.some((e) => e.event === EventId.StoreModeRepaired));
});

test('the keys a listing opened are forgotten when the keyring is locked, not at the next call: opened again after logon', async (t) => {
  const { store, certItem, keyItem, keyring } = await setup(t);
  await store.put(certItem);
  await store.put(keyItem);
  const opened = (await store.list()).items.find((i) => i.kind === 'key')!.content;
  t.is((await store.list()).items.find((i) => i.kind === 'key')!.content, opened, 'kept while unlocked');
  // Locked, and opened again with no call to the store between: what it kept is gone.
  keyring.lock();
  await keyring.unlock('pw');
  const again = (await store.list()).items.find((i) => i.kind === 'key')!.content;
  t.not(again, opened);
  t.deepEqual(again, keyItem.content);
});
