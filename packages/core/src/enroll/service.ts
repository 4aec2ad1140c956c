import { createHash, generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { ConflictError, CredroamError, errorMessage } from '../api/errors.js';
import { EventId, type LogLevel } from '../api/events.js';
import type { DirectoryStore, LocalStore, TokenProtector } from '../api/extension-points.js';
import {
  ENROLLMENT_STATE_MAX_BYTES,
  type Enroller,
  type EnrollmentKey,
  type EnrollmentOutcome,
} from '../api/points/enroller.js';
import { encodeCredentialAttributes } from '../engine/attributes.js';
import type { RoamingPolicy } from '../policy/policy.js';
import { readChallenge } from './challenge.js';
import { EnrollmentMemoryFile, type ProfileMemory } from './enrollment-state.js';
import { type HeldCertificate, standingOf } from './evaluate.js';
import { checkIssuedCertificate, checkIssuedUsable, pinnedCertificate, verifiedChain } from './pin.js';
import {
  type EnrollmentKeySpec,
  type EnrollmentPolicy,
  type EnrollmentProfile,
  fillTemplates,
} from './profile.js';
import { type EnrollmentToken, encodeEnrollmentToken, readEnrollmentTokens } from './tokens.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const generate = promisify(generateKeyPair);
/**
 * Text from outside (a CA's refusal, an enroller's error, a certificate's subject) as it may go into
 * an event, enrollment.json and `status`: control and bidirectional-override characters become
 * spaces (no terminal escapes, no forged log lines), and it is cut at 512 characters.
 */
const printable = (text: string): string => {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing them is the point
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, ' ');
  return flat.length > 512 ? `${flat.slice(0, 511)}…` : flat;
};
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

export interface EnrollmentDeps {
  readonly user: string;
  /** The user's data folder on this endpoint (enrollment.json lives there). */
  readonly home: string;
  readonly directory: DirectoryStore;
  readonly local: LocalStore;
  readonly protector: TokenProtector;
  /** Read at each run: a policy refresh applies to the next. */
  readonly policy: () => { readonly enrollment: EnrollmentPolicy; readonly roaming: RoamingPolicy };
  /** The profile's enroller (the agent asks the plugin host, with the profile's `ca.settings`). */
  readonly enroller: (profile: EnrollmentProfile) => Promise<Enroller>;
  /** R4: the sync that follows an enrollment that changed the local store (before claims are released). */
  readonly sync: () => Promise<unknown>;
  readonly event: (level: LogLevel, event: number, message: string, fields?: Record<string, unknown>) => void;
  /** The user's directory attributes, for `{attr:NAME}` templates. */
  readonly attributes?: (names: readonly string[]) => Promise<Readonly<Record<string, readonly string[]>>>;
  readonly now?: () => number;
  readonly makeKey?: (spec: EnrollmentKeySpec) => Promise<EnrollmentKey>;
}

export interface EnrollOptions {
  /** List what would be done; change nothing (no claim, no request, no local write). */
  readonly dryRun?: boolean;
  /** On demand (`credroam enroll`): try profiles whose retry time has not come. */
  readonly now?: boolean;
}

/** A key made on this endpoint for a profile (node:crypto). */
export async function makeKey(spec: EnrollmentKeySpec): Promise<EnrollmentKey> {
  const pair =
    spec.type === 'rsa'
      ? await generate('rsa', { modulusLength: spec.bits })
      : await generate('ec', { namedCurve: spec.curve === 'P-256' ? 'prime256v1' : 'secp384r1' });
  return {
    privateKey: new Uint8Array(pair.privateKey.export({ type: 'pkcs8', format: 'der' })),
    publicKey: new Uint8Array(pair.publicKey.export({ type: 'spki', format: 'der' })),
  };
}

/** Whether another profile pins the same CA certificate. */
const sharesCa = (enrollment: EnrollmentPolicy, profile: EnrollmentProfile): boolean =>
  enrollment.profiles.some((o) => o !== profile && o.ca.fingerprint === profile.ca.fingerprint);

/** A claim taken (`held`, the value written) or not (another endpoint's lasts `until`), and what was read to decide. */
interface ClaimResult {
  readonly held?: Uint8Array;
  readonly until: number;
  readonly tokens: ReadonlyMap<string, EnrollmentToken>;
}

