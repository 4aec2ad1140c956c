import fc from 'fast-check';
import {
  type LocalItem,
  MemorySyncStateStore,
  type SyncState,
  type TokenKind,
  versionHash,
} from '../../src/index.js';
import { MemoryLocalStore, makeEngine, ReplicatedDirectory } from '../../src/testing/index.js';

const ENDPOINTS = 3;
const REPLICAS = 2;
const NAMES = ['alpha', 'beta', 'gamma'] as const;
const KINDS: readonly TokenKind[] = ['cert', 'key'];

export type Command =
  | { t: 'put'; e: number; kind: number; name: number }
  | { t: 'delete'; e: number; kind: number; name: number }
  | { t: 'sync'; e: number; r: number }
  | { t: 'crash'; e: number; r: number; at: 'read' | 'after-write' | 'save' | 'local-put' }
  | { t: 'replicate'; r: number; lossy: boolean };

const endpoint = fc.integer({ min: 0, max: ENDPOINTS - 1 });
const replica = fc.integer({ min: 0, max: REPLICAS - 1 });
const kind = fc.integer({ min: 0, max: KINDS.length - 1 });
const name = fc.integer({ min: 0, max: NAMES.length - 1 });
/** The command mix; `lossy` is the share of replication steps that lose their deletes. */
export function commands(lossy = 0): fc.Arbitrary<Command> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ t: fc.constant('put' as const), e: endpoint, kind, name }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('delete' as const), e: endpoint, kind, name }) },
    { weight: 5, arbitrary: fc.record({ t: fc.constant('sync' as const), e: endpoint, r: replica }) },
    {
      weight: 1,
      arbitrary: fc.record({
        t: fc.constant('crash' as const),
        e: endpoint,
        r: replica,
        at: fc.constantFrom('read' as const, 'after-write' as const, 'save' as const, 'local-put' as const),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        t: fc.constant('replicate' as const),
        r: replica,
        lossy: fc.double({ min: 0, max: 1, noNaN: true }).map((x) => x < lossy),
      }),
    },
  );
}

class CrashingState extends MemorySyncStateStore {
  failNextSave = false;
  override async save(state: SyncState): Promise<void> {
    if (this.failNextSave) {
      this.failNextSave = false;
      throw new Error('injected: killed before the state was saved');
    }
    return super.save(state);
  }
}

interface KeyHistory {
  created: Set<string>;
  last: { op: 'create'; hash: string } | { op: 'delete'; definitive: boolean } | undefined;
}

/**
 * Runs `commands`, then quiescence, then checks. With `fullSyncHeals`, replicas may differ after
 * normal syncs (a lossy step delivered a writer's new stamp but not its deletes, so the stamp
 * shortcut sees nothing to read there); the endpoints must still agree, and one full sync through
 * each replica — what the agent runs at every logon — must make the replicas agree.
 */
