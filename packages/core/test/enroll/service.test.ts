import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { EventId, type LogLevel } from '../../src/api/events.js';
import { knownKeyIds } from '../../src/engine/state.js';
import { DEFAULT_ENROLLMENT_POLICY, type EnrollmentProfile } from '../../src/enroll/profile.js';
import { EnrollmentService } from '../../src/enroll/service.js';
import { encodeEnrollmentToken, enrollmentTokenId } from '../../src/enroll/tokens.js';
import { DEFAULT_ROAMING_POLICY, X509ContentInspector } from '../../src/index.js';
import { makeEngine, SHARED_PROTECTOR } from '../../src/testing/engine-harness.js';
import { OpensslCa, ScriptedEnroller } from '../../src/testing/enrollment.js';
import { MemoryLocalStore, ReplicatedDirectory, TestProtector } from '../../src/testing/memory-stores.js';

const DAY = 86_400_000;

interface Endpoint {
  readonly local: MemoryLocalStore;
  readonly service: EnrollmentService;
  readonly events: Array<{ level: LogLevel; id: number; message: string }>;
  sync(): Promise<unknown>;
}

async function world(t: { teardown(fn: () => Promise<void> | void): void }, options: { days?: number } = {}) {
  const ca = await OpensslCa.create();
  const homes = await mkdtemp(path.join(tmpdir(), 'credroam-enroll-'));
  t.teardown(async () => {
    await ca.dispose();
    await rm(homes, { recursive: true, force: true });
  });
  const directory = new ReplicatedDirectory(1);
  const enroller = new ScriptedEnroller(ca, options.days ?? 30);
  const clock = { now: Date.now() };
  const profile: EnrollmentProfile = {
    id: 'user-auth',
    enroller: 'scripted',
    ca: { url: 'http://ca.invalid/', fingerprint: ca.fingerprint, settings: {} },
    subject: 'CN={user},O=Example',
    subjectAltNames: [],
    key: { type: 'ec', curve: 'P-256' },
    renew: { remainingFraction: 0.2, minDays: 3 },
  };
  const policy = {
    enrollment: { ...DEFAULT_ENROLLMENT_POLICY, profiles: [profile] },
    roaming: DEFAULT_ROAMING_POLICY,
  };
  const endpoint = (name: string, server = directory.server(0)): Endpoint => {
    const local = new MemoryLocalStore();
    const { engine, state } = makeEngine({
      directory: server,
      local,
      inspector: new X509ContentInspector(),
      now: () => clock.now,
    });
    const events: Endpoint['events'] = [];
    const sync = () => engine.sync({ full: true });
    const service = new EnrollmentService({
      user: 'alice',
      home: path.join(homes, name),
      directory: server,
      local,
      protector: SHARED_PROTECTOR,
      policy: () => policy,
      enroller: async () => enroller,
      sync,
      event: (level, id, message) => events.push({ level, id, message }),
      now: () => clock.now,
      syncedKeys: async () => knownKeyIds(await state.load()),
    });
    return { local, service, events, sync };
  };
  return { ca, directory, enroller, clock, profile, policy, endpoint };
}

const certs = async (e: Endpoint) =>
  (await e.local.list()).items
    .filter((i) => i.kind === 'cert')
    .map((i) => ({ id: i.id, archived: i.archived }));

