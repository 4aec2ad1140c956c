import { MemoryLocalStore, makeEngine } from '@credroam/core/testing';
import test, { type ExecutionContext } from 'ava';
import { type Slapd, startProviders } from '../src/testing/slapd.js';
import { storeFor } from './support/stores.js';

/**
 * DESIGN R7 on real servers: two OpenLDAP providers replicating with delta-syncrepl (accesslog),
 * endpoints of one user writing through different providers at once, reading from whichever.
 */
const SEEDS = [42, 7, 1234, 99, 2026, 31337];
let servers: Slapd[];
let stop: () => Promise<void>;

test.before(async () => {
  const started = await startProviders(2, { users: ['alice', 'bob', ...SEEDS.map((n) => `carol${n}`)] });
  servers = started.servers;
  stop = started.stop;
});
test.after.always(async () => {
  await stop?.();
});

function endpoint(t: ExecutionContext, uid: string, server: Slapd) {
  const directory = storeFor(server, uid);
  t.teardown(() => directory.close());
  const local = new MemoryLocalStore();
  const { engine, state } = makeEngine({ directory, local, user: uid });
  return { local, engine, state, directory };
}

/** Waits until both providers hold the same token values for the user. */
async function replicated(t: { teardown(f: () => unknown): void }, uid: string): Promise<void> {
  const a = storeFor(servers[0]!, uid);
  const b = storeFor(servers[1]!, uid);
  t.teardown(() => Promise.all([a.close(), b.close()]));
  const key = async (s: typeof a) =>
    (await s.read()).tokens
      .map((v) => Buffer.from(v).toString('base64'))
      .sort()
      .join(',');
  for (let i = 0; i < 200; i++) {
    if ((await key(a)) === (await key(b))) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  const show = async (s: typeof a) =>
    (await s.read()).tokens
      .map((v) => `${Buffer.from(v).subarray(0, 12).toString('hex')}…(${v.length} bytes)`)
      .sort();
  throw new Error(
    `the providers did not converge within 5 s:\n${JSON.stringify(await show(a))}\n${JSON.stringify(await show(b))}`,
  );
}

const names = (local: MemoryLocalStore) =>
  [...local.items.values()]
    .map((i) => Buffer.from(i.content).subarray(0, 8).toString('latin1').replace(/_+$/, ''))
    .sort();

test('concurrent writes through both providers both survive, and neither endpoint’s no-change check hides the other’s', async (t) => {
  const a = endpoint(t, 'alice', servers[0]!);
  const b = endpoint(t, 'alice', servers[1]!);
  a.local.userPut('cert', 'seed', 'v1');
  await a.engine.sync();
  await replicated(t, 'alice');
  await b.engine.sync();
  await a.engine.sync();
  a.local.userPut('cert', 'from-a', 'v1');
  b.local.userPut('key', 'from-b', 'v1');
  await Promise.all([a.engine.sync(), b.engine.sync()]);
  await replicated(t, 'alice');
  for (let round = 0; round < 3; round++) {
    await a.engine.sync();
    await b.engine.sync();
    await replicated(t, 'alice');
  }
  t.deepEqual(names(a.local), ['from-a', 'from-b', 'seed']);
  t.deepEqual(names(b.local), ['from-a', 'from-b', 'seed']);
});

test('conflicting changes of one credential through both providers end with one winner everywhere', async (t) => {
  const a = endpoint(t, 'bob', servers[0]!);
  const b = endpoint(t, 'bob', servers[1]!);
  a.local.userPut('cert', 'doc', 'v1');
  await a.engine.sync();
  await replicated(t, 'bob');
  await b.engine.sync();
  a.local.userPut('cert', 'doc', 'edit on a');
  await new Promise((r) => setTimeout(r, 5));
  b.local.userPut('cert', 'doc', 'edit on b, later');
  await Promise.all([a.engine.sync(), b.engine.sync()]);
  await replicated(t, 'bob');
  for (let round = 0; round < 3; round++) {
    await a.engine.sync();
    await b.engine.sync();
    await replicated(t, 'bob');
  }
  const body = (l: MemoryLocalStore) =>
    [...l.items.values()].map((i) => Buffer.from(i.content).subarray(16).toString());
  t.deepEqual(body(a.local), ['edit on b, later']);
  t.deepEqual(body(b.local), ['edit on b, later']);
  const s = storeFor(servers[0]!, 'bob');
  t.teardown(() => s.close());
  t.is((await s.read()).tokens.length, 1, 'the losing value was removed');
});

for (const seedValue of SEEDS) {
  test(`random interleavings against both providers, concurrent and with no waiting for replication, converge (seed ${seedValue})`, async (t) => {
    const uid = `carol${seedValue}`;
    const eps = [endpoint(t, uid, servers[0]!), endpoint(t, uid, servers[1]!), endpoint(t, uid, servers[0]!)];
    let seed = seedValue;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return (seed >>> 16) % n;
    };
    let counter = 0;
    let deletes = 0;
    let writes = 0;
    for (let step = 0; step < 80; step++) {
      const e = eps[random(eps.length)]!;
      const op = random(4);
      const name = ['one', 'two', 'three'][random(3)]!;
      if (op === 0) e.local.userPut('cert', name, `v${counter++}`);
      else if (op === 1) {
        const key = [...e.local.items.entries()].find(([, i]) =>
          Buffer.from(i.content).subarray(0, 8).toString('latin1').startsWith(name),
        )?.[0];
        if (key) {
          e.local.userDelete(key);
          deletes++;
        }
      } else if (op === 2) {
        const r = await e.engine.sync();
        writes += r.counts.uploaded + r.counts.tombstoned;
      } else {
        // Two endpoints on different providers at once: truly concurrent compare-and-swaps.
        const reports = await Promise.all([eps[0]!.engine.sync(), eps[1]!.engine.sync()]);
        for (const r of reports) writes += r.counts.uploaded + r.counts.tombstoned;
      }
    }
    t.true(deletes > 0 && writes > 0, `${deletes} deletions, ${writes} uploads and tombstones`);
    await replicated(t, uid);
    for (let round = 0; round < 4; round++) {
      for (const e of eps) await e.engine.sync();
      await replicated(t, uid);
    }
    const sets = eps.map((e) =>
      [...e.local.items.values()]
        .map((i) => Buffer.from(i.content).toString('hex'))
        .sort()
        .join(','),
    );
    t.is(sets[1], sets[0]);
    t.is(sets[2], sets[0]);
  });
}
