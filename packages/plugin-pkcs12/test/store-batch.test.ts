import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { LocalItem } from '@credroam/core';
import { decodeCredentialAttributes, encodeCredentialAttributes } from '@credroam/core/kit';
import test, { type ExecutionContext } from 'ava';
import { CredentialFolderStore } from '../src/index.js';
import { tempDir } from './support.js';

const T0 = 1_700_000_000_000;
const STORE = new URL('../src/index.js', import.meta.url).href;
const KIT = import.meta.resolve('@credroam/core/kit');

/** Attributes of certificate `id` named `name`: an item whose content changes under one id. */
const attrs = (id: string, name: string): LocalItem => ({
  kind: 'attrs',
  id,
  content: encodeCredentialAttributes({ cert: id, friendlyName: name, chain: [] }),
  archived: false,
  modified: T0,
});

/**
 * A process that writes `count` attributes named `name` as one batch (`durable: false`), says
 * `written`, optionally waits, flushes, and says `flushed`: the write side of a sync, to be killed.
 */
function batchWriter(root: string, ids: readonly string[], name: string, pauseMs: number) {
  const script = `
    import { CredentialFolderStore } from ${JSON.stringify(STORE)};
    import { encodeCredentialAttributes } from ${JSON.stringify(KIT)};
    const ids = ${JSON.stringify(ids)};
    const store = new CredentialFolderStore(${JSON.stringify(root)}, undefined);
    for (const id of ids) {
      const content = encodeCredentialAttributes({ cert: id, friendlyName: ${JSON.stringify(name)}, chain: [] });
      await store.put({ kind: 'attrs', id, content, archived: false, modified: ${T0} }, { durable: false });
    }
    process.stdout.write('written\\n');
    await new Promise((r) => setTimeout(r, ${pauseMs}));
    await store.flush();
    process.stdout.write('flushed\\n');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const said = (word: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => (out.includes(word) ? resolve() : undefined);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        check();
      });
      child.once('exit', () => (out.includes(word) ? resolve() : reject(new Error(`exited before ${word}`))));
    });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return { child, said, exited };
}

/** Names by id in the store: every item whole and listed once, or the test fails. */
async function names(t: ExecutionContext, store: CredentialFolderStore): Promise<Map<string, string>> {
  const { items, unreadable } = await store.list();
  t.deepEqual(unreadable, [], 'nothing half-written');
  const out = new Map<string, string>();
  for (const i of items) {
    t.false(out.has(i.id));
    out.set(i.id, decodeCredentialAttributes(i.content).friendlyName ?? '');
  }
  return out;
}

test('a batch is listed only once flushed; the flush leaves no temporary file', async (t) => {
  const root = path.join(await tempDir(t), 'store');
  const store = new CredentialFolderStore(root, undefined);
  const ids = Array.from({ length: 20 }, () => randomBytes(32).toString('hex'));
  for (const id of ids) await store.put(attrs(id, 'v1'));
  const r0 = await store.revision();
  for (const id of ids) await store.put(attrs(id, 'v2'), { durable: false });
  t.is(await store.revision(), r0, 'nothing in place before the flush');
  t.true([...(await names(t, store)).values()].every((n) => n === 'v1'));
  await store.flush();
  t.not(await store.revision(), r0);
  t.true([...(await names(t, store)).values()].every((n) => n === 'v2'));
  t.deepEqual(
    (await readdir(path.join(root, 'attrs'))).filter((n) => n.startsWith('.')),
    [],
  );
});

test('kill -9 between the writes of a batch and its flush: every item as it was, the next listing whole', async (t) => {
  const root = path.join(await tempDir(t), 'store');
  const store = new CredentialFolderStore(root, undefined);
  const ids = Array.from({ length: 50 }, () => randomBytes(32).toString('hex'));
  for (const id of ids) await store.put(attrs(id, 'old'));
  const writer = batchWriter(root, ids, 'new', 60_000);
  await writer.said('written');
  writer.child.kill('SIGKILL');
  await writer.exited;
  const found = await names(t, store);
  t.is(found.size, ids.length);
  t.true([...found.values()].every((n) => n === 'old'));
  // The temporary files it left are removed by a listing once they are old.
  const dir = path.join(root, 'attrs');
  const left = (await readdir(dir)).filter((n) => n.startsWith('.'));
  t.is(left.length, ids.length, 'its temporary files, not listed');
  const later = new CredentialFolderStore(root, undefined, { now: () => Date.now() + 3_600_000 });
  await later.list();
  t.deepEqual(
    (await readdir(dir)).filter((n) => n.startsWith('.')),
    [],
  );
});

test('kill -9 at any instant of a batch and its flush: each item old or new, whole, listed once; a later batch converges', async (t) => {
  const root = path.join(await tempDir(t), 'store');
  const store = new CredentialFolderStore(root, undefined);
  const ids = Array.from({ length: 400 }, () => randomBytes(32).toString('hex'));
  for (const id of ids) await store.put(attrs(id, 'gen0'), { durable: false });
  await store.flush();
  const seen = new Set<string>();
  for (let round = 1; round <= 6; round++) {
    const writer = batchWriter(root, ids, `gen${round}`, 0);
    await writer.said('written').catch(() => undefined);
    // Somewhere in the flush (or just before or after it).
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 40 * round)));
    writer.child.kill('SIGKILL');
    await writer.exited;
    const found = await names(t, store);
    t.is(found.size, ids.length, `round ${round}: every item listed`);
    for (const n of found.values()) {
      t.true(n === `gen${round - 1}` || n === `gen${round}` || seen.has(n), `round ${round}: ${n}`);
      seen.add(n);
    }
    // What this round did not finish, the next one writes over (the sync that follows a kill).
    for (const id of ids) await store.put(attrs(id, `gen${round}`), { durable: false });
    await store.flush();
    t.true([...(await names(t, store)).values()].every((n) => n === `gen${round}`));
  }
});

test('a temporary file is removed only once old: a write in progress in another process is left alone', async (t) => {
  const root = path.join(await tempDir(t), 'store');
  const store = new CredentialFolderStore(root, undefined);
  const id = randomBytes(32).toString('hex');
  await store.put(attrs(id, 'v1'));
  const tmp = path.join(root, 'attrs', `.${id}.json.${randomBytes(6).toString('hex')}.tmp`);
  await writeFile(tmp, 'in progress');
  await utimes(tmp, new Date(0), new Date(0)); // an old modification time: the change time is what counts
  await store.list();
  t.true((await readdir(path.join(root, 'attrs'))).includes(path.basename(tmp)));
});

test('a write made while a batch is being written (an import in the agent during a sync) makes the held writes take effect; none is lost or left as a temporary file', async (t) => {
  const root = path.join(await tempDir(t), 'store');
  const store = new CredentialFolderStore(root, undefined);
  const first = randomBytes(32).toString('hex');
  await store.put(attrs(first, 'held'), { durable: false }); // the batch has begun, attrs/ checked
  for (let round = 0; round < 5; round++) {
    const ids = Array.from({ length: 32 }, () => randomBytes(32).toString('hex'));
    // The sync's writes, several in flight at once (write-side.ts holds 16).
    const held = Promise.all(ids.map((id) => store.put(attrs(id, 'held'), { durable: false })));
    // Another request's durable write lands while some of them are in the middle of their files.
    while (!(await readdir(path.join(root, 'attrs'))).some((n) => n.endsWith('.tmp'))) {
      await new Promise((r) => setImmediate(r));
    }
    const imported = randomBytes(32).toString('hex');
    await store.put(attrs(imported, 'imported'));
    await t.notThrowsAsync(held, `round ${round}: every held write accepted`);
    await store.flush(); // the sync's own flush, before it saves its base
    const found = await names(t, store);
    for (const id of ids) t.is(found.get(id), 'held', `round ${round}: ${id.slice(0, 8)} in place`);
    t.is(found.get(imported), 'imported');
    t.deepEqual(
      (await readdir(path.join(root, 'attrs'))).filter((n) => n.startsWith('.')),
      [],
      `round ${round}: no temporary file left`,
    );
  }
});

test('held writes that another write failed to make take effect are reported by the holder’s own flush, once', async (t) => {
  const root = path.join(await tempDir(t), 'store');
  const store = new CredentialFolderStore(root, undefined);
  const [held, blocked, other] = Array.from({ length: 3 }, () => randomBytes(32).toString('hex'));
  await store.put(attrs(held!, 'held'), { durable: false });
  await store.put(attrs(blocked!, 'held'), { durable: false });
  // Its target cannot be replaced: the commit fails after the first rename.
  await mkdir(path.join(root, 'attrs', `${blocked}.json`));
  await t.throwsAsync(store.put(attrs(other!, 'imported')));
  // The sync that held them must not save a base that says they were written.
  await t.throwsAsync(store.flush());
  await t.notThrowsAsync(store.flush(), 'reported once');
  t.deepEqual(
    (await readdir(path.join(root, 'attrs'))).filter((n) => n.startsWith('.')),
    [],
    'no temporary file left',
  );
});

test('writes held back and then discarded (a sync whose lock was lost) never take effect: no temporary file stays, and a later write or flush applies none of them', async (t) => {
  const root = path.join(await tempDir(t), 'store');
  const store = new CredentialFolderStore(root, undefined);
  await store.put(attrs('a'.repeat(64), 'kept'));
  await store.put(attrs('a'.repeat(64), 'dropped'), { durable: false });
  await store.put(attrs('b'.repeat(64), 'dropped'), { durable: false });
  await store.discard();
  // A durable write of another request, then a flush: what was discarded is not among them.
  await store.put(attrs('c'.repeat(64), 'later'));
  await store.flush();
  const names = Object.fromEntries(
    (await store.list()).items.map((i) => [i.id, decodeCredentialAttributes(i.content).friendlyName]),
  );
  t.deepEqual(names, { ['a'.repeat(64)]: 'kept', ['c'.repeat(64)]: 'later' });
  const files = await readdir(root, { recursive: true });
  t.deepEqual(
    files.filter((f) => f.endsWith('.tmp')),
    [],
  );
});
