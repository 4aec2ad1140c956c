import test, { type ExecutionContext } from 'ava';
import { decodeHeader } from '../../src/engine/codec.js';
import {
  DIRECTORY_MEMO_MAX_AGE_MS,
  DIRECTORY_MEMO_MAX_BYTES,
  DirectoryMemo,
} from '../../src/engine/directory-memo.js';
import {
  ConflictError,
  CredroamError,
  type DirectoryChange,
  type DirectorySnapshot,
  type DirectoryStore,
  type LocalItem,
  MemorySyncStateStore,
  type SyncOptions,
  tokenKey,
} from '../../src/index.js';
import { MemoryLocalStore, makeEngine, ReplicatedDirectory } from '../../src/testing/index.js';

// Decision 028 under attack: a directory writer (values changed with or without the stamp, at any
// moment), the directory's server (a write reported failed that it applied, applied in part), a
// program of the user's (another sync, the state, the clock), and replicas that lose deletes.
// Each scenario runs twice: with the agent's long-lived engine (its memory), and with a fresh
// engine per sync (no memory); after the same full syncs (a logon) both must end the same. The
// memory may delay a writer's value until a full read; it must never do worse than that.

type Server = ReturnType<ReplicatedDirectory['server']>;

/** A store in front of a server: `beforeWrite` runs once, between the engine's read and its write. */
class Interposed implements DirectoryStore {
  beforeWrite: (() => void) | undefined;
  /** Applies the write, then reports it failed with this error (once). */
  failAfterApply: Error | undefined;
  /** Applies the stamp's removal and the token removals only (the first request of a split write), then fails (once). */
  splitFail = false;
  constructor(public target: Server) {}
  readStamp() {
    return this.target.readStamp();
  }
  read() {
    return this.target.read();
  }
  readKeys() {
    return this.target.readKeys();
  }
  async write(change: DirectoryChange): Promise<void> {
    const hook = this.beforeWrite;
    this.beforeWrite = undefined;
    hook?.();
    if (this.splitFail) {
      this.splitFail = false;
      await this.target.write({
        stamp: { remove: change.stamp.remove, add: [] },
        tokens: { remove: change.tokens?.remove ?? [], add: change.tokens?.add.slice(0, 1) ?? [] },
      });
      throw new CredroamError(
        'E_UNREACHABLE',
        'injected: connection lost between the requests of a split write',
      );
    }
    await this.target.write(change);
    const error = this.failAfterApply;
    this.failAfterApply = undefined;
    if (error) throw error;
  }
}

interface Endpoint {
  readonly local: MemoryLocalStore;
  readonly state: MemorySyncStateStore;
  readonly store: Interposed;
  sync(options?: SyncOptions): ReturnType<ReturnType<typeof makeEngine>['engine']['sync']>;
}

interface World {
  readonly clock: { now: number };
  readonly dir: ReplicatedDirectory;
  /** The agent under test: a long-lived engine (its memory), or a fresh engine per sync. */
  readonly a: Endpoint;
  /** Another endpoint, on replica `bReplica`, with a long-lived engine. */
  readonly b: Endpoint;
  readonly remembers: boolean;
  tick(): void;
}

function world(remembers: boolean, options: { replicas?: number; bReplica?: number } = {}): World {
  const clock = { now: 1_700_000_000_000 };
  const now = () => clock.now;
  const dir = new ReplicatedDirectory(options.replicas ?? 1);
  const endpoint = (replica: number, longLived: boolean): Endpoint => {
    const local = new MemoryLocalStore(now);
    const state = new MemorySyncStateStore();
    const store = new Interposed(dir.server(replica));
    const make = () => makeEngine({ directory: store, local, state, now }).engine;
    const kept = make();
    return { local, state, store, sync: (o) => (longLived ? kept : make()).sync(o) };
  };
  return {
    clock,
    dir,
    a: endpoint(0, remembers),
    b: endpoint(options.bReplica ?? 0, true),
    remembers,
    tick: () => {
      clock.now += 1000;
    },
  };
}

/** What an endpoint holds, by name and body (the bytes of the sealing differ from run to run). */
function holding(local: MemoryLocalStore): string[] {
  return [...local.items.values()]
    .map((i) => {
      const c = Buffer.from(i.content);
      return `${i.kind}:${c.subarray(0, 8).toString('latin1').replace(/_+$/, '')}=${c.subarray(16).toString()}${i.archived ? ' (archived)' : ''}`;
    })
    .sort();
}

