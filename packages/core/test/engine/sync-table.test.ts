import test from 'ava';
import {
  EventId,
  type LocalItem,
  MemorySyncStateStore,
  type SyncState,
  TokenFlag,
  tokenKey,
} from '../../src/index.js';
import { MemoryLocalStore, makeEngine, ReplicatedDirectory } from '../../src/testing/index.js';

/** A world with one directory server, a shared clock and endpoints of user alice. */
function world() {
  const clock = { now: 1_700_000_000_000 };
  const now = () => clock.now;
  const dir = new ReplicatedDirectory(1);
  const endpoint = () => {
    const local = new MemoryLocalStore(now);
    const { engine, events, state } = makeEngine({ directory: dir.server(0), local, now });
    return { local, engine, events, state, sync: () => engine.sync() };
  };
  const tick = (ms = 1000) => {
    clock.now += ms;
  };
  return { dir, clock, endpoint, tick };
}

const keyOf = (item: LocalItem) => tokenKey(item.kind, item.id);
const body = (store: MemoryLocalStore, item: LocalItem) =>
  Buffer.from(store.items.get(keyOf(item))?.content ?? [])
    .subarray(16)
    .toString();

test('L = R: nothing is written, the base is recorded', async (t) => {
  const w = world();
  const a = w.endpoint();
  const b = w.endpoint();
  const item = a.local.userPut('cert', 'same', 'v1');
  b.local.items.set(keyOf(item), item);
  await a.sync();
  const writes = w.dir.ops.write;
  const report = await b.sync();
  t.is(report.outcome, 'synced');
  t.deepEqual(report.changes, []);
  t.is(w.dir.ops.write, writes);
  t.truthy((await b.state.load())?.base[keyOf(item)]);
});

test('only the local side changed since B: upload, even when the local clock is behind', async (t) => {
  const w = world();
  const a = w.endpoint();
  const b = w.endpoint();
  const item = a.local.userPut('cert', 'doc', 'v1');
  await a.sync();
  await b.sync();
  w.clock.now -= 3_600_000; // b's clock runs an hour behind
  b.local.userPut('cert', 'doc', 'v2');
  const report = await b.sync();
  t.is(report.counts.uploaded, 1);
  t.is(report.counts.conflicts, 0);
  w.tick(7_200_000);
  await a.sync();
  t.is(body(a.local, item), 'v2');
});

test('only the directory side changed since B: download, even when its time is older than the local copy', async (t) => {
  const w = world();
  const a = w.endpoint();
  const b = w.endpoint();
  const item = a.local.userPut('cert', 'doc', 'v1');
  await a.sync();
  await b.sync();
  w.tick();
  a.local.userPut('cert', 'doc', 'v2');
  await a.sync();
  const report = await b.sync();
  t.is(report.counts.downloaded, 1);
  t.is(body(b.local, item), 'v2');
});

test('both sides changed since B: the newest modified wins, everywhere, and a conflict event (501) records it', async (t) => {
  const w = world();
  const a = w.endpoint();
  const b = w.endpoint();
  const item = a.local.userPut('cert', 'doc', 'v1');
  await a.sync();
  await b.sync();
  w.tick();
  b.local.userPut('cert', 'doc', 'older edit on b');
  w.tick();
  a.local.userPut('cert', 'doc', 'newer edit on a');
  await b.sync(); // b's older edit reaches the directory first
  const report = await a.sync(); // a: both changed, a is newer → upload
  t.is(report.counts.conflicts, 1);
  t.is(report.counts.uploaded, 1);
  t.true(a.events.some((e) => e.event === EventId.Conflict));
  await b.sync();
  t.is(body(b.local, item), 'newer edit on a');
  t.is(body(a.local, item), 'newer edit on a');
});

