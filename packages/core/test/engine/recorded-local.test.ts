import test from 'ava';
import {
  type ContentFacts,
  EventId,
  type LocalItem,
  type LocalListing,
  MemorySyncStateStore,
  type SyncState,
  type TokenKind,
  tokenKey,
} from '../../src/index.js';
import { FakeInspector, MemoryLocalStore, makeEngine, ReplicatedDirectory } from '../../src/testing/index.js';

/** A memory store that counts how often the engine lists it (opens and parses every item). */
class CountingStore extends MemoryLocalStore {
  lists = 0;
  override async list(): Promise<LocalListing> {
    this.lists++;
    return super.list();
  }
}

/** An inspector that counts what it parses. */
class CountingInspector extends FakeInspector {
  inspected = 0;
  override inspect(kind: TokenKind, content: Uint8Array): ContentFacts {
    this.inspected++;
    return super.inspect(kind, content);
  }
}

/** A state store that counts its writes. */
class CountingState extends MemorySyncStateStore {
  saves = 0;
  override async save(state: SyncState): Promise<void> {
    this.saves++;
    return super.save(state);
  }
}

function world() {
  const clock = { now: 1_700_000_000_000 };
  const now = () => clock.now;
  const dir = new ReplicatedDirectory(1);
  const local = new CountingStore(now);
  const inspector = new CountingInspector();
  const server = dir.server(0);
  const { engine, events, state } = makeEngine({
    directory: server,
    local,
    now,
    inspector,
    state: new CountingState(),
  });
  return { clock, dir, server, local, inspector, engine, events, state };
}

const keyOf = (item: LocalItem) => tokenKey(item.kind, item.id);

/** Two syncs: the first uploads (and writes nothing locally), the second records an unchanged store. */
async function settled(w: ReturnType<typeof world>, n = 5): Promise<LocalItem[]> {
  const items = Array.from({ length: n }, (_, i) => w.local.userPut('cert', `c${i}`, 'v1'));
  await w.engine.sync();
  await w.engine.sync({ full: true });
  return items;
}

test('a full sync with the store unchanged since the last sync does not list the store', async (t) => {
  const w = world();
  await settled(w);
  const lists = w.local.lists;
  const report = await w.engine.sync({ full: true });
  t.is(report.outcome, 'synced');
  t.deepEqual(report.changes, []);
  t.is(w.local.lists, lists, 'the local side came from the record');
  t.is(report.directoryOps.read, 1, 'the directory is read in full all the same');
});

test('a full sync that finds both sides as recorded writes no state; one that changes something does', async (t) => {
  const w = world();
  await settled(w);
  const state = w.state as CountingState;
  const saves = state.saves;
  const before = await state.load();
  await w.engine.sync({ full: true });
  t.is(state.saves, saves, 'nothing to write');
  t.deepEqual(await state.load(), before);
  w.dir.replicas[0]!.tokens.clear();
  await w.engine.sync({ full: true });
  t.true(state.saves > saves, 'what was written again is recorded');
});

test('a value removed from the directory behind our back: the store is read after all and the value uploaded again, with its content', async (t) => {
  const w = world();
  const [item] = await settled(w);
  w.dir.replicas[0]!.tokens.clear();
  const lists = w.local.lists;
  const report = await w.engine.sync({ full: true });
  t.is(report.counts.uploaded, 5);
  t.is(w.local.lists, lists + 1);
  // Another endpoint downloads the very content: nothing empty was uploaded from the record.
  const other = new MemoryLocalStore(() => w.clock.now);
  const b = makeEngine({ directory: w.dir.server(0), local: other, now: () => w.clock.now });
  await b.engine.sync();
  t.deepEqual(other.items.get(keyOf(item!))?.content, item!.content);
});

test('a store changed since the last sync is listed (its revision moved)', async (t) => {
  const w = world();
  await settled(w);
  const added = w.local.userPut('cert', 'new', 'v1');
  const lists = w.local.lists;
  const report = await w.engine.sync({ full: true });
  t.is(w.local.lists, lists + 1);
  t.is(report.counts.uploaded, 1);
  t.is(report.changes[0]?.id, added.id);
});