/** The logon of both endpoints: full syncs, replication drained, until nothing moves. */
async function logon(w: World): Promise<void> {
  for (let round = 0; round < 3; round++) {
    w.dir.replicateAll();
    w.tick();
    await w.a.sync({ full: true });
    w.dir.replicateAll();
    w.tick();
    await w.b.sync({ full: true });
  }
  w.dir.replicateAll();
}

/**
 * Runs `scenario` with and without the memory, then a logon; both runs must end with the same
 * credentials on both endpoints, the endpoints agreeing. Returns what they hold (with the memory).
 */
async function sameAsWithout(
  t: ExecutionContext,
  scenario: (w: World) => Promise<void>,
  options: { replicas?: number; bReplica?: number } = {},
): Promise<string[]> {
  const outcomes: Array<{ a: string[]; b: string[] }> = [];
  for (const remembers of [true, false]) {
    const w = world(remembers, options);
    await scenario(w);
    await logon(w);
    outcomes.push({ a: holding(w.a.local), b: holding(w.b.local) });
  }
  const [withMemory, without] = outcomes as [{ a: string[]; b: string[] }, { a: string[]; b: string[] }];
  t.deepEqual(withMemory.a, withMemory.b, 'the endpoints agree (with the memory)');
  t.deepEqual(without.a, without.b, 'the endpoints agree (without)');
  t.deepEqual(withMemory.a, without.a, 'the memory changed nothing once both read in full');
  return withMemory.a;
}

/** a and b both hold c0..c2, settled. */
async function settled(w: World): Promise<LocalItem[]> {
  const items = ['c0', 'c1', 'c2'].map((n) => w.a.local.userPut('cert', n, 'v1'));
  w.tick();
  await w.a.sync();
  w.dir.replicateAll();
  w.tick();
  await w.b.sync();
  w.tick();
  await w.a.sync(); // a's memory now holds the directory as b left it (nothing: b had nothing to write)
  return items;
}

const keyOf = (item: LocalItem) => tokenKey(item.kind, item.id);
/** The name an item was put under (its content's first bytes). */
const nameOf = (item: LocalItem) =>
  Buffer.from(item.content).subarray(0, 8).toString('latin1').replace(/_+$/, '');
const named = (local: MemoryLocalStore, name: string) =>
  [...local.items.values()].find((i) => nameOf(i) === name);
const replica = (w: World, i = 0) => w.dir.replicas[i]!;
/** The values (base64) of an item's token on replica `i`. */
function valuesOf(w: World, item: LocalItem, i = 0): string[] {
  return [...replica(w, i).tokens].filter((v) => {
    const d = decodeHeader(Buffer.from(v, 'base64'), 1 << 20);
    return d.ok && d.header.id === item.id;
  });
}
/** Sets the stamp of replica `i` to `stamp`, leaving every value as it is. */
function setStamp(w: World, stamp: readonly string[], i = 0): void {
  replica(w, i).stamp.clear();
  for (const s of stamp) replica(w, i).stamp.add(s);
}
const stampOf = (w: World, i = 0) => [...replica(w, i).stamp];

async function reads(w: World, sync: () => Promise<unknown>) {
  const before = { ...w.dir.ops };
  await sync();
  return { read: w.dir.ops.read - before.read, readStamp: w.dir.ops.readStamp - before.readStamp };
}

// --- (a) a directory writer

test('a writer sets the stamp back (ABA) after b deleted a certificate, and a adds one: the deletion reaches a at the full read, as without the memory', async (t) => {
  const held = await sameAsWithout(t, async (w) => {
    const [gone] = await settled(w);
    const mine = stampOf(w);
    w.b.local.userDelete(keyOf(gone!));
    w.tick();
    await w.b.sync();
    setStamp(w, mine); // b's stamp replaced by the one a wrote: a's memory matches again
    w.a.local.userPut('cert', 'new', 'v1');
    w.tick();
    const r = await reads(w, () => w.a.sync());
    if (w.remembers) t.is(r.read, 0, 'the memory served (the tombstone hidden)');
  });
  t.deepEqual(held, ['cert:c1=v1', 'cert:c2=v1', 'cert:new=v1']);
});

