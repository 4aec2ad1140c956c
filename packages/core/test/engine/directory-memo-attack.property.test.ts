import test from 'ava';
import fc from 'fast-check';
import {
  type DirectoryChange,
  type DirectoryStore,
  MemorySyncStateStore,
  type TokenKind,
  versionHash,
} from '../../src/index.js';
import { MemoryLocalStore, makeEngine, ReplicatedDirectory } from '../../src/testing/index.js';

// Decision 028 under random attack: each endpoint has ONE long-lived engine (the agent's memory)
// whose store fails over between two replicas that may lose deletes, while a directory writer
// removes values, replays old ones and sets the stamp back, all behind the stamp. The same commands
// run again with a fresh engine per sync (no memory). After the logon (full syncs through both
// replicas, replication drained), wherever the run without memory keeps every credential whose last
// operation created it and its endpoints agree, the run with the memory must too.

const ENDPOINTS = 2;
const REPLICAS = 2;
const NAMES = ['alpha', 'beta', 'gamma'] as const;
const KINDS: readonly TokenKind[] = ['cert', 'key'];

type Command =
  | { t: 'put'; e: number; kind: number; name: number }
  | { t: 'delete'; e: number; kind: number; name: number }
  | { t: 'sync'; e: number; r: number }
  | { t: 'replicate'; r: number; lossy: boolean }
  | { t: 'writer-remove'; r: number; pick: number }
  | { t: 'writer-replay'; r: number; pick: number }
  | { t: 'writer-stamp-back'; r: number; pick: number };

const e = fc.integer({ min: 0, max: ENDPOINTS - 1 });
const r = fc.integer({ min: 0, max: REPLICAS - 1 });
const pick = fc.nat(1000);
const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('put' as const),
      e,
      kind: fc.nat(KINDS.length - 1),
      name: fc.nat(NAMES.length - 1),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('delete' as const),
      e,
      kind: fc.nat(KINDS.length - 1),
      name: fc.nat(NAMES.length - 1),
    }),
  },
  { weight: 6, arbitrary: fc.record({ t: fc.constant('sync' as const), e, r }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('replicate' as const), r, lossy: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('writer-remove' as const), r, pick }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('writer-replay' as const), r, pick }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('writer-stamp-back' as const), r, pick }) },
);

/** A store that talks to whichever replica the endpoint is failed over to. */
class Failover implements DirectoryStore {
  current = 0;
  constructor(private readonly servers: readonly DirectoryStore[]) {}
  readStamp() {
    return this.servers[this.current]!.readStamp();
  }
  read() {
    return this.servers[this.current]!.read();
  }
  readKeys() {
    return this.servers[this.current]!.readKeys();
  }
  write(change: DirectoryChange) {
    return this.servers[this.current]!.write(change);
  }
}

async function run(commands: readonly Command[], remembers: boolean): Promise<string | undefined> {
  const clock = { now: 1_700_000_000_000 };
  const now = () => clock.now;
  const dir = new ReplicatedDirectory(REPLICAS);
  const endpoints = Array.from({ length: ENDPOINTS }, () => {
    const local = new MemoryLocalStore(now);
    const state = new MemorySyncStateStore();
    const store = new Failover(Array.from({ length: REPLICAS }, (_, i) => dir.server(i)));
    const make = () => makeEngine({ directory: store, local, state, now }).engine;
    const kept = make();
    return { local, store, engine: () => (remembers ? kept : make()) };
  });
  const seenValues = new Set<string>();
  const seenStamps: string[][] = [];
  const observe = () => {
    for (const rep of dir.replicas) {
      for (const v of rep.tokens) seenValues.add(v);
      seenStamps.push([...rep.stamp]);
    }
  };
  const last = new Map<string, { op: 'create'; created: Set<string> } | { op: 'delete' }>();
  const created = new Map<string, Set<string>>();
  let counter = 0;

  for (const c of commands) {
    clock.now += 1000;
    switch (c.t) {
      case 'put': {
        const kind = KINDS[c.kind]!;
        const item = endpoints[c.e]!.local.userPut(kind, NAMES[c.name]!, `v${counter++}`);
        const key = `${kind}:${item.id}`;
        const set = created.get(key) ?? new Set<string>();
        set.add(versionHash(kind, 0, item.content));
        created.set(key, set);
        last.set(key, { op: 'create', created: set });
        break;
      }
      case 'delete': {
        const kind = KINDS[c.kind]!;
        const ep = endpoints[c.e]!;
        const key = [...ep.local.items.keys()].find((k) => {
          const item = ep.local.items.get(k)!;
          return (
            item.kind === kind &&
            Buffer.from(item.content).subarray(0, 8).toString('latin1').startsWith(NAMES[c.name]!.slice(0, 8))
          );
        });
        if (key === undefined) break;
        ep.local.userDelete(key);
        last.set(key, { op: 'delete' });
        break;
      }
      case 'sync': {
        const ep = endpoints[c.e]!;
        ep.store.current = c.r;
        await ep.engine().sync();
        observe();
        break;
      }
      case 'replicate':
        dir.replicateOne(c.r, { lossy: c.lossy });
        observe();
        break;
      case 'writer-remove': {
        const values = [...dir.replicas[c.r]!.tokens];
        if (values.length > 0) dir.replicas[c.r]!.tokens.delete(values[c.pick % values.length]!);
        break;
      }
      case 'writer-replay': {
        const values = [...seenValues];
        if (values.length > 0) dir.replicas[c.r]!.tokens.add(values[c.pick % values.length]!);
        break;
      }
      case 'writer-stamp-back': {
        if (seenStamps.length === 0) break;
        const stamp = seenStamps[c.pick % seenStamps.length]!;
        dir.replicas[c.r]!.stamp.clear();
        for (const s of stamp) dir.replicas[c.r]!.stamp.add(s);
        break;
      }
    }
  }

  // The logon, then normal syncs: full syncs through each replica, replication drained.
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < REPLICAS; i++) {
      for (const ep of endpoints) {
        clock.now += 1000;
        ep.store.current = i;
        await ep.engine().sync({ full: true });
        dir.replicateAll();
      }
    }
  }
  const sets = endpoints.map((ep) =>
    [...ep.local.items.entries()]
      .map(([k, v]) => `${k}=${Buffer.from(v.content).toString('hex')}`)
      .sort()
      .join(','),
  );
  if (sets.some((s) => s !== sets[0])) return `endpoints differ:\n${sets.join('\n')}`;
  const final = endpoints[0]!.local.items;
  for (const [key, l] of last) {
    if (l.op !== 'create') continue;
    const item = final.get(key);
    if (item === undefined) return `${key} was lost: its last operation created a version`;
    if (!l.created.has(versionHash(item.kind, 0, item.content)))
      return `${key} holds a version never created`;
  }
  return undefined;
}

test('writers behind the stamp, failover and lossy replicas: the memory loses nothing a fresh engine keeps', async (t) => {
  let compared = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(command, { minLength: 5, maxLength: 50 }), async (cs) => {
      const without = await run(cs, false);
      if (without !== undefined) return; // a writer can do that to full reads too: not the memory's doing
      compared++;
      const withMemory = await run(cs, true);
      if (withMemory !== undefined) throw new Error(`with the memory only: ${withMemory}`);
    }),
    { numRuns: Number(process.env.CREDROAM_PROPERTY_RUNS ?? 300) },
  );
  t.log(`${compared} compared`);
  t.true(compared > 0);
});
