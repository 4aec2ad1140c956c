import type { ProfileMemory } from './enrollment-state.js';
import type { ProfileStanding } from './evaluate.js';
import type { EnrollmentProfile } from './profile.js';

/** What one profile came to in a run (and `status` shows). */
export interface ProfileReport {
  readonly id: string;
  readonly state:
    | 'met'
    | 'due'
    | 'missing'
    | 'issued'
    | 'renewed'
    | 'pending'
    | 'claimed-elsewhere'
    | 'failing'
    | 'planned';
  /** Dry run: what would be done. */
  readonly action?: 'request' | 'renew' | 'poll';
  /** The profile's certificate (its id) and when it is due for renewal, when there is one. */
  readonly certificate?: string;
  readonly notAfter?: string;
  readonly renewAt?: string;
  readonly pendingSince?: string;
  readonly failingSince?: string;
  readonly code?: string;
  readonly reason?: string;
  readonly nextAttempt?: string;
}

export interface EnrollmentReport {
  readonly profiles: readonly ProfileReport[];
  /** Whether the local store changed (the caller syncs again: R4's order). */
  readonly changed: boolean;
}

/**
 * A profile's report from its standing in the local store and this endpoint's memory of it: a
 * failure remembered comes first, then a pending request (while unmet), else the standing itself.
 */
export function describeStanding(
  profile: EnrollmentProfile,
  standing: ProfileStanding,
  memory: ProfileMemory | undefined,
): ProfileReport {
  const iso = (ms: number): string => new Date(ms).toISOString();
  const held =
    standing.state === 'missing'
      ? {}
      : {
          certificate: standing.held.id,
          notAfter: iso(standing.held.notAfter),
          renewAt: iso(standing.held.renewAt),
        };
  if (memory?.failing)
    return {
      id: profile.id,
      state: 'failing',
      ...held,
      failingSince: iso(memory.failing.since),
      code: memory.failing.code,
      reason: memory.failing.reason,
      nextAttempt: iso(memory.failing.nextAttempt),
    };
  if (standing.state !== 'met' && memory?.pendingSince !== undefined)
    return { id: profile.id, state: 'pending', ...held, pendingSince: iso(memory.pendingSince) };
  return { id: profile.id, state: standing.state, ...held };
}