test('a writer sets the stamp back after b deleted a certificate a then changes: the removal conflicts, a reads in full, the change beats the deletion', async (t) => {
  const held = await sameAsWithout(t, async (w) => {
    const [gone] = await settled(w);
    const mine = stampOf(w);
    w.b.local.userDelete(keyOf(gone!));
    w.tick();
    await w.b.sync();
    setStamp(w, mine);
    w.tick();
    w.a.local.userPut('cert', 'c0', 'v2');
    w.tick();
    const report = await w.a.sync();
    if (w.remembers) t.is(report.attempts, 2, 'the memory planned; its removal conflicted');
  });
  t.deepEqual(held, ['cert:c0=v2', 'cert:c1=v1', 'cert:c2=v1']);
});

test('a writer sets the stamp back after b changed a certificate, and a adds one: b’s version wins at the full read, as without the memory', async (t) => {
  const held = await sameAsWithout(t, async (w) => {
    await settled(w);
    const mine = stampOf(w);
    w.b.local.userPut('cert', 'c1', 'v2');
    w.tick();
    await w.b.sync();
    setStamp(w, mine);
    w.a.local.userPut('cert', 'new', 'v1');
    w.tick();
    await w.a.sync();
  });
  t.deepEqual(held, ['cert:c0=v1', 'cert:c1=v2', 'cert:c2=v1', 'cert:new=v1']);
});

test('a writer sets the stamp back after b changed a certificate that a changes too: the conflict resolves as without the memory', async (t) => {
  const held = await sameAsWithout(t, async (w) => {
    await settled(w);
    const mine = stampOf(w);
    w.b.local.userPut('cert', 'c1', 'from-b');
    w.tick();
    await w.b.sync();
    setStamp(w, mine);
    w.tick();
    w.a.local.userPut('cert', 'c1', 'from-a');
    w.tick();
    await w.a.sync();
  });
  t.deepEqual(held, ['cert:c0=v1', 'cert:c1=from-a', 'cert:c2=v1']);
});

test('a writer removes a value between a’s stamp read and its write, stamp untouched: a’s upload lands, and the full read writes the value again', async (t) => {
  const held = await sameAsWithout(t, async (w) => {
    const [, victim] = await settled(w);
    w.a.local.userPut('cert', 'new', 'v1');
    w.a.store.beforeWrite = () => {
      for (const v of valuesOf(w, victim!)) replica(w).tokens.delete(v);
    };
    w.tick();
    await w.a.sync();
    t.deepEqual(valuesOf(w, victim!), [], 'the directory lost the value until the logon');
  });
  t.deepEqual(held, ['cert:c0=v1', 'cert:c1=v1', 'cert:c2=v1', 'cert:new=v1']);
});

test('a writer removes the value of a certificate a deletes, between a’s stamp read and its write: the tombstone’s removal conflicts and the deletion lands after a full read', async (t) => {
  const held = await sameAsWithout(t, async (w) => {
    const [gone] = await settled(w);
    w.a.local.userDelete(keyOf(gone!));
    w.a.store.beforeWrite = () => {
      for (const v of valuesOf(w, gone!)) replica(w).tokens.delete(v);
    };
    w.tick();
    const report = await w.a.sync();
    t.is(report.attempts, 2);
  });
  t.deepEqual(held, ['cert:c1=v1', 'cert:c2=v1']);
});

test('a writer replays an old tombstone of a live certificate behind the stamp: the live version keeps winning', async (t) => {
  const held = await sameAsWithout(t, async (w) => {
    await settled(w);
    // An old life of c1: deleted by b, then added again by a. Its tombstone is saved by the writer.
    const c1 = named(w.a.local, 'c1');
    w.b.local.userDelete(keyOf(c1!));
    w.tick();
    await w.b.sync();
    const tombstone = valuesOf(w, c1!);
    w.tick();
    await w.a.sync();
    w.a.local.userPut('cert', 'c1', 'v3');
    w.tick();
    await w.a.sync();
    w.tick();
    await w.b.sync();
    // The writer removes the live value and puts the old tombstone back, stamp untouched; a then
    // adds a certificate (its memory holds the live value).
    for (const v of valuesOf(w, c1!)) replica(w).tokens.delete(v);
    for (const v of tombstone) replica(w).tokens.add(v);
    w.a.local.userPut('cert', 'new', 'v1');
    w.tick();
    await w.a.sync();
  });
  t.true(held.includes('cert:c1=v3'), 'the version added after the deletion survives');
});