test('both sides changed at the same instant: the larger content hash wins on every endpoint', async (t) => {
  const w = world();
  const a = w.endpoint();
  const b = w.endpoint();
  const item = a.local.userPut('cert', 'doc', 'v1');
  await a.sync();
  await b.sync();
  w.tick();
  a.local.userPut('cert', 'doc', 'edit x');
  b.local.userPut('cert', 'doc', 'edit y');
  await a.sync();
  await b.sync();
  await a.sync();
  t.is(body(a.local, item), body(b.local, item));
  t.not(body(a.local, item), 'v1');
});

test('L new, R absent, no B: upload', async (t) => {
  const w = world();
  const a = w.endpoint();
  a.local.userPut('cert', 'new', 'v1');
  a.local.userPut('key', 'new', 'k1');
  const report = await a.sync();
  t.is(report.counts.uploaded, 2);
  t.is(w.dir.replicas[0]!.tokens.size, 2);
  t.true(a.events.some((e) => e.event === EventId.TokenUploaded));
});

test('R new, L absent, no B: download', async (t) => {
  const w = world();
  const a = w.endpoint();
  const b = w.endpoint();
  const item = a.local.userPut('key', 'new', 'k1');
  await a.sync();
  const report = await b.sync();
  t.is(report.counts.downloaded, 1);
  t.deepEqual(b.local.items.get(keyOf(item))?.content, item.content);
});

test('L deleted, R unchanged since B: a tombstone is written', async (t) => {
  const w = world();
  const a = w.endpoint();
  const item = a.local.userPut('cert', 'gone', 'v1');
  await a.sync();
  a.local.userDelete(keyOf(item));
  const report = await a.sync();
  t.is(report.counts.tombstoned, 1);
  t.is(w.dir.replicas[0]!.tokens.size, 1, 'the tombstone replaced the value');
  t.true(a.events.some((e) => e.event === EventId.TombstoneWritten && e.id === item.id));
});

test('L deleted, R changed since B: download (a change beats a deletion)', async (t) => {
  const w = world();
  const a = w.endpoint();
  const b = w.endpoint();
  const item = a.local.userPut('cert', 'doc', 'v1');
  await a.sync();
  await b.sync();
  b.local.userDelete(keyOf(item));
  w.tick();
  a.local.userPut('cert', 'doc', 'v2');
  await a.sync();
  const report = await b.sync();
  t.is(report.counts.downloaded, 1);
  t.is(body(b.local, item), 'v2');
});

test('R tombstone, L unchanged since B: removed locally and kept in the archive for the tombstone lifetime', async (t) => {
  const w = world();
  const a = w.endpoint();
  const b = w.endpoint();
  const item = a.local.userPut('cert', 'doc', 'v1');
  await a.sync();
  await b.sync();
  a.local.userDelete(keyOf(item));
  w.tick();
  await a.sync();
  const report = await b.sync();
  t.is(report.counts.removed, 1);
  t.false(b.local.items.has(keyOf(item)));
  const archived = b.local.archive.get(keyOf(item));
  t.deepEqual(archived?.item.content, item.content);
  t.is(archived?.keepUntil, w.clock.now + 60 * 86_400_000);
});

test('R tombstone, L changed after the tombstone: upload (resurrect)', async (t) => {
  const w = world();
  const a = w.endpoint();
  const b = w.endpoint();
  const item = a.local.userPut('cert', 'doc', 'v1');
  await a.sync();
  await b.sync();
  a.local.userDelete(keyOf(item));
  await a.sync();
  w.tick();
  b.local.userPut('cert', 'doc', 'v2');
  const report = await b.sync();
  t.is(report.counts.uploaded, 1);
  await a.sync();
  t.is(body(a.local, item), 'v2');
});