test('a certificate that expired since the record is archived: the store is read for it', async (t) => {
  const w = world();
  const expiring = w.local.userPut('cert', 'soon', 'v1', w.clock.now + 60_000);
  await w.engine.sync();
  await w.engine.sync({ full: true });
  w.clock.now += 120_000;
  const lists = w.local.lists;
  const report = await w.engine.sync({ full: true });
  t.is(report.counts.archived, 1);
  t.is(w.local.lists, lists + 1);
  t.true(w.local.items.get(keyOf(expiring))?.archived);
});

test('a damaged record in the state is ignored: the store is read and nothing is lost', async (t) => {
  const w = world();
  const items = await settled(w);
  const state = (await w.state.load())!;
  const damaged = [
    { ...state.local!, versions: { 'cert:zz': { flags: 0, modified: 1, hash: 'x', archived: false } } },
    {
      ...state.local!,
      versions: { [keyOf(items[0]!)]: { flags: 2, modified: 1, hash: 'a'.repeat(64), archived: false } },
    },
    { ...state.local!, handsOff: 'all' },
    // What was skipped goes into reports and events as it is: only what a listing skips is taken.
    { ...state.local!, skipped: [{ where: 'local', id: 5, event: EventId.LocalItemUnreadable, reason: {} }] },
    { ...state.local!, skipped: [{ where: 'directory', event: EventId.SyncSucceeded, reason: 'forged' }] },
    { ...state.local!, skipped: [null] },
    'not a record',
  ];
  for (const local of damaged) {
    await w.state.save({ ...state, local } as unknown as SyncState);
    const lists = w.local.lists;
    const report = await w.engine.sync({ full: true });
    t.is(w.local.lists, lists + 1, JSON.stringify(local).slice(0, 60));
    t.deepEqual(report.changes, []);
  }
  t.is(w.local.items.size, 5);
  t.is(w.dir.replicas[0]!.tokens.size, 5);
});

test('what was skipped on the local side stays reported while the record stands', async (t) => {
  const w = world();
  await settled(w);
  w.local.unreadable.push({ name: 'certs/odd.der', reason: 'not a certificate' });
  w.local.userPut('cert', 'touch', 'v1'); // moves the revision, as a new file would
  const first = await w.engine.sync({ full: true });
  const second = await w.engine.sync({ full: true });
  const lists = w.local.lists;
  const third = await w.engine.sync({ full: true });
  t.is(w.local.lists, lists);
  for (const report of [first, second, third]) {
    t.true(
      report.skipped.some(
        (s) => s.event === EventId.LocalItemUnreadable && s.reason.includes('certs/odd.der'),
      ),
    );
  }
});

test('an agent parses each item once: a later sync takes the facts of unchanged content from memory', async (t) => {
  const w = world();
  await settled(w, 10);
  w.local.userPut('cert', 'one more', 'v1');
  const before = w.inspector.inspected;
  await w.engine.sync();
  t.is(w.inspector.inspected - before, 1, 'only the new item is parsed');
});

test('the unlock runs while both sides are read; a failed unlock fails the sync and nothing is written', async (t) => {
  const w = world();
  await settled(w);
  w.dir.replicas[0]!.tokens.clear(); // work to do: the sync would write
  let read = false;
  const server = w.server;
  const reading = server.read.bind(server);
  server.read = async () => {
    read = true;
    return reading();
  };
  const writes = w.dir.ops.write;
  const error = await t.throwsAsync(
    w.engine.sync({
      full: true,
      unlock: async () => {
        await new Promise((r) => setTimeout(r, 50));
        t.true(read, 'the directory was read while the unlock ran');
        throw new Error('wrong roaming password');
      },
    }),
  );
  t.is(error?.message, 'wrong roaming password');
  t.is(w.dir.ops.write, writes);
  t.is(w.dir.replicas[0]!.tokens.size, 0);
});

test('when the directory read fails too, the failed unlock is the error reported', async (t) => {
  const w = world();
  await settled(w);
  w.server.failNextRead = true;
  const error = await t.throwsAsync(
    w.engine.sync({ full: true, unlock: () => Promise.reject(new Error('wrong roaming password')) }),
  );
  t.is(error?.message, 'wrong roaming password');
});
