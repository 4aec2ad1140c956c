import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { EventId, FolderDirectoryStore, type LocalItem, tokenKey } from '../../src/index.js';
import { MemoryLocalStore, makeEngine } from '../../src/testing/index.js';
import { tempDir } from '../support/temp.js';

/**
 * A writer of the folder directory without the user's keys edits alice's `values` and `stamp` files
 * by hand; two endpoints of alice roam through it with the real engine.
 */
async function folderWorld(t: ExecutionContext) {
  const root = await tempDir(t);
  const clock = { now: 1_700_000_000_000 };
  const endpoint = () => {
    const local = new MemoryLocalStore(() => clock.now);
    const directory = new FolderDirectoryStore(root, 'alice');
    const parts = makeEngine({ directory, local, now: () => clock.now });
    return { local, directory, ...parts, sync: () => parts.engine.sync({ full: true }) };
  };
  const a = endpoint();
  const mine = a.local.userPut('cert', 'mine', 'v1');
  const myKey = a.local.userPut('key', 'mykey', 'k1');
  await a.sync();
  await a.directory.write({
    keys: { remove: [], add: [new Uint8Array([1, 2, 3])] },
    stamp: { remove: await a.directory.readStamp(), add: [new Uint8Array([9])] },
  });
  const dir = a.directory.dir;
  const file = (name: 'values' | 'stamp') => path.join(dir, name);
  const readJson = async (name: 'values' | 'stamp') => JSON.parse(await readFile(file(name), 'utf8'));
  const plant = async (name: 'values' | 'stamp', content: unknown) =>
    writeFile(file(name), typeof content === 'string' ? content : JSON.stringify(content));
  return { root, clock, endpoint, a, mine, myKey, readJson, plant, file };
}

const holds = (local: MemoryLocalStore, item: LocalItem) =>
  Buffer.from(local.items.get(tokenKey(item.kind, item.id))?.content ?? []).equals(Buffer.from(item.content));

test('one token value present three times in the folder reads as one value: a new endpoint finishes its sync', async (t) => {
  const w = await folderWorld(t);
  const values = await w.readJson('values');
  const [first] = values.tokens as string[];
  await w.plant('values', { ...values, tokens: [...values.tokens, first, first] });
  const b = w.endpoint();
  const report = await b.sync();
  t.is(report.outcome, 'synced');
  t.true(holds(b.local, w.mine) && holds(b.local, w.myKey), 'both credentials reached the new endpoint');
  const duplicate = b.events.find((e) => e.event === EventId.DirectoryValueDuplicated);
  t.truthy(duplicate, 'the duplicates are an event');
  t.regex(duplicate?.message ?? '', /tokens\[0\], tokens\[2\] and tokens\[3\]: the same value, read as one/);
  t.false(duplicate?.message.includes(first!), 'the event names indexes, not the value');
  // The next write of the folder keeps one copy.
  b.local.userPut('cert', 'fromb', 'v1');
  await b.sync();
  const after = (await w.readJson('values')).tokens as string[];
  t.is(after.filter((v) => v === first).length, 1);
  t.is(after.length, 3);
  const reportA = await w.a.sync();
  t.is(reportA.counts.downloaded, 1);
});

test('entries that are not base64 strings are skipped with event 1030 naming their index; the rest roams and they stay in the file', async (t) => {
  const w = await folderWorld(t);
  const values = await w.readJson('values');
  const secretish = 'A'.repeat(40);
  const planted = [42, { evil: true }, null, [1, 2, 3], 'not base64!', `${secretish}=`, true];
  await w.plant('values', { tokens: [...values.tokens, ...planted], keys: [...values.keys, 7, 'x y'] });
  const b = w.endpoint();
  b.local.userPut('cert', 'fromb', 'v1');
  const report = await b.sync();
  t.is(report.outcome, 'synced');
  t.true(holds(b.local, w.mine) && holds(b.local, w.myKey), 'the authentic credentials still roam');
  t.is(report.counts.uploaded, 1, "b's own credential still goes up");
  const unreadable = report.skipped.filter((s) => s.event === EventId.DirectoryValueUnreadable);
  t.deepEqual(
    unreadable.map((s) => s.reason.split(':')[0]),
    [2, 3, 4, 5, 6, 7, 8].map((i) => `tokens[${i}]`).concat(['keys[1]', 'keys[2]']),
  );
  t.regex(unreadable[0]!.reason, /a number, not a base64 string/);
  t.regex(unreadable[1]!.reason, /an object, not a base64 string/);
  t.regex(unreadable[2]!.reason, /null, not a base64 string/);
  t.regex(unreadable[3]!.reason, /an array, not a base64 string/);
  t.regex(unreadable[4]!.reason, /a string of 11 characters that is not base64 \("not base64!"\)/);
  t.false(
    unreadable.some((s) => s.reason.includes(secretish)),
    'a long value is named by a prefix, never in full',
  );
  t.true(
    b.events.some((e) => e.event === EventId.DirectoryValueUnreadable && e.level === 'warn'),
    'each is logged as a warning',
  );
  const after = await w.readJson('values');
  t.is(after.tokens.length, values.tokens.length + planted.length + 1, 'b uploaded one token');
  t.deepEqual(
    after.tokens.slice(-planted.length),
    planted,
    'garbage is left as it was when the write replaced the file',
  );
  t.deepEqual(after.keys.slice(-2), [7, 'x y']);
  const reportA = await w.a.sync();
  t.is(reportA.counts.downloaded, 1);
  t.is(reportA.skipped.filter((s) => s.event === EventId.DirectoryValueUnreadable).length, 9);
});