test('endpoint A enrolls at logon and the credential reaches B without B enrolling', async (t) => {
  const w = await world(t);
  const a = w.endpoint('a');
  const b = w.endpoint('b');
  await a.sync();
  const report = await a.service.run();
  t.is(report.profiles[0]?.state, 'issued');
  t.true(report.changed);
  t.is(w.enroller.calls.length, 1);
  t.true(a.events.some((e) => e.id === EventId.EnrollmentIssued));
  const onA = await certs(a);
  t.is(onA.length, 1);
  const kinds = (await a.local.list()).items.map((i) => i.kind).sort();
  t.deepEqual(
    kinds,
    ['attrs', 'cert', 'key'],
    'the key, the certificate and its attributes (chain) are stored',
  );
  await b.sync();
  t.deepEqual(await certs(b), onA, 'B has it after a sync');
  const onB = await b.service.run();
  t.is(onB.profiles[0]?.state, 'met');
  t.is(w.enroller.calls.length, 1, 'B did not enroll');
  // No claim is left behind.
  const values = (await w.directory.server(0).read()).tokens;
  t.false(
    values.some(
      (v) => Buffer.from(v.subarray(14, 46)).toString('hex') === enrollmentTokenId('claim', 'user-auth'),
    ),
    'the claim was released',
  );
});

test('two endpoints that find the profile unmet at once: one enrollment', async (t) => {
  const w = await world(t);
  const a = w.endpoint('a');
  const b = w.endpoint('b');
  let go!: () => void;
  w.enroller.delay = new Promise((resolve) => {
    go = resolve;
  });
  const ra = a.service.run();
  // B starts while A holds the claim and waits on the CA.
  await new Promise((r) => setTimeout(r, 50));
  const rb = await b.service.run();
  go();
  const reportA = await ra;
  t.is(reportA.profiles[0]?.state, 'issued');
  t.is(rb.profiles[0]?.state, 'claimed-elsewhere');
  t.true(b.events.some((e) => e.id === EventId.EnrollmentClaimedElsewhere));
  t.is(w.enroller.calls.length, 1, 'one enrollment');
  await b.sync();
  t.is((await b.service.run()).profiles[0]?.state, 'met');
  t.is(w.enroller.calls.length, 1);
});

test('a claim left by a crashed endpoint expires, and another endpoint takes it over', async (t) => {
  const w = await world(t);
  const a = w.endpoint('a');
  const server = w.directory.server(0);
  const snapshot = await server.read();
  const stale = await encodeEnrollmentToken(
    SHARED_PROTECTOR,
    'alice',
    'claim',
    { profile: 'user-auth', endpoint: 'f'.repeat(32), expires: w.clock.now + 5 * 60_000 },
    w.clock.now,
  );
  await server.write({
    tokens: { remove: [], add: [stale] },
    stamp: { remove: snapshot.stamp, add: [Buffer.from('s1')] },
  });
  t.is((await a.service.run()).profiles[0]?.state, 'claimed-elsewhere');
  w.clock.now += 6 * 60_000;
  t.is((await a.service.run()).profiles[0]?.state, 'issued', 'the expired claim is taken over');
  const left = (await server.read()).tokens.filter((v) => v.length > 0 && v[3] === 5);
  t.is(left.length, 0, 'neither the stale claim nor the new one is left');
});

test('renewal at the threshold: a new certificate on both endpoints, the old one archived on both', async (t) => {
  const w = await world(t, { days: 10 });
  const a = w.endpoint('a');
  const b = w.endpoint('b');
  await a.service.run();
  await b.sync();
  const [first] = await certs(b);
  t.truthy(first);
  // 10 days, renew at 20 % left (2 days) or 3 days left: due after 7 days.
  w.clock.now += 6 * DAY;
  t.is((await a.service.run()).profiles[0]?.state, 'met');
  w.clock.now += 1.5 * DAY;
  w.enroller.days = 30; // openssl dates from the real time: the successor must outlast the test's clock
  const renewed = await a.service.run();
  t.is(renewed.profiles[0]?.state, 'renewed');
  t.deepEqual(
    w.enroller.calls.map((c) => c.renewing),
    [false, true],
  );
  t.true(a.events.some((e) => e.id === EventId.EnrollmentRenewed));
  await b.sync();
  const onB = await certs(b);
  t.is(onB.length, 2);
  t.deepEqual(
    onB.find((c) => c.id === first!.id),
    { id: first!.id, archived: true },
    'the old one is archived on B',
  );
  t.false(onB.find((c) => c.id !== first!.id)!.archived, 'the new one is active on B');
  t.is((await b.service.run()).profiles[0]?.state, 'met');
});

