import { execFile } from 'node:child_process';
import { readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { ConflictError, FolderDirectoryStore, folderFromUrl, userFolderName } from '../../src/index.js';
import { tempDir } from '../support/temp.js';

const run = promisify(execFile);
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (v: readonly Uint8Array[]) => v.map((x) => new TextDecoder().decode(x)).sort();
const writer = fileURLToPath(new URL('../../../test/fixtures/folder-writer.mjs', import.meta.url));

test('an empty folder reads as an empty entry', async (t) => {
  const store = new FolderDirectoryStore(await tempDir(t), 'alice');
  t.deepEqual(await store.read(), { stamp: [], tokens: [], keys: [] });
  t.deepEqual(await store.readStamp(), []);
});

test('a write removes exact values and adds new ones; files are owner-only', async (t) => {
  const root = await tempDir(t);
  const store = new FolderDirectoryStore(root, 'alice');
  await store.write({
    tokens: { remove: [], add: [enc('t1'), enc('t2')] },
    keys: { remove: [], add: [enc('k')] },
    stamp: { remove: [], add: [enc('s1')] },
  });
  await store.write({
    tokens: { remove: [enc('t1')], add: [enc('t3')] },
    stamp: { remove: [enc('s1')], add: [enc('s2')] },
  });
  const snap = await store.read();
  t.deepEqual(dec(snap.tokens), ['t2', 't3']);
  t.deepEqual(dec(snap.keys), ['k']);
  t.deepEqual(dec(snap.stamp), ['s2']);
  t.is((await stat(store.dir)).mode & 0o777, 0o700);
  for (const f of ['values', 'stamp']) t.is((await stat(path.join(store.dir, f))).mode & 0o777, 0o600);
  t.deepEqual(
    (await readdir(store.dir)).filter((f) => f.endsWith('.tmp')),
    [],
    'no temporary files left',
  );
});

test('a write whose value to remove is gone fails with ConflictError and applies nothing', async (t) => {
  const store = new FolderDirectoryStore(await tempDir(t), 'alice');
  await store.write({ tokens: { remove: [], add: [enc('t1')] }, stamp: { remove: [], add: [enc('s1')] } });
  const error = await t.throwsAsync(
    store.write({
      tokens: { remove: [enc('t1')], add: [enc('t2')] },
      stamp: { remove: [enc('stale')], add: [enc('s2')] },
    }),
  );
  t.true(error instanceof ConflictError);
  const snap = await store.read();
  t.deepEqual(dec(snap.tokens), ['t1']);
  t.deepEqual(dec(snap.stamp), ['s1']);
});

test('a write whose value to add is already there (a concurrent first upload) fails with ConflictError and applies nothing', async (t) => {
  const store = new FolderDirectoryStore(await tempDir(t), 'alice');
  await store.write({ tokens: { remove: [], add: [enc('t1')] }, stamp: { remove: [], add: [enc('s1')] } });
  const error = await t.throwsAsync(
    store.write({
      tokens: { remove: [], add: [enc('t2'), enc('t1')] },
      stamp: { remove: [], add: [enc('s2')] },
    }),
  );
  t.true(error instanceof ConflictError);
  const snap = await store.read();
  t.deepEqual(dec(snap.tokens), ['t1']);
  t.deepEqual(dec(snap.stamp), ['s1']);
});

test('several processes writing at once: every write lands, the stamp ends as one value', async (t) => {
  const root = await tempDir(t);
  const results = await Promise.all(
    ['w1', 'w2', 'w3', 'w4'].map((w) => run(process.execPath, [writer, root, 'alice', w, '15'])),
  );
  const snap = await new FolderDirectoryStore(root, 'alice').read();
  t.is(snap.tokens.length, 60);
  t.is(snap.stamp.length, 1);
  const conflicts = results.reduce(
    (n, r) => n + (JSON.parse(r.stdout) as { conflicts: number }).conflicts,
    0,
  );
  t.log(`compare-and-swap conflicts seen across processes: ${conflicts}`);
});

test('a link planted at the values file is not followed', async (t) => {
  const root = await tempDir(t);
  const store = new FolderDirectoryStore(root, 'alice');
  await store.write({ tokens: { remove: [], add: [enc('t1')] }, stamp: { remove: [], add: [enc('s1')] } });
  const target = path.join(root, 'elsewhere');
  await writeFile(target, JSON.stringify({ tokens: [], keys: [] }));
  const values = path.join(store.dir, 'values');
  await (await import('node:fs/promises')).rm(values);
  await symlink(target, values);
  await t.throwsAsync(store.read(), { code: 'ELOOP' } as never);
  await t.throwsAsync(
    store.write({
      tokens: { remove: [], add: [enc('t2')] },
      stamp: { remove: [enc('s1')], add: [enc('s2')] },
    }),
  );
  t.is(
    await readFile(target, 'utf8'),
    JSON.stringify({ tokens: [], keys: [] }),
    'the link target is untouched',
  );
});

test('user names never become paths; only file: URLs are accepted', (t) => {
  t.is(userFolderName('alice'), 'alice');
  t.regex(userFolderName('../../etc'), /^u-[0-9a-f]{64}$/);
  t.regex(userFolderName('uid=alice,ou=people,dc=example,dc=org'), /^u-[0-9a-f]{64}$/);
  t.is(folderFromUrl(pathToFileURL('/srv/credroam').href), '/srv/credroam');
  t.throws(() => folderFromUrl('ldap://example.org'), {
    message: "the folder directory URL 'ldap://example.org' is not a file: URL",
  });
  t.throws(() => folderFromUrl(undefined), { message: /needs settings.url/ });
});

test("a link planted at the user's folder is not followed: reads and writes refuse it with E_DIRECTORY naming it", async (t) => {
  const root = await tempDir(t);
  const elsewhere = path.join(root, 'elsewhere');
  await (await import('node:fs/promises')).mkdir(elsewhere);
  await writeFile(path.join(elsewhere, 'values'), JSON.stringify({ tokens: [], keys: [] }));
  const store = new FolderDirectoryStore(root, 'alice');
  await symlink(elsewhere, store.dir);
  for (const attempt of [
    () => store.read(),
    () => store.readStamp(),
    () => store.write({ tokens: { remove: [], add: [enc('t1')] }, stamp: { remove: [], add: [enc('s1')] } }),
  ]) {
    const error = await t.throwsAsync(attempt(), { code: 'E_DIRECTORY' } as never);
    t.regex(error?.message ?? '', new RegExp(`${store.dir} is a link`));
  }
  t.deepEqual(await readdir(elsewhere), ['values'], 'nothing was written through the link');
});
