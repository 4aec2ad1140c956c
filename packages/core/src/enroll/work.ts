import { createHash } from 'node:crypto';
import type { HeldCertificate, ProfileStanding } from './evaluate.js';
import type { EnrollmentProfile } from './profile.js';
import type { EnrollmentToken } from './tokens.js';

const DAY = 86_400_000;

/** A request pending at the CA, as the directory holds it (a request token). */
export type PendingRequest = EnrollmentToken & { kind: 'request' };

/** What one attempt does for a profile: a new request, or a poll of the pending one. */
export type Work =
  | { readonly kind: 'request'; readonly renewing?: HeldCertificate }
  | {
      readonly kind: 'poll';
      readonly request: PendingRequest;
      /** The certificate the request renews, when this endpoint holds it. */
      readonly renewing?: HeldCertificate;
    };

/** What the directory's tokens say an unmet profile needs. */
export interface WorkDecision {
  /** The pending request to poll, when there is one to go on with. */
  readonly usable: PendingRequest | undefined;
  readonly work: Work;
  /** The pending request's check time has not come (and the run is not on demand): nothing to do yet. */
  readonly waiting: boolean;
  /** The values of a request given up (they go with the claim). */
  readonly abandoned: readonly Uint8Array[];
}

/** A fresh request: a renewal when the profile's certificate is due. */
export const freshRequest = (standing: ProfileStanding): Work => ({
  kind: 'request',
  ...(standing.state === 'due' ? { renewing: standing.held } : {}),
});

/**
 * Poll the profile's pending request, or make a new one. A request of another enroller, pending
 * longer than `pendingDays`, or whose key already has a certificate in the local store (active or
 * archived) or is known to the sync state (the user removed it since: the request was finished,
 * and a directory writer put its token back, or its holder stopped before releasing it) is given
 * up: a fresh request replaces it. Polled, the CA would hand
 * back the certificate it issued for it, which would be stored as active again: one that was
 * renewed (archived) since would come back, on every endpoint.
 */
export function decideWork(input: {
  readonly profile: EnrollmentProfile;
  readonly standing: ProfileStanding;
  readonly tokens: ReadonlyMap<string, EnrollmentToken>;
  readonly now: number;
  readonly pendingDays: number;
  /** On demand (`credroam enroll`): a request's check time does not hold it back. */
  readonly onDemand: boolean;
  /**
   * The key ids (SHA-256 of the SubjectPublicKeyInfo) of the local store's certificates, archived
   * too, and of the keys the sync state knows (removed since included).
   */
  readonly certifiedKeys: ReadonlySet<string>;
}): WorkDecision {
  const { profile, standing, now } = input;
  const request = input.tokens.get(`request:${profile.id}`) as PendingRequest | undefined;
  const stale =
    request !== undefined &&
    (request.payload.enroller !== profile.enroller ||
      now - request.payload.since > input.pendingDays * DAY ||
      input.certifiedKeys.has(createHash('sha256').update(request.payload.publicKey).digest('hex')));
  const usable = request && !stale ? request : undefined;
  const work: Work = usable
    ? {
        kind: 'poll',
        request: usable,
        ...(standing.state !== 'missing' && standing.held.id === usable.payload.renewing
          ? { renewing: standing.held }
          : {}),
      }
    : freshRequest(standing);
  const waiting = usable !== undefined && usable.payload.checkAfter > now && !input.onDemand;
  return { usable, work, waiting, abandoned: stale ? request.values : [] };
}
