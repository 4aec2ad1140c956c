import test from 'ava';
import { decodeHeader } from '../../src/engine/codec.js';
import { DIRECTORY_MEMO_MAX_AGE_MS, DirectoryMemo } from '../../src/engine/directory-memo.js';
import { type LocalItem, tokenKey } from '../../src/index.js';
import { MemoryLocalStore, makeEngine, ReplicatedDirectory } from '../../src/testing/index.js';

// Decision 028: a long-lived engine (the agent's) plans a change of the store against the
// directory's values as it last read or wrote them, while the stamp is theirs; the write's
// compare-and-swap of exact values keeps that safe.

/** Endpoints a and b of alice, each with its own engine (as two agents), on one directory server. */
function world() {
  const clock = { now: 1_700_000_000_000 };
  const now = () => clock.now;
  const dir = new ReplicatedDirectory(1);
  const endpoint = () => {
    const local = new MemoryLocalStore(now);
    return { local, ...makeEngine({ directory: dir.server(0), local, now }) };
  };
  return { clock, dir, a: endpoint(), b: endpoint() };
}

const keyOf = (item: LocalItem) => tokenKey(item.kind, item.id);

/** a holds three certificates, uploaded and settled. */
async function settled(w: ReturnType<typeof world>): Promise<LocalItem[]> {
  const items = ['c0', 'c1', 'c2'].map((n) => w.a.local.userPut('cert', n, 'v1'));
  await w.a.engine.sync();
  return items;
}

/** Runs `sync` and returns how many full reads and stamp reads of the directory it made. */
async function reads(w: ReturnType<typeof world>, sync: () => Promise<unknown>) {
  const before = { ...w.dir.ops };
  await sync();
  return { read: w.dir.ops.read - before.read, readStamp: w.dir.ops.readStamp - before.readStamp };
}

test('a change of the store after a sync of the same engine reads the stamp, not every value, and lands', async (t) => {
  const w = world();
  await settled(w);
  const added = w.a.local.userPut('cert', 'new', 'v1');
  const r = await reads(w, () => w.a.engine.sync());
  t.deepEqual(r, { read: 0, readStamp: 1 }, 'one read of the stamp');
  // b, which reads in full, finds all four.
  await w.b.engine.sync();
  t.truthy(w.b.local.items.get(keyOf(added)));
  t.is(w.b.local.items.size, 4);
  // And again after a's own write: the memory follows what a wrote.
  w.a.local.userPut('cert', 'newer', 'v1');
  t.deepEqual(await reads(w, () => w.a.engine.sync()), { read: 0, readStamp: 1 });
});

test('another writer moved the stamp: the sync reads in full and takes what it wrote', async (t) => {
  const w = world();
  await settled(w);
  await w.b.engine.sync();
  const fromB = w.b.local.userPut('cert', 'from b', 'v1');
  await w.b.engine.sync();
  const mine = w.a.local.userPut('cert', 'from a', 'v1');
  const r = await reads(w, () => w.a.engine.sync());
  t.is(r.read, 1, 'read in full');
  t.truthy(w.a.local.items.get(keyOf(fromB)), "b's certificate arrived");
  await w.b.engine.sync();
  t.truthy(w.b.local.items.get(keyOf(mine)));
});

test('a full sync always reads every value', async (t) => {
  const w = world();
  await settled(w);
  w.a.local.userPut('cert', 'new', 'v1');
  t.is((await reads(w, () => w.a.engine.sync({ full: true }))).read, 1);
  t.is((await reads(w, () => w.a.engine.sync({ full: true }))).read, 1);
});

test('a value removed behind the stamp: a removal that needs it conflicts, the sync reads in full, and the tombstone lands', async (t) => {
  const w = world();
  const [gone, kept] = await settled(w);
  await w.b.engine.sync();
  // A writer without the keys deletes the value of `gone` and leaves the stamp as it was.
  const tokens = w.dir.replicas[0]!.tokens;
  const valueFor = (item: LocalItem) =>
    [...tokens].find((v) => {
      const d = decodeHeader(Buffer.from(v, 'base64'), 1 << 20);
      return d.ok && d.header.id === item.id;
    });
  tokens.delete(valueFor(gone!)!);
  // a deletes `gone`: its tombstone replaces the value the memory holds and the directory lacks.
  w.a.local.userDelete(keyOf(gone!));
  const report = await w.a.engine.sync();
  t.is(report.attempts, 2, 'the first write conflicted; the second read in full');
  t.is(report.outcome, 'synced');
  t.truthy(w.a.local.items.get(keyOf(kept!)), 'nothing else is lost');
  t.truthy(valueFor(kept!), "the directory keeps kept's value");
  await w.b.engine.sync();
  t.truthy(w.b.local.items.get(keyOf(kept!)));
});