test('a writer adds values behind the stamp (a flood of garbage and a duplicate of a token): a’s sync lands, and nothing is lost', async (t) => {
  const held = await sameAsWithout(t, async (w) => {
    const [c0] = await settled(w);
    for (let i = 0; i < 50; i++) replica(w).tokens.add(Buffer.from(`garbage ${i}`).toString('base64'));
    // A copy of c0's value, one byte changed in its sealed part: fails authentication.
    const v = Buffer.from(valuesOf(w, c0!)[0]!, 'base64');
    v.writeUInt8(v.readUInt8(v.length - 1) ^ 1, v.length - 1);
    replica(w).tokens.add(v.toString('base64'));
    w.a.local.userPut('cert', 'new', 'v1');
    w.tick();
    await w.a.sync();
  });
  t.deepEqual(held, ['cert:c0=v1', 'cert:c1=v1', 'cert:c2=v1', 'cert:new=v1']);
});

// --- (b) the directory's server

test('the server applies a write and reports a conflict: the memory is forgotten, the next attempt reads in full, nothing doubles', async (t) => {
  const held = await sameAsWithout(t, async (w) => {
    await settled(w);
    w.a.local.userPut('cert', 'new', 'v1');
    w.a.store.failAfterApply = new ConflictError('injected: applied, then reported lost');
    w.tick();
    const report = await w.a.sync();
    t.is(report.outcome, 'synced');
    w.a.local.userPut('cert', 'newer', 'v1');
    w.tick();
    const r = await reads(w, () => w.a.sync());
    if (w.remembers) t.is(r.read, 0, 'the memory is back once a full read and a write agreed');
  });
  t.deepEqual(held, ['cert:c0=v1', 'cert:c1=v1', 'cert:c2=v1', 'cert:new=v1', 'cert:newer=v1']);
});

test('the server applies the first request of a split write (the stamp removed, the values replaced) and the connection is lost: the next sync reads in full', async (t) => {
  const held = await sameAsWithout(t, async (w) => {
    await settled(w);
    w.a.local.userPut('cert', 'c1', 'v2');
    w.a.local.userPut('cert', 'new', 'v1');
    w.a.store.splitFail = true;
    w.tick();
    await t.throwsAsync(() => w.a.sync());
    t.deepEqual(stampOf(w), [], 'the entry is left without a stamp');
    w.a.local.userPut('cert', 'newer', 'v1');
    w.tick();
    const r = await reads(w, () => w.a.sync());
    t.is(r.read, 1, 'a write in doubt: read in full');
  });
  t.deepEqual(held, ['cert:c0=v1', 'cert:c1=v2', 'cert:c2=v1', 'cert:new=v1', 'cert:newer=v1']);
});

test('the server answers the stamp read with the remembered stamp over values it changed: no worse than the same lie to a full read', async (t) => {
  const held = await sameAsWithout(t, async (w) => {
    const [c0] = await settled(w);
    // The server drops c0's value and keeps the stamp (a lie to either read).
    for (const v of valuesOf(w, c0!)) replica(w).tokens.delete(v);
    w.a.local.userPut('cert', 'new', 'v1');
    w.tick();
    await w.a.sync();
    t.truthy(w.a.local.items.get(keyOf(c0!)), 'a keeps c0');
  });
  t.deepEqual(held, ['cert:c0=v1', 'cert:c1=v1', 'cert:c2=v1', 'cert:new=v1']);
});

// --- (c) a program of the user's

test('another process (a CLI sync with its own engine) synced in between: the agent’s next change sync reads in full', async (t) => {
  const w = world(true);
  await settled(w);
  // b adds a certificate; a CLI sync of a's user (same store, same state) takes it.
  w.b.local.userPut('cert', 'from-b', 'v1');
  w.tick();
  await w.b.sync();
  const cli = makeEngine({
    directory: w.a.store,
    local: w.a.local,
    state: w.a.state,
    now: () => w.clock.now,
  });
  w.tick();
  await cli.engine.sync();
  w.a.local.userPut('cert', 'new', 'v1');
  w.tick();
  const r = await reads(w, () => w.a.sync());
  t.is(r.read, 1, 'the state records the CLI’s stamp, not the memory’s');
  t.truthy(named(w.a.local, 'from-b'));
});

