import { createHash, randomBytes } from 'node:crypto';
import { ConflictError } from '../api/errors.js';
import { EventId } from '../api/events.js';
import type { DirectorySnapshot } from '../api/points/directory-store.js';
import type { RoamingPolicy } from '../policy/policy.js';
import type { EnrollmentDeps } from './enrollment-deps.js';
import type { EnrollmentPolicy, EnrollmentProfile } from './profile.js';
import { type EnrollmentToken, encodeEnrollmentToken, readEnrollmentTokens } from './tokens.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
/**
 * The stamp written when the entry has none: the same bytes from every endpoint, so that of two
 * writers that both found no stamp, the second finds the value there already and loses the
 * compare-and-swap (an empty stamp guards nothing; a claim must be exclusive).
 */
const FIRST_STAMP = createHash('sha256').update('credroam/enroll/first-stamp').digest();
const stampSwap = (read: readonly Uint8Array[]) => ({
  remove: read,
  add: [read.length === 0 ? FIRST_STAMP : randomBytes(16)],
});

/** A claim taken (`held`, the value written) or not (another endpoint's lasts `until`), and what was read to decide. */
export interface ClaimResult {
  readonly held?: Uint8Array;
  readonly until: number;
  readonly tokens: ReadonlyMap<string, EnrollmentToken>;
}

/**
 * Enrollment's side of the directory: reading the claim and request tokens, taking a profile's
 * claim, and swapping token values. Every write is a compare-and-swap on the change stamp; a lost
 * race reads again, up to the policy's `casAttempts`, then the `ConflictError` goes to the caller.
 */
export class EnrollmentDirectory {
  readonly #d: Pick<EnrollmentDeps, 'directory' | 'protector' | 'user' | 'event'>;
  readonly #now: () => number;

  constructor(deps: Pick<EnrollmentDeps, 'directory' | 'protector' | 'user' | 'event'>, now: () => number) {
    this.#d = deps;
    this.#now = now;
  }

  /** The profiles' claims and requests that pass every check; each planted value that fails one is an event (ten at most a read). */
  async readTokens(
    enrollment: EnrollmentPolicy,
    roaming: RoamingPolicy,
  ): Promise<Map<string, EnrollmentToken>> {
    const { skipped, tokens } = await this.#read(
      await this.#d.directory.read(),
      enrollment.profiles.map((p) => p.id),
      roaming,
    );
    // Each value a writer planted is not an event of its own: the first ten, then how many more.
    for (const s of skipped.slice(0, 10))
      this.#d.event(
        'warn',
        EventId.EnrollmentTokenSkipped,
        `enrollment ${s.kind} token ${s.id.slice(0, 16)}… skipped: ${s.reason}`,
        {
          kind: s.kind,
          id: s.id,
        },
      );
    if (skipped.length > 10)
      this.#d.event(
        'warn',
        EventId.EnrollmentTokenSkipped,
        `enrollment tokens skipped: ${skipped.length - 10} more that failed a check`,
        { more: skipped.length - 10 },
      );
    return tokens;
  }

  /**
   * Takes the profile's claim with compare-and-swap: a live claim of another endpoint wins; an
   * expired one, or this endpoint's own, is replaced. Lost races read again.
   */
  async claim(
    profile: EnrollmentProfile,
    endpoint: string,
    enrollment: EnrollmentPolicy,
    roaming: RoamingPolicy,
  ): Promise<ClaimResult> {
    for (let attempt = 1; ; attempt++) {
      const snapshot = await this.#d.directory.read();
      const { tokens } = await this.#read(snapshot, [profile.id], roaming);
      const now = this.#now();
      const current = tokens.get(`claim:${profile.id}`) as (EnrollmentToken & { kind: 'claim' }) | undefined;
      if (current && current.payload.endpoint !== endpoint && current.payload.expires > now)
        return { until: current.payload.expires, tokens };
      const expires = now + enrollment.claimMinutes * 60_000;
      const value = await encodeEnrollmentToken(
        this.#d.protector,
        this.#d.user,
        'claim',
        { profile: profile.id, endpoint, expires },
        now,
      );
      try {
        await this.#d.directory.write({
          tokens: { remove: current?.values ?? [], add: [value] },
          stamp: stampSwap(snapshot.stamp),
        });
        return { held: value, until: expires, tokens };
      } catch (error) {
        if (!(error instanceof ConflictError) || attempt >= roaming.casAttempts) throw error;
      }
    }
  }

  /** Removes `remove` (those still there) and adds `add`, with compare-and-swap; lost races read again. */
  async swap(
    remove: readonly Uint8Array[],
    add: readonly Uint8Array[],
    roaming: RoamingPolicy,
  ): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const snapshot = await this.#d.directory.read();
      const present = new Set(snapshot.tokens.map(hex));
      const gone = [...new Map(remove.map((v) => [hex(v), v])).entries()]
        .filter(([h]) => present.has(h))
        .map(([, v]) => v);
      const fresh = add.filter((v) => !present.has(hex(v)));
      if (gone.length === 0 && fresh.length === 0) return;
      try {
        await this.#d.directory.write({
          tokens: { remove: gone, add: fresh },
          stamp: stampSwap(snapshot.stamp),
        });
        return;
      } catch (error) {
        if (!(error instanceof ConflictError) || attempt >= roaming.casAttempts) throw error;
      }
    }
  }

  /** The claims and requests of `profiles` among a snapshot's tokens. */
  #read(
    snapshot: DirectorySnapshot,
    profiles: readonly string[],
    roaming: RoamingPolicy,
  ): ReturnType<typeof readEnrollmentTokens> {
    return readEnrollmentTokens(snapshot.tokens, {
      protector: this.#d.protector,
      user: this.#d.user,
      profiles,
      maxTokenBytes: roaming.maxTokenBytes,
      maxFuture: this.#now() + roaming.clockSkewSeconds * 1000,
    });
  }
}
