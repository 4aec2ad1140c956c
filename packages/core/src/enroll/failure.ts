import { CredroamError, errorMessage } from '../api/errors.js';
import { EventId, type LogLevel } from '../api/events.js';
import { printable } from '../text/printable.js';
import type { ProfileMemory } from './enrollment-state.js';

/**
 * How enrollment failures are told apart (decision 022, "Retries follow the failure"):
 *
 * | code                  | event                 | level | retried in | a failed poll ends its request |
 * | --------------------- | --------------------- | ----- | ---------- | ------------------------------ |
 * | E_UNREACHABLE         | EnrollmentUnreachable | warn  | an hour    | no                             |
 * | E_ENROLL_REFUSED      | EnrollmentRefused     | error | a day      | yes                            |
 * | E_ENROLL_CA_MISMATCH  | EnrollmentCaMismatch  | error | a day      | yes                            |
 * | any other             | EnrollmentFailed      | error | a day      | yes                            |
 *
 * A claim the directory would not take is retried in an hour (event EnrollmentFailed at warn).
 */
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The longest wait between attempts: a remembered retry time beyond it is not this endpoint's. */
export const LONGEST_RETRY_MS = DAY;
/** The wait after the directory would not take a claim. */
export const CLAIM_RETRY_MS = HOUR;

/** A failure as enrollment reports and remembers it. */
export interface EnrollmentFailure {
  /** The error's stable code; E_PLUGIN when it has none (an enroller's own error). */
  readonly code: string;
  /** Its message, printable (`printable.ts`). */
  readonly reason: string;
}

export const failureOf = (error: unknown): EnrollmentFailure => ({
  code: error instanceof CredroamError ? error.code : 'E_PLUGIN',
  reason: printable(errorMessage(error)),
});

/** The event a failed attempt is logged as, and its level. */
export const failureEvent = (code: string): readonly [event: number, level: LogLevel] =>
  code === 'E_UNREACHABLE'
    ? [EventId.EnrollmentUnreachable, 'warn']
    : code === 'E_ENROLL_REFUSED'
      ? [EventId.EnrollmentRefused, 'error']
      : code === 'E_ENROLL_CA_MISMATCH'
        ? [EventId.EnrollmentCaMismatch, 'error']
        : [EventId.EnrollmentFailed, 'error'];

/** How long a profile whose attempt failed waits: an unreachable CA an hour, anything else a day. */
export const retryDelay = (code: string): number => (code === 'E_UNREACHABLE' ? HOUR : DAY);

/** Whether a failed poll ends its pending request: the CA answered, and not with a certificate. */
export const endsPendingRequest = (code: string): boolean => code !== 'E_UNREACHABLE';

/**
 * Whether a fresh request follows, in the same run, a poll that ended its request: only when the CA
 * said no to that request or it could not be resumed. A CA that is not the pinned one gets nothing
 * more (its failure stands, a day), nor does a profile that cannot be filled in.
 */
export const retriesAfresh = (code: string): boolean =>
  code === 'E_ENROLL_REFUSED' || code === 'E_ENROLL_PROTOCOL';

/** A message about a profile, naming it once (errors from the profile's templates already do). */
export const aboutProfile = (profile: string, message: string): string =>
  message.startsWith(`profile '${profile}'`) ? message : `profile '${profile}': ${message}`;

/** What is remembered of a failure: since the first in a row, tried again `delay` from `now`. */
export const failingMemory = (
  previous: ProfileMemory | undefined,
  failure: EnrollmentFailure,
  now: number,
  delay: number,
): NonNullable<ProfileMemory['failing']> => ({
  since: previous?.failing?.since ?? now,
  code: failure.code,
  reason: failure.reason,
  nextAttempt: now + delay,
});