test('a pending request started on A is finished on B, and roams back to A', async (t) => {
  const w = await world(t);
  const a = w.endpoint('a');
  const b = w.endpoint('b');
  w.enroller.script = ['pending', 'issue'];
  const started = await a.service.run();
  t.is(started.profiles[0]?.state, 'pending');
  t.true(a.events.some((e) => e.id === EventId.EnrollmentPending));
  t.is((await a.local.list()).items.length, 0, 'nothing stored while pending');
  const finished = await b.service.run();
  t.is(finished.profiles[0]?.state, 'issued');
  t.deepEqual(
    w.enroller.calls.map((c) => c.op),
    ['request', 'poll'],
  );
  await a.sync();
  t.is((await certs(a)).length, 1, 'the certificate B finished reaches A');
  const onA = (await a.local.list()).items;
  t.true(
    onA.some((i) => i.kind === 'key'),
    "A also has the key that A made and B's certificate is for",
  );
  const left = (await w.directory.server(0).read()).tokens.filter((v) => v[3] === 4 || v[3] === 5);
  t.is(left.length, 0, 'the request and the claims are gone');
});

test('CA unreachable: failing, retried in an hour; CA refusing: retried in a day; nothing lost', async (t) => {
  const w = await world(t);
  const a = w.endpoint('a');
  w.enroller.script = ['unreachable', 'refuse', 'issue'];
  const first = await a.service.run();
  t.is(first.profiles[0]?.state, 'failing');
  t.is(first.profiles[0]?.code, 'E_UNREACHABLE');
  t.true(a.events.some((e) => e.id === EventId.EnrollmentUnreachable));
  w.clock.now += 30 * 60_000;
  t.is((await a.service.run()).profiles[0]?.state, 'failing', 'not tried again within the hour');
  t.is(w.enroller.calls.length, 1);
  w.clock.now += 31 * 60_000;
  const second = await a.service.run();
  t.is(second.profiles[0]?.code, 'E_ENROLL_REFUSED');
  t.is(w.enroller.calls.length, 2);
  t.true(a.events.some((e) => e.id === EventId.EnrollmentRefused));
  w.clock.now += 23 * 3_600_000;
  await a.service.run();
  t.is(w.enroller.calls.length, 2, 'not tried again within the day');
  const standing = await a.service.standing();
  t.is(standing[0]?.state, 'failing');
  t.regex(standing[0]?.reason ?? '', /badMessageCheck/);
  t.truthy(standing[0]?.failingSince);
  // On demand, the retry time does not hold.
  t.is((await a.service.run({ now: true })).profiles[0]?.state, 'issued');
  t.is((await a.service.standing())[0]?.state, 'met');
});

for (const [script, what] of [
  ['wrong-ca', 'a certificate from another CA'],
  ['other-key', 'a certificate for another key'],
] as const) {
  test(`${what} is refused as a CA mismatch, and nothing is stored`, async (t) => {
    const w = await world(t);
    const a = w.endpoint('a');
    w.enroller.script = [script];
    const report = await a.service.run();
    t.is(report.profiles[0]?.state, 'failing');
    t.is(report.profiles[0]?.code, 'E_ENROLL_CA_MISMATCH');
    t.true(a.events.some((e) => e.id === EventId.EnrollmentCaMismatch));
    t.is((await a.local.list()).items.length, 0);
    t.false(report.changed);
  });
}

test('a dry run plans and writes nothing: no claim, no request, no local change', async (t) => {
  const w = await world(t);
  const a = w.endpoint('a');
  const before = w.directory.ops.write;
  const report = await a.service.run({ dryRun: true });
  t.deepEqual(report.profiles, [{ id: 'user-auth', state: 'planned', action: 'request' }]);
  t.is(w.directory.ops.write, before);
  t.is(w.enroller.calls.length, 0);
  t.true(a.events.some((e) => e.id === EventId.EnrollmentPlanned));
});