test('R tombstone of the very version L holds, though the base lags behind L (a download whose sync died before saving): removed locally, not resurrected', async (t) => {
  const w = world();
  const a = w.endpoint();
  // b's sync state can be made to fail once, as a kill between the local write and the base.
  const state = new (class extends MemorySyncStateStore {
    failNext = false;
    override async save(s: SyncState): Promise<void> {
      if (this.failNext && s.pending === undefined) {
        this.failNext = false;
        throw new Error('injected: killed before the base was saved');
      }
      return super.save(s);
    }
  })();
  const bLocal = new MemoryLocalStore(() => w.clock.now);
  const b = makeEngine({ directory: w.dir.server(0), local: bLocal, state, now: () => w.clock.now }).engine;
  const mine = bLocal.userPut('cert', 'doc', 'from b');
  await b.sync(); // b's base: its own version
  w.tick();
  a.local.userPut('cert', 'doc', 'from a, later');
  await a.sync(); // both changed: a's newer version wins in the directory
  state.failNext = true;
  await t.throwsAsync(b.sync(), { message: /killed before the base/ });
  t.is(body(bLocal, mine), 'from a, later', 'the download reached b’s store; its base did not');
  a.local.userDelete(keyOf(mine));
  w.tick();
  await a.sync(); // a tombstone naming the version b now holds
  const report = await b.sync();
  t.is(report.counts.removed, 1);
  t.is(report.counts.uploaded, 0);
  t.false(bLocal.items.has(keyOf(mine)));
  await a.sync();
  t.false(a.local.items.has(keyOf(mine)), 'the deletion stands everywhere');
});

/** Alice's credential `doc` is deleted on endpoint a; returns the tombstone's directory value, base64. */
async function deletedOnA(w: ReturnType<typeof world>) {
  const a = w.endpoint();
  const item = a.local.userPut('cert', 'doc', 'v1');
  await a.sync();
  w.tick();
  a.local.userDelete(keyOf(item));
  await a.sync();
  const [tombstone] = [...w.dir.replicas[0]!.tokens];
  return { a, item, tombstone: tombstone! };
}

test('R tombstone of the very version L holds, no B, L added after the tombstone: kept and uploaded (resurrect), never removed', async (t) => {
  const w = world();
  const { a, item } = await deletedOnA(w);
  w.tick();
  const e = w.endpoint(); // a new endpoint; the user imports the very bytes the tombstone names
  e.local.items.set(keyOf(item), { ...item, modified: w.clock.now });
  const report = await e.sync();
  t.is(report.counts.removed, 0);
  t.is(report.counts.uploaded, 1);
  t.is(report.counts.conflicts, 1, 'a deletion met a later addition: a conflict event records it');
  t.true(e.local.items.has(keyOf(item)));
  await a.sync();
  t.true(a.local.items.has(keyOf(item)), 'the later addition roams back, as any change after a deletion');
});

test('an old tombstone replayed into the directory after its lifetime removes nothing a new endpoint imported after it; at most the endpoint uploads again', async (t) => {
  const w = world();
  const { a, item, tombstone } = await deletedOnA(w);
  w.tick(61 * 86_400_000);
  await a.sync(); // the lifetime is over: pruned
  t.is(w.dir.replicas[0]!.tokens.size, 0);
  const e = w.endpoint();
  e.local.items.set(keyOf(item), { ...item, modified: w.clock.now });
  await e.sync();
  w.tick();
  w.dir.replicas[0]!.tokens.clear();
  w.dir.replicas[0]!.tokens.add(tombstone); // a directory writer replays the saved tombstone
  w.dir.replicas[0]!.stamp.clear();
  const f = w.endpoint(); // and a second new endpoint imported the same credential too
  f.local.items.set(keyOf(item), { ...item, modified: w.clock.now - 10 });
  for (const endpoint of [f, e]) {
    const report = await endpoint.engine.sync({ full: true });
    t.is(report.counts.removed, 0);
    t.true(endpoint.local.items.has(keyOf(item)));
  }
  t.false(w.dir.replicas[0]!.tokens.has(tombstone), 'the replayed tombstone was replaced by the credential');
});

