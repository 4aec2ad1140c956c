import { EventId } from '../api/events.js';
import type { LocalListing } from '../api/extension-points.js';
import { describeCertificate } from '../engine/certificate.js';
import { type AttemptContext, attempt } from './attempt.js';
import type { EnrollmentDeps, EnrollOptions } from './enrollment-deps.js';
import { type ClaimResult, EnrollmentDirectory } from './enrollment-directory.js';
import { describeStanding, type EnrollmentReport, type ProfileReport } from './enrollment-report.js';
import { EnrollmentMemoryFile, type ProfileMemory } from './enrollment-state.js';
import { standingOf } from './evaluate.js';
import {
  CLAIM_RETRY_MS,
  failingMemory,
  failureOf,
  LONGEST_RETRY_MS,
  retriesAfresh,
  retryDelay,
} from './failure.js';
import { type EnrollmentPolicy, type EnrollmentProfile, fillTemplates } from './profile.js';
import type { EnrollmentToken } from './tokens.js';
import { decideWork, freshRequest } from './work.js';

/** The key ids (SHA-256 of the SubjectPublicKeyInfo) of the listing's certificates, archived too. */
function certifiedKeys(listing: LocalListing): Set<string> {
  const ids = new Set<string>();
  for (const item of listing.items) {
    if (item.kind !== 'cert') continue;
    try {
      ids.add(describeCertificate(item.content).keyId);
    } catch {
      // not readable here: no request's key is known from it
    }
  }
  return ids;
}

/** Whether another profile pins the same CA certificate. */
const sharesCa = (enrollment: EnrollmentPolicy, profile: EnrollmentProfile): boolean =>
  enrollment.profiles.some((o) => o !== profile && o.ca.fingerprint === profile.ca.fingerprint);

/**
 * R4, R5: after a sync, requests what the user's profiles say they should have, renews what is
 * due, and finishes what is pending; then (when the local store changed) syncs again, so what was
 * issued roams. One endpoint at a time per profile: the claim (`tokens.ts`), taken with the
 * directory's compare-and-swap (`enrollment-directory.ts`), expires by itself if its holder dies.
 * What a CA hands back is checked against the pinned CA and the key made here before anything is
 * stored (`attempt.ts`).
 */
export class EnrollmentService {
  readonly #d: EnrollmentDeps;
  readonly #memory: EnrollmentMemoryFile;
  readonly #now: () => number;
  readonly #directory: EnrollmentDirectory;
  readonly #attempt: AttemptContext;

  constructor(deps: EnrollmentDeps) {
    this.#d = deps;
    this.#memory = new EnrollmentMemoryFile(deps.home);
    this.#now = deps.now ?? Date.now;
    this.#directory = new EnrollmentDirectory(deps, this.#now);
    this.#attempt = { deps, directory: this.#directory, now: this.#now };
  }

  /** Each profile's standing from the local store (`listing`, when the caller has it) and this endpoint's memory: no network (`status`). */
  async standing(listing?: LocalListing): Promise<ProfileReport[]> {
    const { enrollment } = this.#d.policy();
    if (enrollment.profiles.length === 0) return [];
    const memory = await this.#memory.load();
    listing ??= await this.#d.local.list();
    const now = this.#now();
    return enrollment.profiles.map((p) =>
      describeStanding(p, standingOf(p, listing, now, sharesCa(enrollment, p)), memory.profiles[p.id]),
    );
  }