test("a directory writer's claims and requests are refused: forged, from another user, or from the future", async (t) => {
  const w = await world(t);
  const a = w.endpoint('a');
  const server = w.directory.server(0);
  const forger = new TestProtector(); // another key: what a directory writer without the user's keys has
  const values = [
    await encodeEnrollmentToken(
      forger,
      'alice',
      'claim',
      { profile: 'user-auth', endpoint: 'e'.repeat(32), expires: w.clock.now + DAY },
      w.clock.now,
    ),
    await encodeEnrollmentToken(
      SHARED_PROTECTOR,
      'mallory',
      'claim',
      { profile: 'user-auth', endpoint: 'e'.repeat(32), expires: w.clock.now + DAY },
      w.clock.now,
    ),
    await encodeEnrollmentToken(
      SHARED_PROTECTOR,
      'alice',
      'claim',
      { profile: 'user-auth', endpoint: 'e'.repeat(32), expires: w.clock.now + 365 * DAY },
      w.clock.now + 30 * DAY,
    ),
  ];
  const snapshot = await server.read();
  await server.write({
    tokens: { remove: [], add: values },
    stamp: { remove: snapshot.stamp, add: [Buffer.from('x')] },
  });
  const report = await a.service.run();
  t.is(report.profiles[0]?.state, 'issued', 'no forged claim holds enrollment back');
  t.true(a.events.filter((e) => e.id === EventId.EnrollmentTokenSkipped).length >= 3);
  const after = (await server.read()).tokens.map((v) => Buffer.from(v).toString('hex'));
  for (const v of values)
    t.true(
      after.includes(Buffer.from(v).toString('hex')),
      'a value it could not authenticate is left where it is',
    );
});

test('a profile the user has no value for is failing with E_ENROLL_PROFILE, before any key is made', async (t) => {
  const w = await world(t);
  const a = w.endpoint('a');
  w.policy.enrollment.profiles[0] = { ...w.profile, subject: 'CN={attr:displayName}' } as EnrollmentProfile;
  const report = await a.service.run();
  t.is(report.profiles[0]?.code, 'E_ENROLL_PROFILE');
  t.is(w.enroller.calls.length, 0);
  t.true(a.events.some((e) => e.id === EventId.EnrollmentFailed));
});

test('two profiles on the same CA each get their own certificate, told apart by name', async (t) => {
  const w = await world(t);
  const a = w.endpoint('a');
  w.policy.enrollment.profiles.push({ ...w.profile, id: 'mail-signing' });
  const report = await a.service.run();
  t.deepEqual(
    report.profiles.map((p) => [p.id, p.state]),
    [
      ['user-auth', 'issued'],
      ['mail-signing', 'issued'],
    ],
  );
  t.deepEqual(
    (await a.service.standing()).map((p) => p.state),
    ['met', 'met'],
  );
  t.is(w.enroller.calls.length, 2);
});

/**
 * Endpoint a's first request, pending at the CA, then finished (its certificate issued and stored,
 * its token released): the request token as it was, which a directory writer may have kept.
 */
async function finishedRequest(t: Parameters<typeof world>[0]) {
  const w = await world(t);
  const a = w.endpoint('a');
  const server = w.directory.server(0);
  w.enroller.script = ['pending', 'issue'];
  await a.service.run(); // pending: a request token
  const request = (await server.read()).tokens.find((v) => v[3] === 4)!;
  await a.service.run(); // finished: the token is gone
  return { w, a, server, request };
}

