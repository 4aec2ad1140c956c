import test from 'ava';
import fc from 'fast-check';
import { MemoryLocalStore, makeEngine, ReplicatedDirectory } from '../../src/testing/index.js';
import { commands, run } from '../support/convergence-world.js';

/**
 * N endpoints of one user, two directory servers that replicate with delay, value by value (as
 * OpenLDAP delta-syncrepl and AD linked-value replication do), and random interleavings of adds,
 * changes, deletes, syncs against either server, crashes and replication steps. After quiescence
 * (replication drained, endpoints syncing normally — stamp shortcut included — until nothing moves):
 * every endpoint and server hold the same set; nothing that was not deliberately deleted is lost;
 * nothing deleted with full knowledge comes back.
 */

test('endpoints and lagging replicas converge; nothing is lost; nothing deleted comes back', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(commands(), { minLength: 1, maxLength: 60 }), async (cs) => {
      const problem = await run(cs);
      if (problem !== undefined) throw new Error(problem);
    }),
    { numRuns: Number(process.env.CREDROAM_PROPERTY_RUNS ?? 500) },
  );
  t.pass('every interleaving converged');
});

test('the same when replication loses deletes (as slapd 2.5 delta-syncrepl did); a full sync heals the replicas', async (t) => {
  // Half the replication steps drop the token and key deletes they carry; a replica then keeps an
  // outdated version next to the new one, or a value that was removed. The endpoints agree all the
  // same (the several-values rule picks the same winner everywhere); the replica holds the loser
  // until a full sync through it (every logon) removes it. Longer runs, so that replaced versions
  // are common when a step loses them.
  await fc.assert(
    fc.asyncProperty(fc.array(commands(0.5), { minLength: 20, maxLength: 60 }), async (cs) => {
      const problem = await run(cs, { fullSyncHeals: true });
      if (problem !== undefined) throw new Error(problem);
    }),
    { numRuns: Number(process.env.CREDROAM_PROPERTY_RUNS ?? 500) },
  );
  t.pass('every interleaving converged');
});

test('the multi-valued stamp: concurrent writes through two servers are never hidden by the no-change check', async (t) => {
  // Both endpoints write at once through different servers; replication then merges both values
  // and both stamps. A single-valued stamp would keep one writer's value, and that writer would
  // skip the other's token forever; the set-valued stamp differs from what either wrote.
  const clock = { now: 1_700_000_000_000 };
  const dir = new ReplicatedDirectory(2);
  const mk = (r: number) => {
    const local = new MemoryLocalStore(() => clock.now);
    return { local, engine: makeEngine({ directory: dir.server(r), local, now: () => clock.now }).engine };
  };
  const a = mk(0);
  const b = mk(1);
  a.local.userPut('cert', 'seed', 'v0');
  await a.engine.sync();
  dir.replicateAll();
  await b.engine.sync();
  await a.engine.sync();
  await b.engine.sync();
  a.local.userPut('cert', 'from-a', 'v1');
  b.local.userPut('cert', 'from-b', 'v1');
  await a.engine.sync();
  await b.engine.sync();
  dir.replicateAll();
  t.is(dir.replicas[0]!.stamp.size, 2, 'both writers’ stamps survive replication');
  const ra = await a.engine.sync();
  const rb = await b.engine.sync();
  t.not(ra.outcome, 'unchanged');
  t.not(rb.outcome, 'unchanged');
  t.is(a.local.items.size, 3);
  t.is(b.local.items.size, 3);
});
