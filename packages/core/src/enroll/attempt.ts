import { CredroamError } from '../api/errors.js';
import { EventId } from '../api/events.js';
import {
  ENROLLMENT_STATE_MAX_BYTES,
  type EnrollmentKey,
  type EnrollmentOutcome,
} from '../api/points/enroller.js';
import type { RoamingPolicy } from '../policy/policy.js';
import { printable } from '../text/printable.js';
import { readChallenge } from './challenge.js';
import type { EnrollmentDeps } from './enrollment-deps.js';
import type { EnrollmentDirectory } from './enrollment-directory.js';
import type { ProfileReport } from './enrollment-report.js';
import type { ProfileMemory } from './enrollment-state.js';
import {
  aboutProfile,
  type EnrollmentFailure,
  endsPendingRequest,
  failureEvent,
  failureOf,
} from './failure.js';
import { makeKey } from './make-key.js';
import { type EnrollmentProfile, fillTemplates } from './profile.js';
import { storeIssued } from './store-issued.js';
import { encodeEnrollmentToken } from './tokens.js';
import type { Work } from './work.js';

/** What an attempt needs: the service's deps (the directory through `directory`) and its clock. */
export interface AttemptContext {
  readonly deps: Pick<
    EnrollmentDeps,
    'user' | 'local' | 'protector' | 'policy' | 'enroller' | 'event' | 'attributes' | 'makeKey'
  >;
  readonly directory: EnrollmentDirectory;
  readonly now: () => number;
}

/** What an attempt came to: what it stored (or made pending), or why it failed (already logged). */
export type AttemptResult =
  | {
      readonly ok: true;
      readonly stored: boolean;
      readonly report: ProfileReport;
      readonly memory: ProfileMemory;
    }
  | ({ readonly ok: false } & EnrollmentFailure);

/**
 * One request or poll under the claim. A pending answer roams as the profile's request token (it
 * replaces the claim and the request it continues, in one write); an issued certificate is checked
 * and stored (`store-issued.ts`). `release` collects the token values to remove after the run's
 * sync: the request a certificate finished, or a pending request the CA refused.
 */
export async function attempt(
  ctx: AttemptContext,
  input: {
    readonly profile: EnrollmentProfile;
    readonly work: Work;
    /** The claim value this endpoint wrote. */
    readonly claim: Uint8Array;
    readonly release: Uint8Array[];
  },
): Promise<AttemptResult> {
  const { deps } = ctx;
  const { profile, work, claim, release } = input;
  const { roaming } = deps.policy();
  const now = ctx.now();
  try {
    const enroller = await deps.enroller(profile);
    const challenge = profile.challenge ? await readChallenge(profile.challenge.file) : undefined;
    const ca = { url: profile.ca.url, fingerprint: profile.ca.fingerprint };
    const renewing = work.renewing?.privateKey
      ? { renewing: { certificate: work.renewing.certificate, privateKey: work.renewing.privateKey } }
      : {};
    let key: EnrollmentKey;
    let outcome: EnrollmentOutcome;
    let renewingId: string | undefined;
    let since = now;
    if (work.kind === 'poll') {
      const r = work.request.payload;
      key = { privateKey: r.privateKey, publicKey: r.publicKey };
      renewingId = r.renewing;
      since = r.since;
      outcome = await enroller.poll({
        profile: profile.id,
        ca,
        key,
        state: r.state,
        ...(challenge !== undefined ? { challenge } : {}),
        ...renewing,
      });
    } else {
      const names = await fillTemplates(profile, {
        user: deps.user,
        ...(deps.attributes ? { attributes: deps.attributes } : {}),
      });
      key = await (deps.makeKey ?? makeKey)(profile.key);
      renewingId = work.renewing?.id;
      outcome = await enroller.request({
        profile: profile.id,
        ca,
        subject: names.subject,
        subjectAltNames: names.subjectAltNames,
        key,
        ...(challenge !== undefined ? { challenge } : {}),
        ...renewing,
      });
    }
    if (outcome.status === 'pending') {
      const pending = { profile, work, claim, release, key, outcome, renewingId, since, now };
      return await roamPending(ctx, roaming, pending);
    }
    const stored = await storeIssued(
      { local: deps.local, now: ctx.now, clockSkewMs: roaming.clockSkewSeconds * 1000 },
      { profile, key, outcome, renewing: renewingId },
    );
    const { certId, issued, renewed } = stored;
    if (work.kind === 'poll') release.push(...work.request.values);
    deps.event(
      'info',
      renewed ? EventId.EnrollmentRenewed : EventId.EnrollmentIssued,
      `profile '${profile.id}': ${renewed ? 'renewed' : 'issued'} ${printable(issued.subject.replace(/\n/g, ', '))}, valid to ${issued.validTo}`,
      { profile: profile.id, certificate: certId },
    );
    return {
      ok: true,
      stored: true,
      memory: {},
      report: {
        id: profile.id,
        state: renewed ? 'renewed' : 'issued',
        certificate: certId,
        notAfter: new Date(Date.parse(issued.validTo)).toISOString(),
      },
    };
  } catch (error) {
    const failure = failureOf(error);
    const [event, level] = failureEvent(failure.code);
    // A pending request the CA refused is over: the next attempt starts afresh.
    if (work.kind === 'poll' && endsPendingRequest(failure.code)) release.push(...work.request.values);
    deps.event(level, event, aboutProfile(profile.id, failure.reason), {
      profile: profile.id,
      code: failure.code,
    });
    return { ok: false, ...failure };
  }
}