test('R tombstone of a version L holds, B an older version, L changed to it after the tombstone: kept and uploaded, not removed', async (t) => {
  const w = world();
  const a = w.endpoint();
  const e = w.endpoint();
  const item = a.local.userPut('cert', 'doc', 'v1');
  await a.sync();
  await e.sync(); // e's base: v1
  w.tick();
  a.local.userPut('cert', 'doc', 'v2');
  await a.sync();
  w.tick();
  a.local.userDelete(keyOf(item));
  await a.sync(); // a tombstone naming v2, which e never held
  w.tick();
  e.local.userPut('cert', 'doc', 'v2'); // e makes the same change on its own, after the deletion
  const report = await e.sync();
  t.is(report.counts.removed, 0);
  t.is(report.counts.uploaded, 1);
  t.is(body(e.local, item), 'v2');
});

test('R tombstone of the very version L holds, no B, L dated before the tombstone (held before it was deleted, never synced): removed locally, kept in the archive', async (t) => {
  const w = world();
  const e = w.endpoint();
  const a = w.endpoint();
  const item = a.local.userPut('cert', 'doc', 'v1');
  e.local.items.set(keyOf(item), { ...item }); // the same credential, on e since before the deletion
  await a.sync();
  w.tick();
  a.local.userDelete(keyOf(item));
  await a.sync();
  const report = await e.sync();
  t.is(report.counts.removed, 1);
  t.is(report.counts.uploaded, 0);
  t.deepEqual(e.local.archive.get(keyOf(item))?.item.content, item.content);
});

test('R tombstone past its lifetime (replayed, or not yet pruned), L not held at B: kept and uploaded, never removed (deletions roam for the lifetime only)', async (t) => {
  const w = world();
  const e = w.endpoint();
  const a = w.endpoint();
  const item = a.local.userPut('cert', 'doc', 'v1');
  e.local.items.set(keyOf(item), { ...item }); // on e since before the deletion; e never synced
  await a.sync();
  w.tick();
  a.local.userDelete(keyOf(item));
  await a.sync();
  w.tick(61 * 86_400_000); // nobody pruned it yet, or a directory writer put it back
  const report = await e.sync();
  t.is(report.counts.removed, 0);
  t.is(report.counts.uploaded, 1);
  t.true(e.local.items.has(keyOf(item)));
});

test('a copy removed by a tombstone stays in the archive for a whole tombstone lifetime from its removal, however old the tombstone', async (t) => {
  const w = world();
  const a = w.endpoint();
  const b = w.endpoint();
  const item = a.local.userPut('cert', 'doc', 'v1');
  await a.sync();
  await b.sync();
  w.tick();
  a.local.userDelete(keyOf(item));
  await a.sync();
  w.tick(61 * 86_400_000); // b comes back after the tombstone's lifetime, before anyone pruned it
  const report = await b.sync();
  t.is(report.counts.removed, 1, 'b held the deleted version at its base: the deletion stands');
  t.is(b.local.archive.get(keyOf(item))?.keepUntil, w.clock.now + 60 * 86_400_000);
});

test('R tombstone, L held at B: removed, even when the local copy was touched after the tombstone (content decides, not file times)', async (t) => {
  const w = world();
  const a = w.endpoint();
  const b = w.endpoint();
  const item = a.local.userPut('cert', 'doc', 'v1');
  await a.sync();
  await b.sync();
  w.tick();
  a.local.userDelete(keyOf(item));
  await a.sync();
  w.tick();
  b.local.items.set(keyOf(item), { ...b.local.items.get(keyOf(item))!, modified: w.clock.now });
  const report = await b.sync();
  t.is(report.counts.removed, 1);
  t.false(b.local.items.has(keyOf(item)));
});

test('R absent without tombstone, B present: upload again', async (t) => {
  const w = world();
  const a = w.endpoint();
  const item = a.local.userPut('cert', 'doc', 'v1');
  await a.sync();
  // A restore from an old backup: the value is gone and the stamp is another.
  w.dir.replicas[0]!.tokens.clear();
  w.dir.replicas[0]!.stamp.clear();
  w.dir.replicas[0]!.stamp.add('b2xkIGJhY2t1cA==');
  const report = await a.sync();
  t.is(report.counts.uploaded, 1);
  t.is(report.changes[0]?.reason, 'missing from the directory: upload again');
  t.is(w.dir.replicas[0]!.tokens.size, 1);
  t.true(a.local.items.has(keyOf(item)));
});