test('a value removed behind the stamp while the store only adds: nothing is lost, and the next full sync writes it again', async (t) => {
  const w = world();
  const items = await settled(w);
  // A writer removes every value and leaves the stamp: a's next change sync does not see it …
  w.dir.replicas[0]!.tokens.clear();
  w.a.local.userPut('cert', 'new', 'v1');
  const r = await reads(w, () => w.a.engine.sync());
  t.is(r.read, 0);
  for (const item of items) t.truthy(w.a.local.items.get(keyOf(item)), 'the store keeps every certificate');
  // … its full sync (the agent's at logon, or once the memory is old) does, and uploads again.
  const full = await w.a.engine.sync({ full: true });
  t.is(full.counts.uploaded, items.length);
  await w.b.engine.sync();
  t.is(w.b.local.items.size, items.length + 1);
});

test('the memory is used for at most its age: then the sync reads in full', async (t) => {
  const w = world();
  await settled(w);
  w.clock.now += DIRECTORY_MEMO_MAX_AGE_MS + 1;
  w.a.local.userPut('cert', 'new', 'v1');
  t.is((await reads(w, () => w.a.engine.sync())).read, 1);
  // A clock set back forgets it too.
  w.clock.now -= 60_000;
  w.a.local.userPut('cert', 'newer', 'v1');
  t.is((await reads(w, () => w.a.engine.sync())).read, 1);
});

test('a write that failed after the server applied it (the connection lost): the next sync reads in full', async (t) => {
  const w = world();
  await settled(w);
  const server = w.dir.server(0);
  const e = makeEngine({ directory: server, local: w.a.local, now: () => w.clock.now, state: w.a.state });
  await e.engine.sync({ full: true });
  w.a.local.userPut('cert', 'new', 'v1');
  server.failNextWriteAfterApply = true;
  await t.throwsAsync(() => e.engine.sync());
  w.a.local.userPut('cert', 'newer', 'v1');
  t.is((await reads(w, () => e.engine.sync())).read, 1);
});

test('a state another process wrote (a CLI sync of its own): the memory does not serve', async (t) => {
  const w = world();
  await settled(w);
  const state = (await w.a.state.load())!;
  await w.a.state.save({ ...state, stamp: ['00'] });
  w.a.local.userPut('cert', 'new', 'v1');
  t.is((await reads(w, () => w.a.engine.sync())).read, 1);
});

// --- the memory on its own

const bytes = (s: string) => new Uint8Array(Buffer.from(s));
const snapshot = (stamp: string, tokens: string[]) => ({
  stamp: [bytes(stamp)],
  tokens: tokens.map(bytes),
  keys: [],
});
const text = (vs: readonly Uint8Array[] | undefined) => vs?.map((v) => Buffer.from(v).toString()).sort();

test('DirectoryMemo: recalled for its own stamp only; another stamp forgets it', (t) => {
  const m = new DirectoryMemo(1000);
  m.remember(snapshot('s1', ['a', 'b']), 0);
  t.deepEqual(text(m.recall([bytes('s1')], 10)?.tokens), ['a', 'b']);
  t.is(m.recall([bytes('s2')], 10), undefined);
  t.is(m.recall([bytes('s1')], 10), undefined, 'forgotten');
});

test('DirectoryMemo: a write applies its removals and additions and the fresh stamp', (t) => {
  const m = new DirectoryMemo(1000);
  m.remember(snapshot('s1', ['a', 'b', 'c']), 0);
  m.written({ remove: [bytes('b')], add: [bytes('d')] }, bytes('s2'));
  t.is(m.recall([bytes('s1')], 10), undefined);
  m.remember(snapshot('s1', ['a', 'b', 'c']), 0);
  m.written({ remove: [bytes('b')], add: [bytes('d')] }, bytes('s2'));
  t.deepEqual(text(m.recall([bytes('s2')], 10)?.tokens), ['a', 'c', 'd']);
});

test('DirectoryMemo: a write removing a value it does not hold, or very many, forgets it', (t) => {
  const m = new DirectoryMemo(1000);
  m.remember(snapshot('s1', ['a']), 0);
  m.written({ remove: [bytes('x')], add: [] }, bytes('s2'));
  t.is(m.stamp(10), undefined);
  const many = Array.from({ length: 100 }, (_, i) => `v${i}`);
  m.remember(snapshot('s1', many), 0);
  m.written({ remove: many.map(bytes), add: [] }, bytes('s2'));
  t.is(m.stamp(10), undefined);
});

test('DirectoryMemo: old, from a clock set back, or from a read with irregular values: not used', (t) => {
  const m = new DirectoryMemo(1000);
  m.remember(snapshot('s1', ['a']), 5000);
  t.is(m.stamp(6001), undefined, 'older than its age');
  m.remember(snapshot('s1', ['a']), 5000);
  t.is(m.stamp(4999), undefined, 'the clock went back');
  m.remember(
    {
      ...snapshot('s1', ['a']),
      irregular: [{ attribute: 'tokens', problem: 'duplicate', where: 'tokens[0]', reason: 'twice' }],
    },
    5000,
  );
  t.is(m.stamp(5001), undefined);
});