/**
 * The CA will answer later: the request (its key sealed, the enroller's state, when to ask again)
 * roams as the profile's request token, replacing the claim and the request it continues.
 */
async function roamPending(
  ctx: AttemptContext,
  roaming: RoamingPolicy,
  p: {
    readonly profile: EnrollmentProfile;
    readonly work: Work;
    readonly claim: Uint8Array;
    readonly release: Uint8Array[];
    readonly key: EnrollmentKey;
    readonly outcome: Extract<EnrollmentOutcome, { status: 'pending' }>;
    readonly renewingId: string | undefined;
    readonly since: number;
    readonly now: number;
  },
): Promise<AttemptResult> {
  const { profile, outcome, now, since } = p;
  if (outcome.state.length > ENROLLMENT_STATE_MAX_BYTES)
    throw new CredroamError(
      'E_PLUGIN',
      `the enroller's pending state is ${outcome.state.length} bytes, over ${ENROLLMENT_STATE_MAX_BYTES}`,
    );
  // Whole milliseconds within [0, 7 days] (a token's times are integers: a fractional one would
  // make the request unreadable everywhere); what is not a number is an hour.
  const after = Number.isFinite(outcome.checkAfterSeconds) ? outcome.checkAfterSeconds : 3600;
  const checkAfter = Math.ceil(now + Math.max(0, Math.min(after, 7 * 86_400)) * 1000);
  const value = await encodeEnrollmentToken(
    ctx.deps.protector,
    ctx.deps.user,
    'request',
    {
      profile: profile.id,
      enroller: profile.enroller,
      privateKey: p.key.privateKey,
      publicKey: p.key.publicKey,
      state: outcome.state,
      checkAfter,
      since,
      ...(p.renewingId ? { renewing: p.renewingId } : {}),
    },
    now,
  );
  // A value no endpoint would read (over maxTokenBytes) is not written: the request would be lost.
  if (value.length > roaming.maxTokenBytes)
    throw new CredroamError(
      'E_ENROLL_PROTOCOL',
      `the pending request (with the enroller's state of ${outcome.state.length} bytes) is ${value.length} bytes sealed, over the policy's maxTokenBytes ${roaming.maxTokenBytes}`,
    );
  // The request replaces the one it continues, and the claim goes with it: one write.
  await ctx.directory.swap(
    [p.claim, ...(p.work.kind === 'poll' ? p.work.request.values : [])],
    [value],
    roaming,
  );
  p.release.splice(p.release.indexOf(p.claim), 1);
  ctx.deps.event(
    'info',
    EventId.EnrollmentPending,
    `profile '${profile.id}': the CA will answer later; the request roams`,
    {
      profile: profile.id,
      checkAfter: new Date(checkAfter).toISOString(),
    },
  );
  return {
    ok: true,
    stored: false,
    memory: { pendingSince: since },
    report: { id: profile.id, state: 'pending', pendingSince: new Date(since).toISOString() },
  };
}
