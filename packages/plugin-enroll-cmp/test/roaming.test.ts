import 'reflect-metadata';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  DEFAULT_ENROLLMENT_POLICY,
  DEFAULT_ROAMING_POLICY,
  type EnrollmentProfile,
  EnrollmentService,
  EventId,
  X509ContentInspector,
} from '@credroam/core';
import {
  MemoryLocalStore,
  makeEngine,
  type NamespacedServer,
  ReplicatedDirectory,
  SHARED_PROTECTOR,
} from '@credroam/core/testing';
import test from 'ava';
import { CmpEnroller, cmpSettings } from '../src/index.js';
import { REFERENCE, SECRET, startMockCa, urlOf } from './support/mock-server.js';
import { type IssuedKey, issueFor, makeCa, type Pki, removePki } from './support/pki.js';

// Issue 15's roaming case on the real protocol: a request that OpenSSL's mock CA answers `waiting`
// (pollRep, checkAfter 1, twice) is started by endpoint A, roams as a request token, and is
// finished by endpoint B; the certificate and the key A made reach A again by the sync.
let pki: Pki;
let alice: IssuedKey;
let server: NamespacedServer;
let dir: string;
test.before(async () => {
  pki = await makeCa();
  alice = await issueFor(pki, 'alice', 'ec', '/O=Example/CN=alice');
  server = await startMockCa(pki, alice.certPem, ['-poll_count', '2', '-check_after', '1']);
  dir = await mkdtemp(path.join(tmpdir(), 'credroam-cmp-roaming-'));
});
test.after.always(async () => {
  await server?.stop();
  if (pki) await removePki(pki);
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('a pending CMP request started on endpoint A is finished on endpoint B, and the credential roams back to A', async (t) => {
  const challenge = path.join(dir, 'cmp-secret');
  await writeFile(challenge, `${SECRET}\n`, { mode: 0o600 });
  const profile: EnrollmentProfile = {
    id: 'vpn',
    enroller: 'cmp',
    ca: { url: urlOf(server), fingerprint: pki.fingerprint, settings: { reference: REFERENCE } },
    subject: 'CN={user},O=Example',
    subjectAltNames: [],
    key: { type: 'ec', curve: 'P-256' },
    challenge: { file: challenge },
    renew: { remainingFraction: 0.2, minDays: 3 },
  };
  const policy = {
    enrollment: { ...DEFAULT_ENROLLMENT_POLICY, profiles: [profile] },
    roaming: DEFAULT_ROAMING_POLICY,
  };
  const directory = new ReplicatedDirectory(1);
  const clock = { now: Date.now() };
  const endpoint = (name: string) => {
    const local = new MemoryLocalStore();
    const server0 = directory.server(0);
    const { engine } = makeEngine({ directory: server0, local, inspector: new X509ContentInspector() });
    const events: number[] = [];
    const service = new EnrollmentService({
      user: 'alice',
      home: path.join(dir, name),
      directory: server0,
      local,
      protector: SHARED_PROTECTOR,
      policy: () => policy,
      enroller: async (p) => new CmpEnroller(cmpSettings(p.ca.settings)),
      sync: () => engine.sync({}),
      event: (_level, id) => events.push(id),
      now: () => clock.now,
      // The mock CA hands out a certificate issued beforehand: the key it is for is the one "made" here.
      makeKey: async () => alice.key,
    });
    return { local, service, events, sync: () => engine.sync({ full: true }) };
  };
  const a = endpoint('a');
  const b = endpoint('b');

  const started = await a.service.run();
  t.is(started.profiles[0]?.state, 'pending');
  t.true(a.events.includes(EventId.EnrollmentPending));
  t.is((await a.local.list()).items.length, 0);

  // B, before the CA's checkAfter: waits. After it: polls (the mock answers waiting once more, then ip).
  t.is((await b.service.run()).profiles[0]?.state, 'pending');
  clock.now += 2_000;
  await new Promise((r) => setTimeout(r, 1_100)); // the mock CA counts real seconds
  let finished = await b.service.run();
  if (finished.profiles[0]?.state === 'pending') {
    clock.now += 2_000;
    await new Promise((r) => setTimeout(r, 1_100));
    finished = await b.service.run();
  }
  t.is(finished.profiles[0]?.state, 'issued');
  t.true(b.events.includes(EventId.EnrollmentIssued));
  const onB = (await b.local.list()).items;
  t.true(onB.some((i) => i.kind === 'cert' && Buffer.from(i.content).equals(Buffer.from(alice.certDer))));
  t.true(
    onB.some((i) => i.kind === 'key'),
    'B has the key A made, from the request token',
  );

  await a.sync();
  const onA = (await a.local.list()).items;
  t.deepEqual(onA.map((i) => `${i.kind}:${i.id}`).sort(), onB.map((i) => `${i.kind}:${i.id}`).sort());
  t.is((await a.service.run()).profiles[0]?.state, 'met');
  const left = (await directory.server(0).read()).tokens.filter((v) => v[3] === 4 || v[3] === 5);
  t.is(left.length, 0, 'no request or claim is left in the directory');
});
