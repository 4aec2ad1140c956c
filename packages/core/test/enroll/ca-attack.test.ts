import 'reflect-metadata';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { CredroamError } from '../../src/api/errors.js';
import { EventId } from '../../src/api/events.js';
import { decodeCredentialAttributes } from '../../src/engine/attributes.js';
import { OpensslCa } from '../../src/testing/enrollment.js';
import { DAY, issueWith, requestTokens, world } from './rogue.js';

// --- (4) a rogue CA ---------------------------------------------------------------------------

for (const [what, seconds] of [
  ['a fractional', 0.0001],
  ['a NaN', Number.NaN],
  ['a negative', -5],
] as const) {
  test(`a pending answer with ${what} check-after time still roams a request another endpoint can finish`, async (t) => {
    const w = await world(t);
    const a = w.endpoint('a');
    const b = w.endpoint('b');
    w.enroller.answers = [
      () => ({ status: 'pending', state: new Uint8Array([1, 2, 3]), checkAfterSeconds: seconds }),
    ];
    t.is((await a.service.run()).profiles[0]?.state, 'pending');
    w.clock.now += 2 * 3_600_000;
    t.is((await b.service.run()).profiles[0]?.state, 'issued');
    t.deepEqual(w.enroller.calls, ['request', 'poll'], 'B finished the request A started');
    t.false(b.events.some((e) => e.id === EventId.EnrollmentTokenSkipped));
    t.is((await requestTokens(w)).length, 0);
  });
}

test('a pending state too large for a directory value is refused, not written where no endpoint can read it', async (t) => {
  const w = await world(t);
  w.policy.roaming = { ...w.policy.roaming, maxTokenBytes: 4096 };
  const a = w.endpoint('a');
  w.enroller.answers = [
    () => ({ status: 'pending', state: new Uint8Array(8000).fill(7), checkAfterSeconds: 60 }),
  ];
  const report = await a.service.run();
  t.is(report.profiles[0]?.state, 'failing');
  t.is(report.profiles[0]?.code, 'E_ENROLL_PROTOCOL');
  const big = (await w.directory.server(0).read()).tokens.filter((v) => v.length > 4096);
  t.is(big.length, 0, 'no value over maxTokenBytes was written');
});

test('an issued certificate already expired is refused, and the certificate it would renew is not archived', async (t) => {
  const w = await world(t);
  const a = w.endpoint('a');
  // A certificate of 400 days, due after 320: the clock moves to day 330.
  w.enroller.answers = [
    async (_op, input) => ({
      status: 'issued',
      certificate: await issueWith(w.ca, input.key.publicKey, 400),
      caCertificates: [w.ca.certificate],
    }),
  ];
  t.is((await a.service.run()).profiles[0]?.state, 'issued');
  w.clock.now += 330 * DAY;
  t.is((await a.service.standing())[0]?.state, 'due');
  // The CA hands back a 30-day certificate from the real time: expired on the endpoint's clock.
  const report = await a.service.run();
  t.is(report.profiles[0]?.state, 'failing');
  t.is(report.profiles[0]?.code, 'E_ENROLL_PROTOCOL');
  const certs = (await a.local.list()).items.filter((i) => i.kind === 'cert');
  t.is(certs.length, 1, 'nothing stored');
  t.false(certs[0]!.archived, 'the working certificate is not archived');
  t.is((await a.service.standing())[0]?.state, 'failing');
});

test('an issued certificate not valid yet is refused (it would count as met and hold the profile)', async (t) => {
  const w = await world(t);
  const a = w.endpoint('a');
  w.clock.now -= 10 * DAY; // the CA's certificate starts 10 days after the endpoint's now
  const report = await a.service.run();
  t.is(report.profiles[0]?.code, 'E_ENROLL_PROTOCOL');
  t.is((await a.local.list()).items.length, 0);
});

test('an issued certificate with CA:TRUE is refused: an enrollment makes end-entity certificates', async (t) => {
  const w = await world(t);
  const a = w.endpoint('a');
  w.enroller.answers = [
    async (_op, input) => ({
      status: 'issued',
      certificate: await issueWith(w.ca, input.key.publicKey, 30, 'basicConstraints=critical,CA:TRUE'),
      caCertificates: [w.ca.certificate],
    }),
  ];
  const report = await a.service.run();
  t.is(report.profiles[0]?.code, 'E_ENROLL_PROTOCOL');
  t.is((await a.local.list()).items.length, 0);
});

test('extra certificates the CA (or the network) adds beside the pinned one do not enter the stored chain', async (t) => {
  const w = await world(t);
  const a = w.endpoint('a');
  const other = await OpensslCa.create('Someone Else Root');
  t.teardown(() => other.dispose());
  w.enroller.answers = [
    async (_op, input) => ({
      status: 'issued',
      certificate: await issueWith(w.ca, input.key.publicKey, 30),
      caCertificates: [other.certificate, w.ca.certificate],
    }),
  ];
  t.is((await a.service.run()).profiles[0]?.state, 'issued');
  const attrs = (await a.local.list()).items.find((i) => i.kind === 'attrs')!;
  const chain = decodeCredentialAttributes(attrs.content).chain ?? [];
  t.deepEqual(
    chain.map((c) => new X509Certificate(c).subject),
    [new X509Certificate(w.ca.certificate).subject],
    'only the pinned CA certificate, which signed it',
  );
});

test("a CA's refusal text is bounded and has no control characters (status, enrollment.json, events)", async (t) => {
  const w = await world(t);
  const a = w.endpoint('a');
  w.enroller.answers = [
    () => {
      throw new CredroamError('E_ENROLL_REFUSED', `no\u001b[2J\r\n${'x'.repeat(200_000)}`);
    },
  ];
  const report = await a.service.run();
  const reason = report.profiles[0]?.reason ?? '';
  t.true(reason.length <= 1024, `reason of ${reason.length} characters`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for them
  t.false(/[\u0000-\u001f\u007f]/.test(reason));
  const saved = await readFile(path.join(a.home, 'enrollment.json'), 'utf8');
  t.true(saved.length < 4096);
  for (const e of a.events) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for them
    t.false(/[\u0000-\u001f\u007f]/.test(e.message));
    t.true(e.message.length < 2048);
  }
});