test("a full sync finds a value removed behind credroam's back (stamp untouched) and uploads it again", async (t) => {
  const w = world();
  const a = w.endpoint();
  a.local.userPut('cert', 'doc', 'v1');
  await a.sync();
  w.dir.replicas[0]!.tokens.clear();
  t.is((await a.sync()).outcome, 'unchanged', 'the stamp check alone cannot see it');
  const report = await a.engine.sync({ full: true });
  t.is(report.counts.uploaded, 1);
  t.is(w.dir.replicas[0]!.tokens.size, 1);
});

test('a sync with nothing to do makes exactly one directory operation: the stamp read', async (t) => {
  const w = world();
  const a = w.endpoint();
  for (let i = 0; i < 20; i++) a.local.userPut('cert', `c${i}`, 'v1');
  await a.sync();
  await a.sync(); // settles the local revision after the first sync's own writes
  const before = { ...w.dir.ops };
  const report = await a.sync();
  t.is(report.outcome, 'unchanged');
  t.deepEqual(report.directoryOps, { readStamp: 1, read: 0, write: 0 });
  t.deepEqual(w.dir.ops, { ...before, readStamp: before.readStamp + 1 });
});

test('several values for one id: one deterministic winner, the losers removed in the same write', async (t) => {
  const w = world();
  const a = w.endpoint();
  const b = w.endpoint();
  const c = w.endpoint();
  const item = a.local.userPut('cert', 'doc', 'v1');
  await a.sync();
  await b.sync();
  // Two servers each accepted a compare-and-swap: simulate by writing both values side by side.
  const snapshot = await w.dir.server(0).read();
  w.tick();
  a.local.userPut('cert', 'doc', 'from a');
  await a.sync();
  const afterA = await w.dir.server(0).read();
  const aValue = afterA.tokens.find(
    (v) => !snapshot.tokens.some((s) => Buffer.from(s).equals(Buffer.from(v))),
  )!;
  w.dir.replicas[0]!.tokens.clear();
  for (const v of snapshot.tokens) w.dir.replicas[0]!.tokens.add(Buffer.from(v).toString('base64'));
  w.tick();
  b.local.userPut('cert', 'doc', 'from b, later');
  await b.sync();
  w.dir.replicas[0]!.tokens.add(Buffer.from(aValue).toString('base64')); // replication merges a's value back in
  t.is(w.dir.replicas[0]!.tokens.size, 2);
  const report = await c.sync();
  t.is(body(c.local, item), 'from b, later');
  t.is(w.dir.replicas[0]!.tokens.size, 1, 'the loser was removed');
  t.is(report.directoryOps.write, 1);
  await a.sync();
  t.is(body(a.local, item), 'from b, later');
});

test('a lost compare-and-swap re-reads and merges again', async (t) => {
  const w = world();
  const a = w.endpoint();
  const b = w.endpoint();
  a.local.userPut('cert', 'zero', 'v1');
  await a.sync();
  await b.sync();
  a.local.userPut('cert', 'one', 'v1');
  b.local.userPut('cert', 'two', 'v1');
  const server = w.dir.server(0);
  let raced = false;
  const { engine } = makeEngine({
    directory: {
      readStamp: () => server.readStamp(),
      readKeys: () => server.readKeys(),
      read: async () => {
        const snap = await server.read();
        if (!raced) {
          raced = true;
          await b.sync(); // b writes between a's read and a's write
        }
        return snap;
      },
      write: (change) => server.write(change),
    },
    local: a.local,
    state: a.state,
  });
  const report = await engine.sync();
  t.is(report.attempts, 2);
  t.is(w.dir.replicas[0]!.tokens.size, 3);
});

