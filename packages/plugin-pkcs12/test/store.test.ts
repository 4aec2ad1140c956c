import { createHash, X509Certificate } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FolderDirectoryStore } from '@credroam/core';
import test from 'ava';
import { readPkcs12 } from '../src/formats/pkcs12.js';
import { CredentialFolderStore, Keyring } from '../src/index.js';
import { opensslCredential, tempDir } from './support.js';

const sha256 = (d: Uint8Array) => createHash('sha256').update(d).digest('hex');

async function setup(t: Parameters<typeof tempDir>[0], unlock = true) {
  const root = await tempDir(t);
  await mkdir(path.join(root, 'dir'));
  const keyring = new Keyring({
    user: 'alice',
    directory: new FolderDirectoryStore(path.join(root, 'dir'), 'alice'),
    cacheFile: path.join(root, 'keys.json'),
    policy: { kdf: { name: 'scrypt', N: 2 ** 14, r: 8, p: 1 } },
  });
  if (unlock) await keyring.unlock('pw');
  const store = new CredentialFolderStore(path.join(root, 'store'), keyring);
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
  return { root, keyring, store, c, certItem, keyItem };
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

test('a certificate copied into the store by another tool (PEM) is picked up, its id from its content', async (t) => {
  const { root, store, c } = await setup(t);
  await mkdir(path.join(root, 'store', 'certs'), { recursive: true });
  await writeFile(path.join(root, 'store', 'certs', 'copied-in.pem'), c.certPem);
  const { items } = await store.list();
  t.is(items.length, 1);
  t.is(items[0]!.id, c.fingerprint);
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

test('archived certificates live apart and list as archived', async (t) => {
  const { root, store, certItem } = await setup(t);
  await store.put(certItem);
  await store.put({ ...certItem, archived: true });
  const { items } = await store.list();
  t.is(items.length, 1);
  t.true(items[0]!.archived);
  t.deepEqual(await readdir(path.join(root, 'store', 'certs')), []);
});
