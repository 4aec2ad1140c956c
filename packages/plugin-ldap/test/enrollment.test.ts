import { mkdtemp, rm } from 'node:fs/promises';
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
  OpensslCa,
  ScriptedEnroller,
  SHARED_PROTECTOR,
} from '@credroam/core/testing';
import test from 'ava';
import { type Slapd, startProviders } from '../src/testing/slapd.js';
import { storeFor } from './support/stores.js';

// Issue 15 on a real slapd: the enrollment claim is a token written with the directory's
// compare-and-swap, so two endpoints of one user that find a profile unmet at once enroll once;
// the profile's templates are filled from the user's entry.
let server: Slapd;
let stop: () => Promise<void>;
let ca: OpensslCa;
let homes: string;
test.before(async () => {
  const started = await startProviders(1, { users: ['alice'] });
  server = started.servers[0]!;
  stop = started.stop;
  ca = await OpensslCa.create();
  homes = await mkdtemp(path.join(tmpdir(), 'credroam-ldap-enroll-'));
});
test.after.always(async () => {
  await stop?.();
  await ca?.dispose();
  if (homes) await rm(homes, { recursive: true, force: true });
});

test('two endpoints at once through slapd: one enrollment, the certificate (named from the entry) reaches both', async (t) => {
  const enroller = new ScriptedEnroller(ca);
  const profile: EnrollmentProfile = {
    id: 'user-auth',
    enroller: 'scripted',
    ca: { url: 'http://ca.invalid/', fingerprint: ca.fingerprint, settings: {} },
    subject: 'CN={attr:mail},O=Example',
    subjectAltNames: [{ type: 'email', value: '{attr:mail}' }],
    key: { type: 'ec', curve: 'P-256' },
    renew: { remainingFraction: 0.2, minDays: 3 },
  };
  const policy = {
    enrollment: { ...DEFAULT_ENROLLMENT_POLICY, profiles: [profile] },
    roaming: DEFAULT_ROAMING_POLICY,
  };
  const subjects: string[] = [];
  const endpoint = (name: string) => {
    const directory = storeFor(server, 'alice');
    t.teardown(() => directory.close());
    const local = new MemoryLocalStore();
    const { engine } = makeEngine({ directory, local, inspector: new X509ContentInspector() });
    const events: number[] = [];
    const service = new EnrollmentService({
      user: 'alice',
      home: path.join(homes, name),
      directory,
      local,
      protector: SHARED_PROTECTOR,
      policy: () => policy,
      enroller: async () => ({
        request: (r) => {
          subjects.push(`${r.subject} ${r.subjectAltNames.map((a) => `${a.type}:${a.value}`).join(' ')}`);
          return enroller.request(r);
        },
        poll: (p) => enroller.poll(p),
      }),
      sync: () => engine.sync({}),
      event: (_level, id) => events.push(id),
      attributes: (names) => directory.readAttributes(names),
    });
    return { local, service, events, sync: () => engine.sync({ full: true }) };
  };
  const a = endpoint('a');
  const b = endpoint('b');
  let go!: () => void;
  enroller.delay = new Promise((resolve) => {
    go = resolve;
  });
  const runningA = a.service.run();
  const runningB = b.service.run();
  // Whichever took the claim waits on the CA; the other has found the claim and given way.
  await new Promise((r) => setTimeout(r, 300));
  go();
  const reports = await Promise.all([runningA, runningB]);
  t.deepEqual(reports.map((r) => r.profiles[0]?.state).sort(), ['claimed-elsewhere', 'issued']);
  t.is(enroller.calls.length, 1, 'one enrollment');
  t.deepEqual(subjects, ['CN=alice@example.org,O=Example email:alice@example.org']);
  await a.sync();
  await b.sync();
  for (const e of [a, b]) {
    t.is((await e.service.run()).profiles[0]?.state, 'met');
    t.is((await e.local.list()).items.length, 3, 'key, certificate and attributes on each endpoint');
  }
  t.is(enroller.calls.length, 1);
  t.true([...a.events, ...b.events].includes(EventId.EnrollmentClaimedElsewhere));
});