test('compare-and-swap that keeps failing ends in a clear error after the policy number of attempts', async (t) => {
  const w = world();
  const a = w.endpoint();
  a.local.userPut('cert', 'one', 'v1');
  const server = w.dir.server(0);
  const { engine } = makeEngine({
    directory: {
      readStamp: () => server.readStamp(),
      readKeys: () => server.readKeys(),
      read: () => server.read(),
      write: async () => {
        const { ConflictError } = await import('../../src/index.js');
        throw new ConflictError('always');
      },
    },
    local: a.local,
    policy: { casAttempts: 3 },
  });
  await t.throwsAsync(engine.sync(), {
    code: 'E_CAS_EXHAUSTED',
    message: /gave up after 3 attempts/,
  } as never);
});

test('expired certificates are archived locally and in the directory, and the flag roams', async (t) => {
  const w = world();
  const a = w.endpoint();
  const b = w.endpoint();
  const item = a.local.userPut('cert', 'old', 'v1', w.clock.now + 10_000);
  await a.sync();
  await b.sync();
  w.tick(20_000);
  const report = await a.sync(); // time alone made work due: no stamp shortcut
  t.is(report.counts.archived, 1);
  t.true(a.local.items.get(keyOf(item))?.archived);
  await b.sync();
  t.true(b.local.items.get(keyOf(item))?.archived);
  t.true(a.events.some((e) => e.event === EventId.TokenArchived));
});

test('tombstones are pruned after their lifetime', async (t) => {
  const w = world();
  const a = w.endpoint();
  const b = w.endpoint();
  const item = a.local.userPut('cert', 'doc', 'v1');
  await a.sync();
  await b.sync();
  a.local.userDelete(keyOf(item));
  await a.sync();
  await b.sync();
  t.is(w.dir.replicas[0]!.tokens.size, 1);
  w.tick(61 * 86_400_000);
  const report = await b.sync();
  t.is(report.counts.pruned, 1);
  t.is(w.dir.replicas[0]!.tokens.size, 0);
  const state = await a.sync();
  t.is(state.counts.tombstoned, 0, 'a does not write the pruned tombstone again');
  t.is(w.dir.replicas[0]!.tokens.size, 0);
});

test('dry run reports the plan and why, and writes nothing anywhere', async (t) => {
  const w = world();
  const a = w.endpoint();
  const b = w.endpoint();
  b.local.userPut('cert', 'remote', 'v1');
  await b.sync();
  a.local.userPut('key', 'mine', 'k1');
  const { engine, state } = makeEngine({
    directory: w.dir.server(0),
    local: a.local,
    now: () => w.clock.now,
  });
  const before = { tokens: [...w.dir.replicas[0]!.tokens], local: [...a.local.items.keys()] };
  const report = await engine.sync({ dryRun: true });
  t.is(report.outcome, 'planned');
  t.deepEqual(report.changes.map((c) => [c.kind, c.action, c.reason]).sort(), [
    ['cert', 'download', 'new in the directory'],
    ['key', 'upload', 'new on this endpoint'],
  ]);
  t.deepEqual([...w.dir.replicas[0]!.tokens], before.tokens);
  t.deepEqual([...a.local.items.keys()], before.local);
  t.is(await state.load(), undefined);
});

test('a crash after the directory applied the write but before the local side: the next sync converges', async (t) => {
  const w = world();
  const a = w.endpoint();
  const b = w.endpoint();
  const item = a.local.userPut('cert', 'doc', 'v1');
  await a.sync();
  const server = w.dir.server(0);
  server.failNextWriteAfterApply = true;
  a.local.userPut('cert', 'doc', 'v2');
  const { engine } = makeEngine({
    directory: server,
    local: a.local,
    state: a.state,
    now: () => w.clock.now,
  });
  await t.throwsAsync(engine.sync(), { message: /connection lost/ });
  const report = await a.sync();
  t.deepEqual(report.changes, [], 'directory already holds v2: nothing more to do');
  await b.sync();
  t.is(body(b.local, item), 'v2');
});

