import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, open, rename, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { readPkcs12 } from '../src/formats/pkcs12.js';
import { CredentialFolderStore } from '../src/index.js';
import { RevisionMemo } from '../src/store/revision-memo.js';
import { folderKeyring, opensslCredential, tempDir } from './support.js';

/** A memo over `root` and its `certs/` (made), with a compute that counts its calls. */
async function counted(t: Parameters<typeof tempDir>[0], options: { now?: () => number } = {}) {
  const root = await tempDir(t);
  await mkdir(path.join(root, 'certs'));
  const memo = new RevisionMemo(() => [root, path.join(root, 'certs'), path.join(root, 'archived')], options);
  t.teardown(() => memo.close());
  let computed = 0;
  const revision = () => memo.revision(async () => `r${++computed}`);
  return { root, memo, revision, computed: () => computed };
}

/** Asks until a fresh revision is computed (inotify reports a change asynchronously); fails after 5 s. */
async function recomputedAfter(
  t: { fail(message: string): void },
  m: { revision(): Promise<string>; computed(): number },
  before: number,
): Promise<boolean> {
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    await m.revision();
    if (m.computed() > before) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  t.fail('the change was not seen within 5 s');
  return false;
}

test('a revision is computed once while nothing changes, and again after each kind of change', async (t) => {
  const m = await counted(t);
  t.is(await m.revision(), 'r1');
  t.is(await m.revision(), 'r1');
  t.is(await m.revision(), 'r1');
  t.is(m.computed(), 1);

  const file = path.join(m.root, 'certs', 'a.der');
  await writeFile(file, 'one');
  t.true(await recomputedAfter(t, m, 1), 'a file made');
  let n = m.computed();
  t.is(await m.revision(), `r${n}`, 'remembered again after the change');

  // Rewritten in place, same size, its modification time put back: still a change.
  const before = await stat(file);
  const h = await open(file, 'r+');
  await h.write('two', 0);
  await h.close();
  await utimes(file, before.atime, before.mtime);
  t.true(await recomputedAfter(t, m, n), 'a file rewritten in place');

  n = m.computed();
  await chmod(file, 0o644);
  t.true(await recomputedAfter(t, m, n), 'a mode changed');

  n = m.computed();
  await rename(file, path.join(m.root, 'certs', 'b.der'));
  t.true(await recomputedAfter(t, m, n), 'a file renamed');

  // A folder made after the watches were armed: seen by the store's folder, then watched itself.
  n = m.computed();
  await mkdir(path.join(m.root, 'archived'));
  t.true(await recomputedAfter(t, m, n), 'a folder made');
  n = m.computed();
  await writeFile(path.join(m.root, 'archived', 'c.der'), 'three');
  t.true(await recomputedAfter(t, m, n), 'a file in the new folder');
});

test('a folder replaced by a link is seen, and the link is not watched through', async (t) => {
  const m = await counted(t);
  const elsewhere = await tempDir(t);
  await m.revision();
  await rename(path.join(m.root, 'certs'), path.join(m.root, 'old-certs'));
  await symlink(elsewhere, path.join(m.root, 'certs'));
  t.true(await recomputedAfter(t, m, 1), 'the folder replaced');
  const n = m.computed();
  await m.revision();
  // A write in the link's target is no change of the store (which refuses the link anyway).
  await writeFile(path.join(elsewhere, 'x.der'), 'x');
  await new Promise((r) => setTimeout(r, 300));
  await m.revision();
  t.is(m.computed(), n);
});

test('nothing is remembered without the store’s folder, for longer than its age, or after forget and close', async (t) => {
  let now = 1_000_000;
  const m = await counted(t, { now: () => now });
  await m.revision();
  now += 29_000;
  await m.revision();
  t.is(m.computed(), 1);
  now += 2_000; // past REVISION_MEMO_MS (30 s): a change no watch saw is found then
  await m.revision();
  t.is(m.computed(), 2);

  m.memo.forget();
  await m.revision();
  t.is(m.computed(), 3);
  m.memo.close();
  await m.revision();
  t.is(m.computed(), 4);

  const root = path.join(await tempDir(t), 'not-yet');
  const memo = new RevisionMemo(() => [root]);
  t.teardown(() => memo.close());
  let computed = 0;
  await memo.revision(async () => `r${++computed}`);
  await memo.revision(async () => `r${++computed}`);
  t.is(computed, 2, 'no folder to watch: computed every time');
});

test('the store’s revision moves with another program’s change of a file, and with its own writes at once', async (t) => {
  const root = await tempDir(t);
  const keyring = await folderKeyring(root);
  const store = new CredentialFolderStore(path.join(root, 'store'), keyring);
  t.teardown(() => store.close());
  const c = await opensslCredential(root);
  const [cred] = (await readPkcs12(c.p12, 'p12-secret')).credentials;
  const id = createHash('sha256').update(cred!.cert).digest('hex');
  await store.put({ kind: 'cert', id, content: cred!.cert, archived: false, modified: 1_700_000_000_000 });
  const r1 = await store.revision();
  t.is(await store.revision(), r1);

  // Its own write: a new revision right away, with no watch event awaited.
  await store.put({ kind: 'key', id: c.spkiSha256, content: cred!.key!, archived: false, modified: 1 });
  const r2 = await store.revision();
  t.not(r2, r1);

  // Another program overwrites the certificate in place with bytes of the same length.
  const file = path.join(root, 'store', 'certs', `${id}.der`);
  const h = await open(file, 'r+');
  await h.write(Buffer.from([0]), 0, 1, 10);
  await h.close();
  const deadline = Date.now() + 5_000;
  let r3 = await store.revision();
  while (r3 === r2 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    r3 = await store.revision();
  }
  t.not(r3, r2, 'the in-place change moved the revision');
});

test('a change another program made before the call is seen by that call, not a later one', async (t) => {
  const m = await counted(t);
  const file = path.join(m.root, 'certs', 'a.der');
  await writeFile(file, 'a');
  await m.revision();
  for (let i = 0; i < 20; i++) {
    const before = m.computed();
    await m.revision();
    t.is(m.computed(), before, 'nothing changed: remembered');
    // Another process changes a file and has ended before the store is asked.
    execFileSync('chmod', [i % 2 === 0 ? '0644' : '0600', file]);
    await m.revision();
    t.is(m.computed(), before + 1, `change ${i} seen at once`);
  }
});