test('a request token the CA will not finish (a finished one a directory writer put back) costs no day: a fresh request at once', async (t) => {
  const { w, a, server, request } = await finishedRequest(t);
  t.is((await a.service.standing())[0]?.state, 'met');
  // The writer puts the old request back, and the certificate is lost from this endpoint.
  const snapshot = await server.read();
  await server.write({
    tokens: { remove: [], add: [request] },
    stamp: { remove: snapshot.stamp, add: [Buffer.from('r')] },
  });
  const b = w.endpoint('b');
  w.enroller.script = ['refuse', 'issue'];
  const report = await b.service.run();
  t.is(
    report.profiles[0]?.state,
    'issued',
    'the refused poll is followed by a fresh request in the same run',
  );
  t.deepEqual(
    w.enroller.calls.map((c) => c.op),
    ['request', 'poll', 'poll', 'request'],
  );
  t.false(
    (await server.read()).tokens.some((v) => v[3] === 4),
    'the replayed request is removed',
  );
});

test('two endpoints that read the entry at the same instant, before it has any stamp: still one enrollment', async (t) => {
  const w = await world(t);
  // Each endpoint reads twice (the tokens, then the claim) before it writes its claim: hold every
  // write until all four reads are done, so both claims are made from the same, stamp-less entry.
  const server = w.directory.server(0);
  let reads = 0;
  let allRead!: () => void;
  const barrier = new Promise<void>((resolve) => {
    allRead = resolve;
  });
  const read = server.read.bind(server);
  const write = server.write.bind(server);
  server.read = async () => {
    const snapshot = await read();
    if (++reads === 4) allRead();
    return snapshot;
  };
  server.write = async (change) => {
    await barrier;
    return write(change);
  };
  const a = w.endpoint('a', server);
  const b = w.endpoint('b', server);
  const states = (await Promise.all([a.service.run(), b.service.run()]))
    .map((r) => r.profiles[0]?.state)
    .sort();
  t.deepEqual(states, ['claimed-elsewhere', 'issued']);
  t.is(w.enroller.calls.length, 1);
});

test('an endpoint that has not synced since another finished the profile syncs under its claim and asks the CA nothing', async (t) => {
  const w = await world(t);
  const a = w.endpoint('a');
  const b = w.endpoint('b');
  await b.sync(); // B's logon sync: nothing yet
  t.is((await a.service.run()).profiles[0]?.state, 'issued'); // A enrolls and releases its claim
  const report = await b.service.run(); // B has not synced since
  t.is(report.profiles[0]?.state, 'met');
  t.is(w.enroller.calls.length, 1, 'one enrollment');
  t.is((await b.local.list()).items.length, 3, 'B has what A enrolled');
});

test('a request pending longer than pendingDays is given up and made afresh', async (t) => {
  const w = await world(t);
  const a = w.endpoint('a');
  w.enroller.script = ['pending', 'issue'];
  t.is((await a.service.run()).profiles[0]?.state, 'pending');
  w.clock.now += 31 * DAY;
  w.enroller.days = 90; // openssl dates from the real time: valid at the test's clock
  const report = await a.service.run();
  t.is(report.profiles[0]?.state, 'issued');
  t.deepEqual(
    w.enroller.calls.map((c) => c.op),
    ['request', 'request'],
    'no poll of the stale request',
  );
  t.false(
    (await w.directory.server(0).read()).tokens.some((v) => v[3] === 4),
    'the stale request is gone',
  );
});

test('a dry run fills in the templates: a profile that cannot be filled in is failing with E_ENROLL_PROFILE, not planned', async (t) => {
  const w = await world(t);
  const a = w.endpoint('a');
  w.policy.enrollment.profiles[0] = { ...w.profile, subject: 'CN={attr:displayName}' } as EnrollmentProfile;
  const before = w.directory.ops.write;
  const report = await a.service.run({ dryRun: true });
  t.is(report.profiles[0]?.state, 'failing');
  t.is(report.profiles[0]?.code, 'E_ENROLL_PROFILE');
  t.is(w.directory.ops.write, before);
  t.is(w.enroller.calls.length, 0);
});