export async function run(
  commands: readonly Command[],
  options: { fullSyncHeals?: boolean } = {},
): Promise<string | undefined> {
  const clock = { now: 1_700_000_000_000 };
  const dir = new ReplicatedDirectory(REPLICAS);
  const endpoints = Array.from({ length: ENDPOINTS }, () => {
    const local = new MemoryLocalStore(() => clock.now);
    const state = new CrashingState();
    const servers = Array.from({ length: REPLICAS }, (_, r) => dir.server(r));
    const engines = servers.map(
      (server) => makeEngine({ directory: server, local, state, now: () => clock.now }).engine,
    );
    return { local, state, servers, engines };
  });
  const history = new Map<string, KeyHistory>();
  const keyFor = (k: number, n: number): [TokenKind, string] => [KINDS[k]!, NAMES[n]!];
  let counter = 0;

  for (const c of commands) {
    clock.now += 1000;
    switch (c.t) {
      case 'put': {
        const [k, n] = keyFor(c.kind, c.name);
        const item = endpoints[c.e]!.local.userPut(k, n, `v${counter++}`);
        const h = history.get(`${k}:${item.id}`) ?? { created: new Set(), last: undefined };
        const hash = versionHash(k, 0, item.content);
        h.created.add(hash);
        h.last = { op: 'create', hash };
        history.set(`${k}:${item.id}`, h);
        break;
      }
      case 'delete': {
        const [k, n] = keyFor(c.kind, c.name);
        const ep = endpoints[c.e]!;
        const key = [...ep.local.items.keys()].find((x) => {
          const item = ep.local.items.get(x)!;
          return (
            item.kind === k &&
            Buffer.from(item.content).subarray(0, 8).toString('latin1').startsWith(n.slice(0, 8))
          );
        });
        if (key === undefined) break;
        const mine = ep.local.items.get(key)!.content;
        // Made with knowledge: every copy anywhere is this one, and this endpoint had recorded it as
        // synced (in its base, or in the write-ahead of a write the server applied). A deletion right
        // after a download whose sync died before recording it is undone instead: the safe side.
        const saved = await ep.state.load();
        const hash = versionHash(k, 0, mine);
        const recorded = saved?.base[key]?.hash === hash || saved?.pending?.[key]?.hash === hash;
        const definitive =
          recorded &&
          endpoints.every((other) => {
            const theirs = other.local.items.get(key);
            return theirs === undefined || Buffer.from(theirs.content).equals(Buffer.from(mine));
          });

        ep.local.userDelete(key);
        history.get(key)!.last = { op: 'delete', definitive };
        break;
      }
      case 'sync':
        await endpoints[c.e]!.engines[c.r]!.sync();
        break;
      case 'crash': {
        const ep = endpoints[c.e]!;
        if (c.at === 'read') ep.servers[c.r]!.failNextRead = true;
        if (c.at === 'after-write') ep.servers[c.r]!.failNextWriteAfterApply = true;
        if (c.at === 'save') ep.state.failNextSave = true;
        if (c.at === 'local-put') ep.local.failNext = 'put';
        await ep.engines[c.r]!.sync().catch(() => undefined);
        ep.servers[c.r]!.failNextRead = false;
        ep.servers[c.r]!.failNextWriteAfterApply = false;
        ep.state.failNextSave = false;
        ep.local.failNext = undefined;
        break;
      }
      case 'replicate':
        dir.replicateOne(c.r, { lossy: c.lossy });
        break;
    }
  }

  // Quiescence: normal syncs (the stamp shortcut included) against both servers, replication drained.
  dir.replicateAll();
  for (let round = 0; round < 10; round++) {
    const writes = dir.ops.write;
    let localChanges = 0;
    for (let r = 0; r < REPLICAS; r++) {
      for (const ep of endpoints) {
        clock.now += 1000;
        const report = await ep.engines[r]!.sync();
        localChanges += report.counts.downloaded + report.counts.removed;
      }
      dir.replicateAll();
    }
    if (dir.ops.write === writes && localChanges === 0) break;
  }

  const localSets = endpoints.map((ep) =>
    [...ep.local.items.entries()]
      .map(([k, v]) => `${k}=${Buffer.from(v.content).toString('hex')}`)
      .sort()
      .join(','),
  );
  if (localSets.some((s) => s !== localSets[0])) return `endpoints differ:\n${localSets.join('\n')}`;
  const final = endpoints[0]!.local.items;
  for (const [key, h] of history) {
    const item: LocalItem | undefined = final.get(key);
    if (h.last?.op === 'create') {
      if (item === undefined) return `${key} was lost: its last operation created a version`;
      if (!h.created.has(versionHash(item.kind, 0, item.content)))
        return `${key} holds a version never created`;
    }
    if (h.last?.op === 'delete' && h.last.definitive && item !== undefined) {
      return `${key} came back after a deletion made with knowledge of every copy`;
    }
  }

  if (options.fullSyncHeals) {
    for (let r = 0; r < REPLICAS; r++) {
      for (const ep of endpoints) {
        clock.now += 1000;
        await ep.engines[r]!.sync({ full: true });
      }
    }
    dir.replicateAll();
  }
  const serverSets = dir.replicas.map((r) => [...r.tokens].sort().join(','));
  if (serverSets.some((s) => s !== serverSets[0])) return 'the servers differ after replication';
  return undefined;
}