type Work =
  | { readonly kind: 'request'; readonly renewing?: HeldCertificate }
  | {
      readonly kind: 'poll';
      readonly request: EnrollmentToken & { kind: 'request' };
      /** The certificate the request renews, when this endpoint holds it. */
      readonly renewing?: HeldCertificate;
    };

/**
 * R4, R5: after a sync, requests what the user's profiles say they should have, renews what is
 * due, and finishes what is pending; then (when the local store changed) syncs again, so what was
 * issued roams. One endpoint at a time per profile: the claim (`tokens.ts`), taken with the
 * directory's compare-and-swap, expires by itself if its holder dies. What a CA hands back is
 * checked against the pinned CA and the key made here before anything is stored.
 */
export class EnrollmentService {
  readonly #d: EnrollmentDeps;
  readonly #memory: EnrollmentMemoryFile;
  readonly #now: () => number;

  constructor(deps: EnrollmentDeps) {
    this.#d = deps;
    this.#memory = new EnrollmentMemoryFile(deps.home);
    this.#now = deps.now ?? Date.now;
  }

  /** Each profile's standing from the local store and this endpoint's memory: no network (`status`). */
  async standing(): Promise<ProfileReport[]> {
    const { enrollment } = this.#d.policy();
    if (enrollment.profiles.length === 0) return [];
    const memory = await this.#memory.load();
    const listing = await this.#d.local.list();
    const now = this.#now();
    return enrollment.profiles.map((p) =>
      this.#describe(p, standingOf(p, listing, now, sharesCa(enrollment, p)), memory.profiles[p.id]),
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

    for (const { profile, standing } of standings) {
      const remembered = profiles[profile.id];
      if (standing.state === 'met') {
        if (remembered) delete profiles[profile.id];
        reports.push(this.#describe(profile, standing, undefined));
        continue;
      }
      // A retry time beyond the longest back-off (a day) is not this endpoint's: not believed, so an
      // enrollment.json another program wrote cannot hold a profile back forever.
      if (
        remembered?.failing &&
        remembered.failing.nextAttempt > now &&
        remembered.failing.nextAttempt <= now + DAY &&
        !options.now
      ) {
        reports.push(this.#describe(profile, standing, remembered));
        continue;
      }
      // Unmet: what the directory says (a pending request, another endpoint's claim) decides.
      tokens ??= await this.#readTokens(enrollment, roaming);
      const decide = (read: ReadonlyMap<string, EnrollmentToken>) => {
        const request = read.get(`request:${profile.id}`) as
          | (EnrollmentToken & { kind: 'request' })
          | undefined;
        // A request of another enroller, or pending longer than pendingDays, is given up: a fresh
        // request replaces it (its values go with the claim).
        const stale =
          request !== undefined &&
          (request.payload.enroller !== profile.enroller ||
            now - request.payload.since > enrollment.pendingDays * DAY);
        const usable = request && !stale ? request : undefined;
        const work: Work = usable
          ? {
              kind: 'poll',
              request: usable,
              ...(standing.state !== 'missing' && standing.held.id === usable.payload.renewing
                ? { renewing: standing.held }
                : {}),
            }
          : { kind: 'request', ...(standing.state === 'due' ? { renewing: standing.held } : {}) };
        const waiting = usable !== undefined && usable.payload.checkAfter > now && !options.now;
        return { usable, work, waiting, abandoned: stale ? request.values : [] };
      };
      const first = decide(tokens);
      if (first.waiting) {
        profiles[profile.id] = { ...remembered, pendingSince: first.usable!.payload.since };
        reports.push(this.#describe(profile, standing, profiles[profile.id]));
        continue;
      }
      if (options.dryRun) {
        reports.push({
          id: profile.id,
          state: 'planned',
          action: first.work.kind === 'poll' ? 'poll' : standing.state === 'due' ? 'renew' : 'request',
        });
        continue;
      }
      let claim: ClaimResult;
      try {
        claim = await this.#claim(profile, memory.endpoint, enrollment, roaming);
      } catch (error) {
        // The directory would not take the claim (a writer who keeps changing the entry, a
        // directory gone): this profile tries again in an hour; the others go on.
        const code = error instanceof CredroamError ? error.code : 'E_PLUGIN';
        const reason = printable(errorMessage(error));
        this.#d.event('warn', EventId.EnrollmentFailed, `profile '${profile.id}': no claim: ${reason}`, {
          profile: profile.id,
          code,
        });
        const failing = { since: remembered?.failing?.since ?? now, code, reason, nextAttempt: now + HOUR };
        profiles[profile.id] = { ...remembered, failing };
        reports.push(this.#describe(profile, standing, profiles[profile.id]));
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
        reports.push(this.#describe(profile, standing, profiles[profile.id]));
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
          reports.push(this.#describe(profile, now2, undefined));
          continue;
        }
      }
      let outcome = await this.#attempt(profile, work, claim.held, release);
      // A pending request the CA will not finish (refused, or a request token a directory writer
      // put back after it was finished) is over: start afresh now, not after a day's wait.
      if (!outcome.ok && work.kind === 'poll' && outcome.code !== 'E_UNREACHABLE') {
        const fresh: Work = {
          kind: 'request',
          ...(standing.state === 'due' ? { renewing: standing.held } : {}),
        };
        outcome = await this.#attempt(profile, fresh, claim.held, release);
      }
      if (outcome.ok) {
        if (outcome.stored) changed = true;
        profiles[profile.id] = outcome.memory;
        if (Object.keys(outcome.memory).length === 0) delete profiles[profile.id];
        reports.push(outcome.report);
      } else {
        const failing = {
          since: remembered?.failing?.since ?? now,
          code: outcome.code,
          reason: outcome.reason,
          nextAttempt: now + (outcome.code === 'E_UNREACHABLE' ? HOUR : DAY),
        };
        profiles[profile.id] = { ...remembered, failing };
        reports.push(this.#describe(profile, standing, profiles[profile.id]));
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
        await this.#swap(release, [], roaming).catch((error: unknown) =>
          this.#d.event(
            'warn',
            EventId.EnrollmentFailed,
            `enrollment: the claims could not be released (they expire by themselves): ${printable(errorMessage(error))}`,
          ),
        );
    } else {
      this.#d.event('info', EventId.EnrollmentPlanned, 'enrollment dry run: nothing was done', {
        profiles: reports.map((r) => `${r.id}:${r.action ?? r.state}`).join(' '),
      });
    }
    return { profiles: reports, changed };
  }

  async #readTokens(
    enrollment: EnrollmentPolicy,
    roaming: RoamingPolicy,
  ): Promise<Map<string, EnrollmentToken>> {
    const snapshot = await this.#d.directory.read();
    const { tokens, skipped } = await readEnrollmentTokens(snapshot.tokens, {
      protector: this.#d.protector,
      user: this.#d.user,
      profiles: enrollment.profiles.map((p) => p.id),
      maxTokenBytes: roaming.maxTokenBytes,
      maxFuture: this.#now() + roaming.clockSkewSeconds * 1000,
    });
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
  async #claim(
    profile: EnrollmentProfile,
    endpoint: string,
    enrollment: EnrollmentPolicy,
    roaming: RoamingPolicy,
  ): Promise<ClaimResult> {
    for (let attempt = 1; ; attempt++) {
      const snapshot = await this.#d.directory.read();
      const { tokens } = await readEnrollmentTokens(snapshot.tokens, {
        protector: this.#d.protector,
        user: this.#d.user,
        profiles: [profile.id],
        maxTokenBytes: roaming.maxTokenBytes,
        maxFuture: this.#now() + roaming.clockSkewSeconds * 1000,
      });
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

  /** One request or poll under the claim; what it stored, or why it failed. */
  async #attempt(
    profile: EnrollmentProfile,
    work: Work,
    claim: Uint8Array,
    release: Uint8Array[],
  ): Promise<
    | { ok: true; stored: boolean; report: ProfileReport; memory: ProfileMemory }
    | { ok: false; code: string; reason: string }
  > {
    const { roaming } = this.#d.policy();
    const now = this.#now();
    try {
      const enroller = await this.#d.enroller(profile);
      const challenge = profile.challenge ? await readChallenge(profile.challenge.file) : undefined;
      const ca = { url: profile.ca.url, fingerprint: profile.ca.fingerprint };
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
          ...(work.renewing?.privateKey
            ? { renewing: { certificate: work.renewing.certificate, privateKey: work.renewing.privateKey } }
            : {}),
        });
      } else {
        const names = await fillTemplates(profile, {
          user: this.#d.user,
          ...(this.#d.attributes ? { attributes: this.#d.attributes } : {}),
        });
        key = await (this.#d.makeKey ?? makeKey)(profile.key);
        renewingId = work.renewing?.id;
        outcome = await enroller.request({
          profile: profile.id,
          ca,
          subject: names.subject,
          subjectAltNames: names.subjectAltNames,
          key,
          ...(challenge !== undefined ? { challenge } : {}),
          ...(work.renewing?.privateKey
            ? { renewing: { certificate: work.renewing.certificate, privateKey: work.renewing.privateKey } }
            : {}),
        });
      }
      if (outcome.status === 'pending') {
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
          this.#d.protector,
          this.#d.user,
          'request',
          {
            profile: profile.id,
            enroller: profile.enroller,
            privateKey: key.privateKey,
            publicKey: key.publicKey,
            state: outcome.state,
            checkAfter,
            since,
            ...(renewingId ? { renewing: renewingId } : {}),
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
        await this.#swap([claim, ...(work.kind === 'poll' ? work.request.values : [])], [value], roaming);
        release.splice(release.indexOf(claim), 1);
        this.#d.event(
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
      const caCert = pinnedCertificate(outcome.caCertificates, profile.ca.fingerprint);
      const issued = checkIssuedCertificate(outcome.certificate, caCert, key.publicKey);
      checkIssuedUsable(issued, this.#now(), roaming.clockSkewSeconds * 1000);
      const certId = sha256(outcome.certificate);
      const chain = verifiedChain(caCert, outcome.caCertificates, 10);
      const modified = this.#now();
      await this.#d.local.put({
        kind: 'key',
        id: sha256(key.publicKey),
        content: key.privateKey,
        archived: false,
        modified,
      });
      await this.#d.local.put({
        kind: 'cert',
        id: certId,
        content: outcome.certificate,
        archived: false,
        modified,
      });
      await this.#d.local.put({
        kind: 'attrs',
        id: certId,
        content: encodeCredentialAttributes({ cert: certId, friendlyName: profile.id, chain }),
        archived: false,
        modified,
      });
      // R8: the certificate it replaces is archived once its successor is in place.
      const renewed = renewingId ? await this.#archive(renewingId, modified) : false;
      if (work.kind === 'poll') release.push(...work.request.values);
      this.#d.event(
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
      const code = error instanceof CredroamError ? error.code : 'E_PLUGIN';
      const reason = printable(errorMessage(error));
      const refusedPoll = work.kind === 'poll' && code !== 'E_UNREACHABLE';
      const [event, level] =
        code === 'E_UNREACHABLE'
          ? [EventId.EnrollmentUnreachable, 'warn' as const]
          : code === 'E_ENROLL_REFUSED'
            ? [EventId.EnrollmentRefused, 'error' as const]
            : code === 'E_ENROLL_CA_MISMATCH'
              ? [EventId.EnrollmentCaMismatch, 'error' as const]
              : [EventId.EnrollmentFailed, 'error' as const];
      // A pending request the CA refused is over: the next attempt starts afresh.
      if (refusedPoll) release.push(...work.request.values);
      this.#d.event(level, event, `profile '${profile.id}': ${reason}`, { profile: profile.id, code });
      return { ok: false, code, reason };
    }
  }

  /** Archives the local certificate `id` (R8), if it is still active; true when it was. */
  async #archive(id: string, modified: number): Promise<boolean> {
    const old = (await this.#d.local.list()).items.find((i) => i.kind === 'cert' && i.id === id);
    if (!old) return false;
    if (!old.archived) await this.#d.local.put({ ...old, archived: true, modified });
    return true;
  }

  /** Removes `remove` (those still there) and adds `add`, with compare-and-swap; lost races read again. */
  async #swap(
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

  #describe(
    profile: EnrollmentProfile,
    standing: ReturnType<typeof standingOf>,
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
}
