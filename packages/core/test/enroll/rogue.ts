/** Shared by the enrollment attack tests: a rogue CA and a world of endpoints. */
import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type LogLevel } from '../../src/api/events.js';
import type {
  Enroller,
  EnrollmentOutcome,
  EnrollmentPoll,
  EnrollmentRequest,
} from '../../src/api/points/enroller.js';
import { DEFAULT_ENROLLMENT_POLICY, type EnrollmentProfile } from '../../src/enroll/profile.js';
import { EnrollmentService } from '../../src/enroll/service.js';
import { DEFAULT_ROAMING_POLICY, X509ContentInspector } from '../../src/index.js';
import { makeEngine, SHARED_PROTECTOR } from '../../src/testing/engine-harness.js';
import { OpensslCa } from '../../src/testing/enrollment.js';
import { MemoryLocalStore, ReplicatedDirectory } from '../../src/testing/memory-stores.js';

export const DAY = 86_400_000;

export type Answer = (
  op: 'request' | 'poll',
  input: EnrollmentRequest | EnrollmentPoll,
) => Promise<EnrollmentOutcome> | EnrollmentOutcome;

/** An enroller whose answers the test writes: what a rogue CA, or a CA behind a hostile network, says. */
export class RogueEnroller implements Enroller {
  readonly calls: Array<'request' | 'poll'> = [];
  answers: Answer[] = [];
  constructor(readonly fallback: Answer) {}
  async request(request: EnrollmentRequest): Promise<EnrollmentOutcome> {
    this.calls.push('request');
    return (this.answers.shift() ?? this.fallback)('request', request);
  }
  async poll(input: EnrollmentPoll): Promise<EnrollmentOutcome> {
    this.calls.push('poll');
    return (this.answers.shift() ?? this.fallback)('poll', input);
  }
}

/** A certificate from `ca` for `publicKey`, with openssl extensions `ext` (a config section's lines). */
export const issueWith = (
  ca: OpensslCa,
  publicKey: Uint8Array,
  days: number,
  ext?: string,
): Promise<Uint8Array> => ca.issue(publicKey, '/CN=alice', days, ext);

export async function world(t: { teardown(fn: () => Promise<void> | void): void }) {
  const ca = await OpensslCa.create();
  const homes = await mkdtemp(path.join(tmpdir(), 'credroam-enroll-attack-'));
  t.teardown(async () => {
    await ca.dispose();
    await rm(homes, { recursive: true, force: true });
  });
  const directory = new ReplicatedDirectory(1);
  const issue: Answer = async (_op, input) => ({
    status: 'issued',
    certificate: await issueWith(ca, input.key.publicKey, 30),
    caCertificates: [ca.certificate],
  });
  const enroller = new RogueEnroller(issue);
  const clock = { now: Date.now() };
  const profile: EnrollmentProfile = {
    id: 'user-auth',
    enroller: 'rogue',
    ca: { url: 'http://ca.invalid/', fingerprint: ca.fingerprint, settings: {} },
    subject: 'CN={user},O=Example',
    subjectAltNames: [],
    key: { type: 'ec', curve: 'P-256' },
    renew: { remainingFraction: 0.2, minDays: 3 },
  };
  const policy = {
    enrollment: { ...DEFAULT_ENROLLMENT_POLICY, profiles: [profile] },
    roaming: { ...DEFAULT_ROAMING_POLICY },
  };
  const endpoint = (
    name: string,
    server = directory.server(0),
    attributes?: (names: readonly string[]) => Promise<Record<string, string[]>>,
  ) => {
    const local = new MemoryLocalStore();
    const { engine } = makeEngine({
      directory: server,
      local,
      inspector: new X509ContentInspector(),
      now: () => clock.now,
    });
    const events: Array<{ level: LogLevel; id: number; message: string; fields?: unknown }> = [];
    const sync = () => engine.sync({ full: true });
    const home = path.join(homes, name);
    const service = new EnrollmentService({
      user: 'alice',
      home,
      directory: server,
      local,
      protector: SHARED_PROTECTOR,
      policy: () => policy,
      enroller: async () => enroller,
      sync,
      event: (level, id, message, fields) => events.push({ level, id, message, fields }),
      now: () => clock.now,
      ...(attributes ? { attributes } : {}),
    });
    return { local, service, events, sync, home };
  };
  return { ca, directory, enroller, clock, profile, policy, endpoint, issue };
}

export const requestTokens = async (w: Awaited<ReturnType<typeof world>>) =>
  (await w.directory.server(0).read()).tokens.filter((v) => v[3] === 4);