test('a poll answered by a CA that is not the pinned one ends the request and asks that CA nothing more; the event names the profile once', async (t) => {
  const w = await world(t);
  const a = w.endpoint('a');
  w.enroller.script = ['pending', 'wrong-ca', 'issue'];
  await a.service.run();
  const report = await a.service.run({ now: true });
  t.is(report.profiles[0]?.state, 'failing');
  t.is(report.profiles[0]?.code, 'E_ENROLL_CA_MISMATCH');
  t.deepEqual(
    w.enroller.calls.map((c) => c.op),
    ['request', 'poll'],
    'no fresh request to a CA that failed the pin',
  );
  t.false(
    (await w.directory.server(0).read()).tokens.some((v) => v[3] === 4),
    'the request is over',
  );
  const message = a.events.find((e) => e.id === EventId.EnrollmentCaMismatch)?.message ?? '';
  t.is(message.split("profile 'user-auth'").length - 1, 1, message);
});

test('a finished request a directory writer puts back, once the profile is due again, does not bring the certificate it made back as active: a fresh request renews', async (t) => {
  const { w, a, server, request } = await finishedRequest(t);
  const [c1] = await certs(a);
  const c1Der = (await a.local.list()).items.find((i) => i.kind === 'cert')!.content;
  // C1 is due: renewed (C2), and archived.
  w.clock.now += 25 * DAY;
  w.enroller.script = ['issue'];
  t.is((await a.service.run()).profiles[0]?.state, 'renewed');
  t.deepEqual(
    (await certs(a)).find((c) => c.id === c1!.id),
    { id: c1!.id, archived: true },
  );
  // The writer puts the first request back; the CA answers its poll with the certificate it issued
  // for it (as a SCEP CA does for a finished transaction).
  const snapshot = await server.read();
  await server.write({
    tokens: { remove: [], add: [request] },
    stamp: { remove: snapshot.stamp, add: [Buffer.from('r')] },
  });
  const poll = w.enroller.poll.bind(w.enroller);
  w.enroller.poll = async (input) => {
    await poll(input);
    return { status: 'issued', certificate: c1Der, caCertificates: [w.ca.certificate] };
  };
  await a.service.run();
  t.deepEqual(
    (await certs(a)).find((c) => c.id === c1!.id),
    { id: c1!.id, archived: true },
    'the replaced certificate stays archived',
  );
  t.deepEqual(w.enroller.calls.at(-1), { op: 'request', renewing: true }, 'a fresh renewal follows');
  t.false(
    (await server.read()).tokens.some((v) => v[3] === 4),
    'the replayed request is removed',
  );
});

test('a finished request a directory writer puts back after the user removed its certificate and key does not bring them back: a fresh request follows', async (t) => {
  const { w, a, server, request } = await finishedRequest(t);
  const listed = (await a.local.list()).items;
  const c1 = listed.find((i) => i.kind === 'cert')!;
  // The user removes the credential (its key too), and the removal roams.
  for (const i of listed) await a.local.remove(i.kind, i.id);
  await a.sync();
  // The writer puts the first request back; the CA answers its poll with the certificate it issued.
  const snapshot = await server.read();
  await server.write({
    tokens: { remove: [], add: [request] },
    stamp: { remove: snapshot.stamp, add: [Buffer.from('r')] },
  });
  const poll = w.enroller.poll.bind(w.enroller);
  w.enroller.poll = async (input) => {
    await poll(input);
    return { status: 'issued', certificate: c1.content, caCertificates: [w.ca.certificate] };
  };
  w.enroller.script = ['issue'];
  t.is((await a.service.run()).profiles[0]?.state, 'issued');
  t.false(
    (await certs(a)).some((c) => c.id === c1.id),
    'the removed certificate does not come back',
  );
  t.deepEqual(w.enroller.calls.at(-1), { op: 'request', renewing: false }, 'a fresh request');
});
