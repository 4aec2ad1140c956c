import 'reflect-metadata';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { EventId } from '../../src/api/events.js';
import { encodeEnrollmentToken } from '../../src/enroll/tokens.js';
import { TestProtector } from '../../src/testing/memory-stores.js';
import { requestTokens, world } from './rogue.js';

// --- (1) a directory writer, and races --------------------------------------------------------

test('the request is decided under the claim: a request another endpoint made meanwhile is polled, not duplicated', async (t) => {
  const w = await world(t);
  const a = w.endpoint('a');
  const server = w.directory.server(0);
  const read = server.read.bind(server);
  let first = true;
  // B reads the entry (no request yet); before B takes the claim, A makes a pending request.
  const bServer = Object.assign(Object.create(Object.getPrototypeOf(server)), server, {
    read: async () => {
      const snapshot = await read();
      if (first) {
        first = false;
        w.enroller.answers = [
          () => ({ status: 'pending', state: new Uint8Array([9]), checkAfterSeconds: 0 }),
        ];
        t.is((await a.service.run()).profiles[0]?.state, 'pending');
      }
      return snapshot;
    },
  }) as typeof server;
  const b = w.endpoint('b', bServer);
  const report = await b.service.run();
  t.is(report.profiles[0]?.state, 'issued');
  t.deepEqual(w.enroller.calls, ['request', 'poll'], "B finished A's request instead of making another");
  t.is((await requestTokens(w)).length, 0, 'no request is left behind');
});

test('a writer who keeps changing the stamp costs that profile a retry, not the whole run', async (t) => {
  const w = await world(t);
  w.policy.enrollment.profiles.push({ ...w.profile, id: 'second' });
  const server = w.directory.server(0);
  const read = server.read.bind(server);
  const write = server.write.bind(server);
  let contested = true;
  // The writer changes the stamp after every read while the first profile is claimed.
  const hostile = Object.assign(Object.create(Object.getPrototypeOf(server)), server, {
    read: async () => {
      const snapshot = await read();
      if (contested) {
        const now = await read();
        await write({
          tokens: { remove: [], add: [] },
          stamp: { remove: now.stamp, add: [Buffer.from(Math.random().toString())] },
        });
      }
      return snapshot;
    },
  }) as typeof server;
  const a = w.endpoint('a', hostile);
  const ran = await a.service.run().then(
    (r) => r,
    (error: unknown) => error as Error,
  );
  t.false(ran instanceof Error, `the run threw: ${(ran as Error).message}`);
  const report = ran as Awaited<ReturnType<typeof a.service.run>>;
  t.is(report.profiles.length, 2, 'every profile is reported');
  t.is(report.profiles[0]?.state, 'failing');
  t.is(report.profiles[0]?.code, 'E_CONFLICT');
  contested = false;
  const standing = await a.service.standing();
  t.is(standing[0]?.state, 'failing', 'remembered, with a retry time');
});

// --- met profiles and dry runs ----------------------------------------------------------------

test('a met profile causes no directory read and no CA call', async (t) => {
  const w = await world(t);
  const a = w.endpoint('a');
  t.is((await a.service.run()).profiles[0]?.state, 'issued');
  const reads = w.directory.ops.read + w.directory.ops.readStamp;
  const writes = w.directory.ops.write;
  const calls = w.enroller.calls.length;
  t.is((await a.service.run()).profiles[0]?.state, 'met');
  t.is(w.directory.ops.read + w.directory.ops.readStamp, reads);
  t.is(w.directory.ops.write, writes);
  t.is(w.enroller.calls.length, calls);
});

test('a dry run writes nothing locally either: no enrollment.json, no local change', async (t) => {
  const w = await world(t);
  const a = w.endpoint('a');
  w.enroller.answers = [() => ({ status: 'pending', state: new Uint8Array([5]), checkAfterSeconds: 3600 })];
  await w.endpoint('other').service.run(); // a pending request in the directory
  const before = w.directory.ops.write;
  const report = await a.service.run({ dryRun: true, now: true });
  t.is(report.profiles[0]?.action, 'poll');
  t.is(w.directory.ops.write, before);
  t.is((await a.local.list()).items.length, 0);
  await t.throwsAsync(readFile(path.join(a.home, 'enrollment.json')));
});

test('a writer who plants many forged claims gets a bounded number of events, and enrollment goes on', async (t) => {
  const w = await world(t);
  const a = w.endpoint('a');
  const server = w.directory.server(0);
  const forger = new TestProtector();
  const values = await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      encodeEnrollmentToken(
        forger,
        'alice',
        'claim',
        { profile: 'user-auth', endpoint: 'e'.repeat(32), expires: w.clock.now + 60_000 },
        w.clock.now - i,
      ),
    ),
  );
  const snapshot = await server.read();
  await server.write({
    tokens: { remove: [], add: values },
    stamp: { remove: snapshot.stamp, add: [Buffer.from('f')] },
  });
  t.is((await a.service.run()).profiles[0]?.state, 'issued');
  const skipped = a.events.filter((e) => e.id === EventId.EnrollmentTokenSkipped);
  t.true(skipped.length <= 11, `${skipped.length} events`);
  t.regex(skipped.at(-1)!.message, /190 more/);
});

test('a directory attribute of a megabyte is not sent to the CA: the profile fails before a key is made', async (t) => {
  const w = await world(t);
  w.policy.enrollment.profiles[0] = { ...w.profile, subject: 'CN={attr:displayName}' };
  const a = w.endpoint('a', undefined, async () => ({ displayName: ['a'.repeat(1 << 20)] }));
  const report = await a.service.run();
  t.is(report.profiles[0]?.code, 'E_ENROLL_PROFILE');
  t.deepEqual(w.enroller.calls, []);
});