  async run(options: EnrollOptions = {}): Promise<EnrollmentReport> {
    const { enrollment, roaming } = this.#d.policy();
    if (enrollment.profiles.length === 0) return { profiles: [], changed: false };
    const memory = await this.#memory.load();
    const profiles: Record<string, ProfileMemory> = { ...memory.profiles };
    const listing = await this.#d.local.list();
    const now = this.#now();
    const standings = enrollment.profiles.map((p) => ({
      profile: p,
      standing: standingOf(p, listing, now, sharesCa(enrollment, p)),
    }));
    const reports: ProfileReport[] = [];
    const release: Uint8Array[] = [];
    let changed = false;
    let syncedUnderClaim = false;
    let tokens: Map<string, EnrollmentToken> | undefined;
    let certified: Set<string> | undefined;

    for (const { profile, standing } of standings) {
      const remembered = profiles[profile.id];
      if (standing.state === 'met') {
        if (remembered) delete profiles[profile.id];
        reports.push(describeStanding(profile, standing, undefined));
        continue;
      }
      // A retry time beyond the longest back-off (a day) is not this endpoint's: not believed, so an
      // enrollment.json another program wrote cannot hold a profile back forever.
      if (
        remembered?.failing &&
        remembered.failing.nextAttempt > now &&
        remembered.failing.nextAttempt <= now + LONGEST_RETRY_MS &&
        !options.now
      ) {
        reports.push(describeStanding(profile, standing, remembered));
        continue;
      }
      // Unmet: what the directory says (a pending request, another endpoint's claim) decides.
      tokens ??= await this.#directory.readTokens(enrollment, roaming);
      // Also the keys the sync state knows: one the user removed since (its certificate with it)
      // is no pending request's either.
      certified ??= new Set([...certifiedKeys(listing), ...((await this.#d.syncedKeys?.()) ?? [])]);
      const certifiedNow = certified;
      const decide = (read: ReadonlyMap<string, EnrollmentToken>) =>
        decideWork({
          profile,
          standing,
          tokens: read,
          now,
          pendingDays: enrollment.pendingDays,
          onDemand: Boolean(options.now),
          certifiedKeys: certifiedNow,
        });
      const first = decide(tokens);
      if (first.waiting) {
        profiles[profile.id] = { ...remembered, pendingSince: first.usable!.payload.since };
        reports.push(describeStanding(profile, standing, profiles[profile.id]));
        continue;
      }
      if (options.dryRun) {
        // The templates are filled in (no key made, nothing sent), so a profile that cannot be
        // says so now rather than as a planned request.
        const unfilled = first.work.kind === 'request' ? await this.#templatesProblem(profile) : undefined;
        reports.push(
          unfilled
            ? { id: profile.id, state: 'failing', code: unfilled.code, reason: unfilled.reason }
            : {
                id: profile.id,
                state: 'planned',
                action: first.work.kind === 'poll' ? 'poll' : standing.state === 'due' ? 'renew' : 'request',
              },
        );
        continue;
      }
      let claim: ClaimResult;
      try {
        claim = await this.#directory.claim(profile, memory.endpoint, enrollment, roaming);
      } catch (error) {
        // The directory would not take the claim (a writer who keeps changing the entry, a
        // directory gone): this profile tries again in an hour; the others go on.
        const failure = failureOf(error);
        this.#d.event(
          'warn',
          EventId.EnrollmentFailed,
          `profile '${profile.id}': no claim: ${failure.reason}`,
          {
            profile: profile.id,
            code: failure.code,
          },
        );
        profiles[profile.id] = {
          ...remembered,
          failing: failingMemory(remembered, failure, now, CLAIM_RETRY_MS),
        };
        reports.push(describeStanding(profile, standing, profiles[profile.id]));
        continue;
      }
      if (claim.held === undefined) {
        this.#d.event(
          'debug',
          EventId.EnrollmentClaimedElsewhere,
          `profile '${profile.id}': another endpoint is enrolling it`,
          {
            profile: profile.id,
            until: new Date(claim.until).toISOString(),
          },
        );
        reports.push({ id: profile.id, state: 'claimed-elsewhere' });
        continue;
      }
      // Decided again from what the claim read: since the first read, another endpoint may have
      // made a request pending (poll it, do not make a second one) or finished one (do not poll it).
      const { usable, work, waiting, abandoned } = decide(claim.tokens);
      release.push(claim.held, ...abandoned);
      if (waiting) {
        profiles[profile.id] = { ...remembered, pendingSince: usable!.payload.since };
        reports.push(describeStanding(profile, standing, profiles[profile.id]));
        continue;
      }
      // Another endpoint may have finished and released its claim after this endpoint's last sync:
      // a sync under the claim (once a run) brings what it uploaded, and nothing is asked twice.
      if (work.kind === 'request' && !syncedUnderClaim) {
        syncedUnderClaim = true;
        await this.#d.sync();
        const now2 = standingOf(
          profile,
          await this.#d.local.list(),
          this.#now(),
          sharesCa(enrollment, profile),
        );
        if (now2.state === 'met') {
          if (remembered) delete profiles[profile.id];
          reports.push(describeStanding(profile, now2, undefined));
          continue;
        }
      }
      let outcome = await attempt(this.#attempt, { profile, work, claim: claim.held, release });
      // A pending request the CA will not finish (refused, or a request token a directory writer
      // put back after it was finished) is over: start afresh now, not after a day's wait.
      if (!outcome.ok && work.kind === 'poll' && retriesAfresh(outcome.code)) {
        outcome = await attempt(this.#attempt, {
          profile,
          work: freshRequest(standing),
          claim: claim.held,
          release,
        });
      }
      if (outcome.ok) {
        if (outcome.stored) changed = true;
        profiles[profile.id] = outcome.memory;
        if (Object.keys(outcome.memory).length === 0) delete profiles[profile.id];
        reports.push(outcome.report);
      } else {
        const failing = failingMemory(remembered, outcome, now, retryDelay(outcome.code));
        profiles[profile.id] = { ...remembered, failing };
        reports.push(describeStanding(profile, standing, profiles[profile.id]));
      }
    }
    if (!options.dryRun) {
      // Only the policy's profiles are remembered (an entry of a profile gone is dropped).
      const kept = Object.fromEntries(
        enrollment.profiles.flatMap((p) => (profiles[p.id] ? [[p.id, profiles[p.id]!]] : [])),
      );
      await this.#memory.save({ endpoint: memory.endpoint, profiles: kept });
      // R4: what was issued roams before the claims go, so no endpoint sees the profile unmet.
      if (changed) await this.#d.sync();
      // A claim that cannot be removed now expires by itself: the run's report still stands.
      if (release.length > 0)
        await this.#directory
          .swap(release, [], roaming)
          .catch((error: unknown) =>
            this.#d.event(
              'warn',
              EventId.EnrollmentFailed,
              `enrollment: the claims could not be released (they expire by themselves): ${failureOf(error).reason}`,
            ),
          );
    } else {
      this.#d.event('info', EventId.EnrollmentPlanned, 'enrollment dry run: nothing was done', {
        profiles: reports.map((r) => `${r.id}:${r.action ?? r.state}`).join(' '),
      });
    }
    return { profiles: reports, changed };
  }

  /** Why the profile's templates cannot be filled in for this user, or undefined (dry run). */
  async #templatesProblem(profile: EnrollmentProfile): Promise<{ code: string; reason: string } | undefined> {
    try {
      await fillTemplates(profile, {
        user: this.#d.user,
        ...(this.#d.attributes ? { attributes: this.#d.attributes } : {}),
      });
      return undefined;
    } catch (error) {
      return failureOf(error);
    }
  }
}