test('a full CLI sync took b’s certificate after a writer set the stamp back: the agent’s memory (which lacks it) serves, and b’s certificate stays everywhere', async (t) => {
  const held = await sameAsWithout(t, async (w) => {
    await settled(w);
    const mine = stampOf(w);
    w.b.local.userPut('cert', 'from-b', 'v1');
    w.tick();
    await w.b.sync();
    setStamp(w, mine);
    // `credroam sync --full` (the stamp shortcut would see nothing to do) takes it.
    const cli = makeEngine({
      directory: w.a.store,
      local: w.a.local,
      state: w.a.state,
      now: () => w.clock.now,
    });
    w.tick();
    await cli.engine.sync({ full: true });
    w.a.local.userPut('cert', 'new', 'v1');
    w.tick();
    await w.a.sync();
    t.truthy(named(w.a.local, 'from-b'));
  });
  t.deepEqual(held, ['cert:c0=v1', 'cert:c1=v1', 'cert:c2=v1', 'cert:from-b=v1', 'cert:new=v1']);
});

test('another process’s write in doubt (pending in the state): the agent reads in full', async (t) => {
  const w = world(true);
  await settled(w);
  const cliStore = new Interposed(w.dir.server(0));
  const cli = makeEngine({ directory: cliStore, local: w.a.local, state: w.a.state, now: () => w.clock.now });
  w.a.local.userPut('cert', 'by-cli', 'v1');
  cliStore.failAfterApply = new CredroamError('E_UNREACHABLE', 'injected: lost after apply');
  w.tick();
  await t.throwsAsync(() => cli.engine.sync());
  t.truthy((await w.a.state.load())?.pending);
  w.a.local.userPut('cert', 'new', 'v1');
  w.tick();
  t.is((await reads(w, () => w.a.sync())).read, 1);
});

test('a dry run between syncs does not make the memory serve a stamp the state does not record', async (t) => {
  const w = world(true);
  await settled(w);
  w.b.local.userPut('cert', 'from-b', 'v1');
  w.tick();
  await w.b.sync();
  w.tick();
  await w.a.sync({ dryRun: true }); // reads b's stamp in full; records nothing
  w.a.local.userPut('cert', 'new', 'v1');
  w.tick();
  const r = await reads(w, () => w.a.sync());
  t.is(r.read, 1);
  t.truthy(named(w.a.local, 'from-b'));
});

test('the state file rewritten by another program with the remembered stamp but an older base: no loss', async (t) => {
  const held = await sameAsWithout(t, async (w) => {
    await settled(w);
    const old = (await w.a.state.load())!;
    w.a.local.userPut('cert', 'new', 'v1');
    w.tick();
    await w.a.sync();
    // The program puts back the state of before, with the stamp of now (the memory's).
    const now = (await w.a.state.load())!;
    await w.a.state.save({ ...old, stamp: now.stamp });
    w.a.local.userPut('cert', 'newer', 'v1');
    w.tick();
    await w.a.sync();
  });
  t.deepEqual(held, ['cert:c0=v1', 'cert:c1=v1', 'cert:c2=v1', 'cert:new=v1', 'cert:newer=v1']);
});

test('a clock set back, but not before the full read: the memory must not outlive its age', async (t) => {
  const w = world(true);
  await settled(w);
  // Nine minutes on, a's memory serves (it is younger than ten).
  w.clock.now += DIRECTORY_MEMO_MAX_AGE_MS - 60_000;
  w.a.local.userPut('cert', 'one', 'v1');
  t.is((await reads(w, () => w.a.sync())).read, 0);
  // The clock goes back five minutes, and then on: by the clock the memory is four minutes old,
  // in fact fourteen. A clock that went back must forget it (decision 028).
  w.clock.now -= 5 * 60_000;
  w.a.local.userPut('cert', 'two', 'v1');
  t.is((await reads(w, () => w.a.sync())).read, 1, 'a clock that went back: read in full');
});

// --- (d) replication

test('replicas that lose deletes, and a that fails over to the other replica: the memory hides the loser until the logon, as without it', async (t) => {
  const held = await sameAsWithout(
    t,
    async (w) => {
      const [c0, c1] = await settled(w);
      // a changes c1 and deletes c0 on replica 0; replica 1 gets it without the deletes.
      w.a.local.userPut('cert', 'c1', 'v2');
      w.a.local.userDelete(keyOf(c0!));
      w.tick();
      await w.a.sync();
      while (w.dir.replicateOne(1, { lossy: true })) {}
      t.is(valuesOf(w, c1!, 1).length, 2, 'replica 1 holds both versions of c1');
      // a fails over to replica 1 (same stamp there) and changes c2.
      w.a.store.target = w.dir.server(1);
      w.a.local.userPut('cert', 'c2', 'v2');
      w.tick();
      await w.a.sync();
      // b, on replica 1, syncs.
      w.tick();
      await w.b.sync();
    },
    { replicas: 2, bReplica: 1 },
  );
  t.deepEqual(held, ['cert:c1=v2', 'cert:c2=v2']);
});