test('the local writes of a sync are made durable by one flush, and only then is the base saved', async (t) => {
  const w = world();
  const a = w.endpoint();
  for (const name of ['one', 'two', 'three']) a.local.userPut('cert', name, 'v1');
  await a.sync();
  const bLocal = new MemoryLocalStore(() => w.clock.now);
  const saved: number[] = [];
  const state = new (class extends MemorySyncStateStore {
    override async save(s: SyncState): Promise<void> {
      if (s.pending === undefined) saved.push(bLocal.pending.length);
      return super.save(s);
    }
  })();
  const b = makeEngine({ directory: w.dir.server(0), local: bLocal, state, now: () => w.clock.now }).engine;
  const report = await b.sync();
  t.is(report.counts.downloaded, 3);
  t.is(bLocal.flushes, 1, 'one flush for the three writes');
  t.deepEqual(saved, [0], 'the base was saved once, with nothing left unflushed');
  t.is(bLocal.items.size, 3);
});

for (const applied of [0, 1, 2]) {
  test(`a kill between the local writes and their flush (${applied} of 3 in place) loses nothing: the base is not saved, the next sync converges`, async (t) => {
    const w = world();
    const a = w.endpoint();
    const b = w.endpoint();
    for (const name of ['one', 'two', 'three']) a.local.userPut('cert', name, 'v1');
    await a.sync();
    b.local.crashFlush(applied);
    await t.throwsAsync(b.sync(), { message: /killed during a flush/ });
    t.is(b.local.items.size, applied, 'what the flush did not reach is not there');
    t.is(await b.state.load(), undefined, 'the base was not saved');
    const next = await b.sync();
    t.is(next.counts.downloaded, 3 - applied, 'what was lost is downloaded again; what landed is recorded');
    t.is(b.local.items.size, 3);
    t.deepEqual([...b.local.items.keys()].sort(), [...a.local.items.keys()].sort());
    t.deepEqual((await b.sync()).changes, [], 'converged');
    t.deepEqual((await a.sync()).changes, [], 'the directory lost nothing either');
    t.is(w.dir.replicas[0]!.tokens.size, 3);
  });
}

test('a kill during the flush of an update (the download of v2 over v1) leaves v1 or v2, and the next sync takes v2', async (t) => {
  const w = world();
  const a = w.endpoint();
  const b = w.endpoint();
  const item = a.local.userPut('cert', 'doc', 'v1');
  await a.sync();
  await b.sync();
  w.tick();
  a.local.userPut('cert', 'doc', 'v2');
  await a.sync();
  b.local.crashFlush(0);
  await t.throwsAsync(b.sync(), { message: /killed during a flush/ });
  t.is(body(b.local, item), 'v1', 'the old version, whole');
  const next = await b.sync();
  t.is(next.counts.downloaded, 1);
  t.is(next.counts.uploaded, 0, 'v1 is not mistaken for a local change');
  t.is(body(b.local, item), 'v2');
  t.deepEqual((await b.sync()).changes, []);
});

test('a local write that fails leaves that token for the next sync and the rest goes on', async (t) => {
  const w = world();
  const a = w.endpoint();
  const b = w.endpoint();
  a.local.userPut('cert', 'one', 'v1');
  a.local.userPut('cert', 'two', 'v1');
  await a.sync();
  b.local.failNext = 'put';
  const first = await b.sync();
  t.is(first.counts.downloaded, 1);
  t.is(first.skipped.length, 1);
  t.regex(first.skipped[0]!.reason, /local store refused the change: injected failure in put/);
  const second = await b.sync();
  t.is(second.counts.downloaded, 1);
  t.is(b.local.items.size, 2);
});

test('archived and tombstone flags are distinct bits of the wire format', (t) => {
  t.is(TokenFlag.Tombstone & TokenFlag.Archived, 0);
  t.is(TokenFlag.Unroamable & (TokenFlag.Tombstone | TokenFlag.Archived), 0);
});