test('a garbled stamp file reads as an empty stamp with event 1030; the next write replaces it and roaming goes on', async (t) => {
  for (const garbage of ['{not json', '{"a":1}', '[1, "##", null]', '"x"']) {
    const w = await folderWorld(t);
    await w.plant('stamp', garbage);
    t.deepEqual(await w.a.directory.readStamp(), [], garbage);
    const b = w.endpoint();
    b.local.userPut('cert', 'fromb', 'v1');
    const report = await b.sync();
    t.is(report.outcome, 'synced', garbage);
    t.true(holds(b.local, w.mine), garbage);
    t.true(
      report.skipped.some((s) => s.event === EventId.DirectoryValueUnreadable && /stamp/.test(s.reason)),
      `${garbage}: ${JSON.stringify(report.skipped)}`,
    );
    const stamp = await w.readJson('stamp');
    t.true(
      Array.isArray(stamp) && stamp.length === 1 && typeof stamp[0] === 'string',
      `${garbage}: the write made the stamp one fresh value`,
    );
    t.is((await w.a.sync()).counts.downloaded, 1, garbage);
  }
});

test('a values file that is not JSON or not an object of arrays is a clear E_DIRECTORY error naming the file; nothing is written', async (t) => {
  for (const garbage of [
    '{"tokens": ["trunc',
    'null',
    '[]',
    '42',
    '{"tokens": "x", "keys": []}',
    '{"tokens": []}',
  ]) {
    const w = await folderWorld(t);
    await w.plant('values', garbage);
    const b = w.endpoint();
    b.local.userPut('cert', 'fromb', 'v1');
    const error = await t.throwsAsync(b.sync(), { code: 'E_DIRECTORY' } as never, garbage);
    t.true(error?.message.includes(w.file('values')), `${garbage}: ${error?.message}`);
    t.regex(error?.message ?? '', /restore it from a backup|move it aside/, garbage);
    t.is(await readFile(w.file('values'), 'utf8'), garbage, 'the damaged file is left for recovery');
    await t.throwsAsync(
      w.a.directory.write({
        tokens: { remove: [], add: [new Uint8Array([1])] },
        stamp: { remove: [], add: [] },
      }),
      { code: 'E_DIRECTORY' } as never,
    );
    t.true(holds(w.a.local, w.mine), 'the endpoint keeps its credentials');
  }
});

test('several values for one token id in the folder follow the LDAP rule: one winner everywhere, the loser removed (107)', async (t) => {
  const w = await folderWorld(t);
  const before = (await w.readJson('values')).tokens as string[];
  w.clock.now += 1000;
  w.a.local.userPut('cert', 'mine', 'v2');
  await w.a.sync();
  const values = await w.readJson('values');
  const replaced = before.filter((v) => !values.tokens.includes(v));
  t.is(replaced.length, 1);
  await w.plant('values', { ...values, tokens: [...values.tokens, ...replaced] }); // the old version back beside
  const report = await w.a.sync();
  t.deepEqual(report.skipped, []);
  t.true(w.a.events.some((e) => e.event === EventId.DuplicateValuesResolved && e.id === w.mine.id));
  t.deepEqual((await w.readJson('values')).tokens, values.tokens, 'the loser was removed');
  const b = w.endpoint();
  await b.sync();
  const content = b.local.items.get(tokenKey('cert', w.mine.id))?.content ?? new Uint8Array();
  t.is(Buffer.from(content).subarray(16).toString(), 'v2');
});

test('a FIFO or an oversized sparse file planted in the folder is refused at once with E_DIRECTORY naming it, never read', async (t) => {
  const { execFile } = await import('node:child_process');
  const { rm, truncate } = await import('node:fs/promises');
  for (const name of ['stamp', 'values'] as const) {
    const w = await folderWorld(t);
    await rm(w.file(name));
    await new Promise<void>((resolve, reject) =>
      execFile('mkfifo', [w.file(name)], (error) => (error ? reject(error) : resolve())),
    );
    const store = new FolderDirectoryStore(w.root, 'alice');
    await t.throwsAsync(
      store.read(),
      { code: 'E_DIRECTORY', message: /is not a regular file/ } as never,
      name,
    );
    await rm(w.file(name));
    await writeFile(w.file(name), '');
    await truncate(w.file(name), 2 ** 30);
    await t.throwsAsync(
      store.read(),
      { code: 'E_DIRECTORY', message: /more than the .* allowed/ } as never,
      name,
    );
  }
});