test('a fails over to a replica that has not received its write: the stamp differs, the sync reads in full', async (t) => {
  const w = world(true, { replicas: 2 });
  await settled(w);
  w.dir.replicateAll();
  w.a.local.userPut('cert', 'new', 'v1');
  w.tick();
  await w.a.sync();
  w.a.store.target = w.dir.server(1); // not replicated yet
  w.a.local.userPut('cert', 'newer', 'v1');
  w.tick();
  t.is((await reads(w, () => w.a.sync())).read, 1);
  w.dir.replicateAll();
  await w.b.sync();
  t.is(w.b.local.items.size, 5);
});

// --- the memory on its own

const bytes = (s: string) => new Uint8Array(Buffer.from(s));

test('DirectoryMemo: a thousand writes replacing values hold what the directory holds, no more', (t) => {
  const m = new DirectoryMemo(1000);
  m.remember({ stamp: [bytes('s0')], tokens: [bytes('a0'), bytes('b0'), bytes('c0')], keys: [] }, 0);
  for (let i = 1; i <= 1000; i++) {
    m.written({ remove: [bytes(`b${i - 1}`)], add: [bytes(`b${i}`)] }, bytes(`s${i}`));
  }
  const held = m.recall([bytes('s1000')], 1)?.tokens.map((v) => Buffer.from(v).toString());
  t.deepEqual(held?.sort(), ['a0', 'b1000', 'c0']);
});

test('DirectoryMemo: a read of values the server sent twice (no store reports them) is handled as a full read would', (t) => {
  const m = new DirectoryMemo(1000);
  m.remember({ stamp: [bytes('s0')], tokens: [bytes('a'), bytes('a'), bytes('b')], keys: [] }, 0);
  // The write removes `a` once: the memory must not keep a copy the directory no longer holds and
  // say nothing; here it keeps the second copy, which the next write that needs it finds gone.
  m.written({ remove: [bytes('a')], add: [bytes('c')] }, bytes('s1'));
  const held = m.recall([bytes('s1')], 1)?.tokens.map((v) => Buffer.from(v).toString());
  t.true(held === undefined || held.filter((v) => v === 'a').length <= 1);
});

/** A directory whose entry holds more value bytes than the memory keeps (a writer's flood). */
class FloodedDirectory implements DirectoryStore {
  readonly stamp = [bytes('stamp')];
  readonly tokens: Uint8Array[];
  reads = 0;
  constructor(count: number, size: number) {
    const all = new Uint8Array(count * size);
    this.tokens = Array.from({ length: count }, (_, i) => all.subarray(i * size, (i + 1) * size));
  }
  async readStamp() {
    return this.stamp;
  }
  async read(): Promise<DirectorySnapshot> {
    this.reads++;
    return { stamp: this.stamp, tokens: this.tokens, keys: [] };
  }
  async readKeys() {
    return { stamp: this.stamp, keys: [] };
  }
  async write(): Promise<void> {
    throw new Error('not expected');
  }
}

test('a writer floods the entry with more bytes than the memory keeps: the sync runs (the values are skipped as too large), as without the memory, and the flood is not held', async (t) => {
  const size = 1 << 20;
  const count = Math.ceil((DIRECTORY_MEMO_MAX_BYTES + 1) / size);
  const directory = new FloodedDirectory(count, size);
  const local = new MemoryLocalStore();
  const { engine } = makeEngine({ directory, local, policy: { maxTokens: count } });
  const report = await engine.sync();
  t.is(report.outcome, 'synced');
  t.is(report.skipped.length, count, 'each value reported too large');
  // A change of the store: the flood was not remembered, so the sync reads in full again.
  local.userPut('cert', 'new', 'v1');
  await t.throwsAsync(() => engine.sync(), { message: 'not expected' }); // its upload meets the stub's write
  t.is(directory.reads, 2);
});

test('DirectoryMemo: a read of more value bytes than it keeps (or than one string holds) is not remembered', (t) => {
  const m = new DirectoryMemo(1000, 8);
  m.remember({ stamp: [bytes('s1')], tokens: [bytes('12345'), bytes('6789')], keys: [] }, 0);
  t.is(m.stamp(1), undefined);
  m.remember({ stamp: [bytes('s1')], tokens: [bytes('1234'), bytes('5678')], keys: [] }, 0);
  t.truthy(m.stamp(1));
});
