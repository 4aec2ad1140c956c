import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { CredroamError } from '../../api/errors.js';
import {
  ENROLLMENT_STATE_MAX_BYTES,
  type Enroller,
  type EnrollmentKey,
  type EnrollmentOutcome,
  type EnrollmentRequest,
} from '../../api/points/enroller.js';
import { checkIssuedCertificate, pinnedCertificate } from '../../enroll/pin.js';
import { type ContractAssertions, type ContractTest, hostileBytes, thrownBy } from './contract-test.js';

/** What an `Enroller` contract test runs on: an enroller and a real CA it speaks to. */
export interface EnrollerSubject {
  readonly enroller: Enroller;
  /** The CA: its URL, and its certificate (DER), whose SHA-256 a profile pins. */
  readonly ca: { readonly url: string; readonly certificate: Uint8Array };
  /** The request the CA will issue for: its key (a CA that issues beforehand needs to know it), subject and challenge. */
  readonly request: Omit<EnrollmentRequest, 'ca' | 'profile'>;
}

const fingerprintOf = (der: Uint8Array): string => createHash('sha256').update(der).digest('hex');

/** A URL on 127.0.0.1 where nothing listens (a port opened and closed again). */
async function closedUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 9;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/`;
}

/** Polls a pending outcome until it is issued (a CA that answers later), at most `polls` times. */
async function settle(
  enroller: Enroller,
  outcome: EnrollmentOutcome,
  poll: { profile: string; ca: EnrollmentRequest['ca']; key: EnrollmentKey; challenge?: string },
  polls = 5,
): Promise<EnrollmentOutcome> {
  let current = outcome;
  for (let n = 0; n < polls && current.status === 'pending'; n++) {
    const wait = Math.min(current.checkAfterSeconds, 2) * 1000; // a CA that counts real seconds
    await new Promise((r) => setTimeout(r, wait));
    current = await enroller.poll({ ...poll, state: current.state });
  }
  return current;
}

/**
 * The behaviour every `Enroller` owes core: what it returns as issued is a certificate for the
 * request's key, signed by the pinned CA, with that CA among the certificates it hands back; a CA
 * that is not the pinned one is `E_ENROLL_CA_MISMATCH`; a CA that cannot be reached is
 * `E_UNREACHABLE`; a pending state is bounded and holds no challenge; a state it did not write is a
 * `CredroamError`, never a crash or an issued certificate; the challenge is in no error.
 */
export function enrollerContract(
  test: ContractTest,
  name: string,
  make: (t: ContractAssertions) => Promise<EnrollerSubject>,
): void {
  const profile = 'contract';

  test(`${name} (Enroller contract): what it issues is for the request's key, from the pinned CA, which it hands back`, async (t) => {
    const s = await make(t);
    const ca = { url: s.ca.url, fingerprint: fingerprintOf(s.ca.certificate) };
    const first = await s.enroller.request({ ...s.request, profile, ca });
    if (first.status === 'pending') {
      t.true(first.state.length <= ENROLLMENT_STATE_MAX_BYTES, 'the pending state is bounded');
      if (s.request.challenge)
        t.is(Buffer.from(first.state).indexOf(s.request.challenge), -1, 'no challenge in the pending state');
    }
    const outcome = await settle(s.enroller, first, {
      profile,
      ca,
      key: s.request.key,
      ...(s.request.challenge ? { challenge: s.request.challenge } : {}),
    });
    t.is(outcome.status, 'issued');
    if (outcome.status !== 'issued') return;
    // Both throw E_ENROLL_CA_MISMATCH when they do not hold: the test fails with its message.
    const pinned = pinnedCertificate(outcome.caCertificates, ca.fingerprint);
    t.true(
      Buffer.from(pinned).equals(Buffer.from(s.ca.certificate)),
      'the pinned CA is among those handed back',
    );
    checkIssuedCertificate(outcome.certificate, pinned, s.request.key.publicKey);
  });

  test(`${name} (Enroller contract): a CA that is not the pinned one is E_ENROLL_CA_MISMATCH, and the challenge is in no error`, async (t) => {
    const s = await make(t);
    const ca = { url: s.ca.url, fingerprint: 'ab'.repeat(32) };
    const error = await thrownBy(() => s.enroller.request({ ...s.request, profile, ca }));
    t.true(error instanceof CredroamError, `a CredroamError, not ${String(error)}`);
    t.is((error as CredroamError).code, 'E_ENROLL_CA_MISMATCH');
    if (s.request.challenge)
      t.false(
        JSON.stringify({ m: (error as Error).message, d: (error as CredroamError).details }).includes(
          s.request.challenge,
        ),
      );
  });

  test(`${name} (Enroller contract): a CA that cannot be reached is E_UNREACHABLE`, async (t) => {
    const s = await make(t);
    const ca = { url: await closedUrl(), fingerprint: fingerprintOf(s.ca.certificate) };
    const error = await thrownBy(() => s.enroller.request({ ...s.request, profile, ca }));
    t.true(error instanceof CredroamError, `a CredroamError, not ${String(error)}`);
    t.is((error as CredroamError).code, 'E_UNREACHABLE');
  });

  test(`${name} (Enroller contract): a pending state it did not write is a CredroamError, never a crash or a certificate`, async (t) => {
    const s = await make(t);
    const ca = { url: s.ca.url, fingerprint: fingerprintOf(s.ca.certificate) };
    for (const [n, state] of [new Uint8Array(0), ...hostileBytes()].entries()) {
      const error = await thrownBy(() =>
        s.enroller.poll({
          profile,
          ca,
          key: s.request.key,
          state,
          ...(s.request.challenge ? { challenge: s.request.challenge } : {}),
        }),
      );
      t.true(error instanceof CredroamError, `state ${n}: a CredroamError, not ${String(error)}`);
    }
  });
}
