import { createHash, randomBytes } from 'node:crypto';
import { inject, injectable } from 'tsyringe';
import { ConflictError, CredroamError, errorMessage } from '../api/errors.js';
import { EventId, type Logger, type LogLevel } from '../api/events.js';
import { DirectoryStore, LocalStore, type TokenKind, TokenProtector } from '../api/extension-points.js';
import type { RoamingPolicy } from '../policy/policy.js';
import { associatedData, decodeHeader, encodeHeader, encodeToken } from './codec.js';
import { readDirectory } from './directory-side.js';
import { FactsCache } from './facts-cache.js';
import { ContentInspector } from './inspect.js';
import { type LocalSide, readLocal, recordedLocal, snapshotOf } from './local-side.js';
import { UserLock } from './lock.js';
import { LoggerToken } from './logger-token.js';
import { type BaseEntry, tombstoneHash } from './merge.js';
import { type LocalVersion, type PlanEntry, type PlanOutput, planSync } from './plan.js';
import {
  countsOf,
  emptyCounts,
  type PlannedChange,
  type SkippedItem,
  type SyncCounts,
  type SyncOptions,
  type SyncReport,
} from './report.js';
import { type SyncState, SyncStateStore } from './state.js';
import { isTombstone, TokenFlag, versionHash } from './token.js';

export type { PlannedChange, SkippedItem, SyncCounts, SyncOptions, SyncReport } from './report.js';

/** Who is roamed, under which policy, by which clock. */
export interface EngineOptions {
  readonly user: string;
  readonly policy: RoamingPolicy;
  readonly now?: () => number;
}
export const EngineOptions = Symbol.for('credroam.EngineOptions');

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');
const hex = (values: readonly Uint8Array[]): string[] =>
  values.map((v) => Buffer.from(v).toString('hex')).sort();
const sameSet = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * The roaming engine: reads both sides, merges three ways against the base, writes the directory
 * with compare-and-swap (re-reading and merging again when it loses a race), then the local store,
 * then the base. A crash at any point leaves both sides valid; the next sync converges.
 */
@injectable()
export class SyncEngine {
  readonly #now: () => number;
  readonly #facts: FactsCache;

  constructor(
    @inject(DirectoryStore) private readonly directory: DirectoryStore,
    @inject(LocalStore) private readonly local: LocalStore,
    @inject(TokenProtector) private readonly protector: TokenProtector,
    @inject(SyncStateStore) private readonly stateStore: SyncStateStore,
    @inject(ContentInspector) inspector: ContentInspector,
    @inject(UserLock) private readonly lock: UserLock,
    @inject(EngineOptions) private readonly options: EngineOptions,
    @inject(LoggerToken) private readonly log: Logger,
  ) {
    this.#now = options.now ?? Date.now;
    this.#facts = new FactsCache(inspector);
  }

  /**
   * One sync (or, with `dryRun`, its plan without any write). One at a time per user. `full` skips
   * the stamp shortcut: the agent runs a full sync at logon, which also finds values removed behind
   * credroam's back (a writer that left the stamp as it was).
   */
  sync(options: SyncOptions = {}): Promise<SyncReport> {
    return this.lock.run(async () => {
      try {
        return await this.#sync(options.dryRun ?? false, options.full ?? false, options.unlock);
      } finally {
        this.#contents.clear();
      }
    });
  }

  async #sync(dryRun: boolean, full: boolean, unlock: SyncOptions['unlock']): Promise<SyncReport> {
    const ops = { readStamp: 0, read: 0, write: 0 };
    const state = await this.stateStore.load();
    if (state !== undefined && state.user !== this.options.user) {
      throw new CredroamError(
        'E_STATE',
        `the sync state belongs to user '${state.user}', not '${this.options.user}'`,
        { user: this.options.user, stateUser: state.user },
      );
    }
    const revision = await this.local.revision();
    const now = this.#now();

    if (
      !dryRun &&
      !full &&
      state &&
      state.pending === undefined &&
      state.localRevision === revision &&
      (state.nextDue === null || state.nextDue > now)
    ) {
      ops.readStamp++;
      const stamp = hex(await this.directory.readStamp());
      if (sameSet(stamp, state.stamp)) {
        this.#event('debug', EventId.SyncUnchanged, 'nothing changed since the last sync');
        return {
          outcome: 'unchanged',
          counts: emptyCounts(),
          skipped: [],
          changes: [],
          directoryOps: ops,
          attempts: 0,
        };
      }
    }

    // There is work (or no shortcut was taken). The unlock (a KDF) runs while both sides are read:
    // whatever opens or seals a token, or reads the store's keys, waits for it, and so does any write.
    const unlocking = unlock?.();
    unlocking?.catch(() => undefined); // awaited below: never an unhandled rejection
    const ready = async (): Promise<void> => {
      await unlocking;
    };
    try {
      return await this.#attempts({ dryRun, state, revision, now, ops, ready });
    } catch (error) {
      await ready(); // a failed unlock (a wrong password) is what to report
      throw error;
    }
  }

  async #attempts(run: {
    readonly dryRun: boolean;
    readonly state: SyncState | undefined;
    readonly revision: string;
    readonly now: number;
    readonly ops: { readStamp: number; read: number; write: number };
    readonly ready: () => Promise<void>;
  }): Promise<SyncReport> {
    const { dryRun, state, revision, now, ops, ready } = run;
    const policy = this.options.policy;
    const protector: Pick<TokenProtector, 'open'> = {
      open: async (input) => {
        await ready();
        return this.protector.open(input);
      },
    };
    const base = new Map<string, BaseEntry>(Object.entries(state?.base ?? {}));
    // A write the last sync attempted but could not record (killed, or the connection lost after
    // the server applied it): what it wrote is what this endpoint knows of those tokens, whether
    // the write landed, landed on a server that has not replicated it yet, or was lost. Taking it
    // as the base is what the merge needs: a lost write is written again ("missing from the
    // directory"), and a deletion after it supersedes what was written, not the version before.
    for (const [key, entry] of Object.entries(state?.pending ?? {})) base.set(key, entry);
    // The local side as the last sync read it, while the store is as it was then (a logon's full
    // sync with nothing changed locally opens and parses nothing in the store).
    const recorded =
      state?.local !== undefined && state.localRevision === revision && state.local.revision === revision
        ? recordedLocal(state.local, { policy, now })
        : undefined;
    for (let attempt = 1; attempt <= policy.casAttempts; attempt++) {
      this.#contents.clear();
      ops.read++;
      const snapshot = await this.directory.read();
      const {
        groups,
        skipped: dirSkipped,
        handsOff: unread,
      } = await readDirectory(snapshot, base, {
        protector,
        inspector: this.#facts,
        policy,
        user: this.options.user,
        now,
        contents: this.#contents,
        event: (level, event, message, fields) => this.#event(level, event, message, fields),
      });
      const planOf = (side: LocalSide) =>
        planSync({
          local: side.local,
          directory: groups,
          base,
          now,
          tombstoneLifetimeMs: policy.tombstoneLifetimeDays * 86_400_000,
          maxTokens: policy.maxTokens,
          handsOff: new Set([...side.handsOff, ...unread]),
          suppressTombstones: side.suppressTombstones,
        });
      const fromRecord = recorded && planOf(recorded);
      let side: LocalSide;
      let plan: PlanOutput;
      if (recorded && fromRecord && !fromRecord.entries.some((e) => e.action === 'upload' && e.local)) {
        side = recorded;
        plan = fromRecord;
      } else {
        // No record, or something to upload (which needs its content): the store is read.
        await ready();
        const listing = await this.local.list();
        this.#facts.turn();
        side = readLocal(listing.items, listing.unreadable, { inspector: this.#facts, policy, now });
        plan = planOf(side);
      }
      await ready();
      const skipped: SkippedItem[] = [...side.skipped, ...dirSkipped];
      const skip = (keys: readonly string[], where: SkippedItem['where'], event: EventId, reason: string) => {
        for (const key of keys) {
          const [kind, id] = key.split(':') as [TokenKind, string];
          skipped.push({ where, kind, id, event, reason });
        }
      };
      skip(
        plan.stale,
        'directory',
        EventId.TokenRolledBack,
        'older than the version this endpoint already saw (a lagging server or a replay): replaced',
      );
      skip(
        plan.overLimit,
        'local',
        EventId.TooManyTokens,
        `not uploaded: the directory holds the maximum of ${policy.maxTokens} tokens`,
      );
      for (const o of plan.orphaned) {
        skip(
          [o.key],
          o.where,
          EventId.AttributesWithoutCertificate,
          o.where === 'directory'
            ? 'not downloaded: this endpoint does not hold their certificate, and the directory has none to download (left in place)'
            : 'not uploaded: their certificate is not in the directory, nor uploaded by this sync (left in place)',
        );
      }
      const acting = plan.entries.filter(
        (e) => e.action !== 'none' || e.remove.length > 0 || e.local?.archivedNow,
      );
      const changes: PlannedChange[] = acting
        .filter((e) => e.action !== 'none' || e.local?.archivedNow)
        .map((e) => ({ kind: e.kind, id: e.id, action: e.action, reason: e.reason, conflict: e.conflict }))
        .sort((a, b) => (a.kind === b.kind ? (a.id < b.id ? -1 : 1) : a.kind < b.kind ? -1 : 1));

      if (dryRun) {
        this.#event('info', EventId.SyncPlanned, `dry run: ${changes.length} change(s) planned`, {
          changes: changes.length,
        });
        return {
          outcome: 'planned',
          counts: countsOf(plan.entries),
          skipped,
          changes,
          directoryOps: ops,
          attempts: attempt,
        };
      }

      // 1. The directory, in one compare-and-swap.
      const written = new Map<string, BaseEntry>();
      const remove: Uint8Array[] = [];
      const add: Uint8Array[] = [];
      for (const e of acting) {
        remove.push(...e.remove);
        const value = await this.#encodeFor(e, now);
        if (value) {
          add.push(value.value);
          written.set(e.key, value.base);
        }
      }
      let stampAfter = hex(snapshot.stamp);
      if (remove.length > 0 || add.length > 0) {
        const fresh = randomBytes(16);
        // Write-ahead: what this write will make the base, should the process die before step 3.
        await this.stateStore.save({
          ...(state ?? emptyState(this.options.user)),
          base: Object.fromEntries(base),
          pending: Object.fromEntries(written),
        });
        ops.write++;

        try {
          await this.directory.write({
            tokens: { remove, add },
            stamp: { remove: snapshot.stamp, add: [fresh] },
          });
        } catch (error) {
          if (error instanceof ConflictError) {
            this.#event(
              'debug',
              EventId.CompareAndSwapRetried,
              `the directory changed (attempt ${attempt}): merging again`,
            );
            continue;
          }
          throw error;
        }
        stampAfter = hex([fresh]);
      }

      // 2. The local store: a store that can (`flush`) takes every write held back and makes them
      // durable at once, before the base is saved. A crash before the flush ends leaves each item
      // as it was or as written, and the base as it was: the next sync finds them equal, or
      // writes them again.
      let localWritten = false;
      const failed = new Set<string>();
      const durable = this.local.flush === undefined;
      for (const e of acting) {
        try {
          localWritten = (await this.#applyLocal(e, durable)) || localWritten;
        } catch (error) {
          failed.add(e.key);
          skipped.push({
            where: 'local',
            kind: e.kind,
            id: e.id,
            event: EventId.LocalItemUnreadable,
            reason: `local store refused the change: ${errorMessage(error)}`,
          });
        }
      }
      if (!durable) await this.local.flush!();

      // 3. The base, crash-safe.
      for (const e of plan.entries) {
        if (failed.has(e.key)) continue;
        const next = nextBase(e, written.get(e.key));
        if (next === undefined) base.delete(e.key);
        else base.set(e.key, next);
      }
      await this.stateStore.save({
        version: 1,
        user: this.options.user,
        stamp: stampAfter,
        localRevision: localWritten || failed.size > 0 ? null : revision,
        ...(localWritten || failed.size > 0
          ? {}
          : { local: side.recorded && state?.local ? state.local : snapshotOf(side, revision) }),
        nextDue: nextDue(side.local, base, policy),
        base: Object.fromEntries([...base.entries()].sort(([a], [b]) => (a < b ? -1 : 1))),
      } satisfies SyncState);

      const counts = countsOf(acting.filter((e) => !failed.has(e.key)));
      this.#logOutcome(acting, failed, skipped, counts);
      return { outcome: 'synced', counts, skipped, changes, directoryOps: ops, attempts: attempt };
    }
    this.#event(
      'error',
      EventId.CompareAndSwapExhausted,
      `gave up after ${policy.casAttempts} compare-and-swap attempts`,
    );
    throw new CredroamError(
      'E_CAS_EXHAUSTED',
      `the directory kept changing during the sync: gave up after ${policy.casAttempts} attempts; the next sync will try again`,
      { attempts: policy.casAttempts },
    );
  }

  /** Opened contents by value hash, for the downloads of this sync. */
  readonly #contents = new Map<string, Uint8Array>();

  async #encodeFor(e: PlanEntry, now: number): Promise<{ value: Uint8Array; base: BaseEntry } | undefined> {
    let flags: number;
    let content: Uint8Array;
    let modified: number;
    let superseded: BaseEntry['superseded'];
    // A version written again (lost from, or rolled back in, the directory) keeps its date: it is
    // the same version, and must not look newer than what a deletion of it superseded. A new
    // version is dated after everything this endpoint saw of the token.
    const again =
      e.base !== undefined &&
      (e.action === 'upload' ? e.local?.version.hash : tombstoneHash(e.kind)) === e.base.hash;
    if (e.action === 'upload' && e.local) {
      flags = e.local.version.flags;
      content = e.local.item.content;
      modified = again ? e.base!.modified : Math.max(e.local.version.modified, e.floor + 1);
    } else if (e.action === 'tombstone') {
      flags = TokenFlag.Tombstone;
      content = new Uint8Array(0);
      modified = again ? e.base!.modified : Math.max(now, e.floor + 1);
      // What this endpoint deletes: its base, or (writing a lost tombstone again) what that deleted.
      superseded = again ? e.base!.superseded : { modified: e.base!.modified, hash: e.base!.hash };
    } else {
      return undefined;
    }
    // The associated data leaves out the payload length, which is known only after sealing.
    const fields = { kind: e.kind, flags, modified, id: e.id, ...(superseded ? { superseded } : {}) };
    const unsized = encodeHeader({ ...fields, payloadLength: 0 });
    const sealed = await this.protector.seal({
      kind: e.kind,
      payload: content,
      aad: associatedData(this.options.user, unsized),
    });
    const value = encodeToken(encodeHeader({ ...fields, payloadLength: sealed.length }), sealed);
    return {
      value,
      base: {
        hash: versionHash(e.kind, flags, content),
        modified,
        flags,
        valueHash: sha256(value),
        ...(superseded ? { superseded } : {}),
      },
    };
  }

  /** Applies one entry to the local store (`durable: false`: held for the flush); true when the store was written. */
  async #applyLocal(e: PlanEntry, durable: boolean): Promise<boolean> {
    const options = durable ? {} : { durable: false };
    if (e.action === 'download' && e.remote) {
      let content = this.#contents.get(e.remote.valueHash);
      if (content === undefined) {
        // Bytes identical to a value authenticated before: open them now to have the content.
        const decoded = decodeHeader(e.remote.value, Number.MAX_SAFE_INTEGER);
        if (!decoded.ok) throw new Error(decoded.message);
        content = await this.protector.open({
          kind: e.kind,
          sealed: decoded.sealed,
          aad: associatedData(this.options.user, e.remote.value),
        });
      }
      await this.local.put(
        {
          kind: e.kind,
          id: e.id,
          content,
          archived: (e.remote.version.flags & TokenFlag.Archived) !== 0,
          modified: e.remote.version.modified,
        },
        options,
      );
      return true;
    }
    if (e.action === 'remove-local') {
      // Kept for a whole lifetime from now, not from the tombstone's date: an old tombstone (one
      // that waited for an endpoint back from a long absence) must not empty the archive at once.
      const lifetime = this.options.policy.tombstoneLifetimeDays * 86_400_000;
      await this.local.remove(e.kind, e.id, { keepUntil: this.#now() + lifetime });
      return true;
    }
    if (e.local?.archivedNow && (e.action === 'upload' || e.action === 'none')) {
      await this.local.put(e.local.item, options);
      return true;
    }
    return false;
  }

  #logOutcome(
    acting: readonly PlanEntry[],
    failed: ReadonlySet<string>,
    skipped: readonly SkippedItem[],
    counts: SyncCounts,
  ) {
    const events: Record<string, number> = {
      upload: EventId.TokenUploaded,
      download: EventId.TokenDownloaded,
      'remove-local': EventId.TokenRemovedLocally,
      tombstone: EventId.TombstoneWritten,
      prune: EventId.TombstonePruned,
    };
    for (const e of acting) {
      if (failed.has(e.key)) continue;
      const at = { kind: e.kind, id: e.id, reason: e.reason };
      if (e.conflict) this.#event('warn', EventId.Conflict, `conflict on ${e.kind} ${e.id}: ${e.reason}`, at);
      const event = events[e.action];
      if (event !== undefined) this.#event('info', event, `${e.action} ${e.kind} ${e.id}: ${e.reason}`, at);
      if (e.local?.archivedNow)
        this.#event('info', EventId.TokenArchived, `archived expired ${e.kind} ${e.id}`, at);
      if (e.action === 'none' && e.remove.length > 0) {
        this.#event(
          'info',
          EventId.DuplicateValuesResolved,
          `removed ${e.remove.length} superseded value(s) of ${e.kind} ${e.id}`,
          at,
        );
      }
    }
    for (const s of skipped) {
      this.#event(
        'warn',
        s.event,
        `skipped ${s.where} ${s.kind ?? 'value'}${s.id ? ` ${s.id}` : ''}: ${s.reason}`,
        {
          ...s,
        },
      );
    }
    this.#event('info', EventId.SyncSucceeded, 'sync completed', { ...counts, skipped: skipped.length });
  }

  #event(level: LogLevel, event: number, message: string, fields: Record<string, unknown> = {}): void {
    this.log.log(level, event, message, { user: this.options.user, ...fields });
  }
}

function emptyState(user: string): SyncState {
  return { version: 1, user, stamp: [], localRevision: null, nextDue: null, base: {} };
}

/** The base after an entry was carried out. */
function nextBase(e: PlanEntry, written: BaseEntry | undefined): BaseEntry | undefined {
  if (written) return written;
  if (e.pruned || e.action === 'forget' || e.action === 'prune') return undefined;
  if (e.remote) {
    const v = e.remote.version;
    return {
      hash: v.hash,
      modified: v.modified,
      flags: v.flags,
      valueHash: e.remote.valueHash,
      ...(v.superseded ? { superseded: v.superseded } : {}),
    };
  }
  return e.base; // nothing agreed on (a held-back tombstone, a refused upload): keep what was known
}

/** The earliest time at which a sync has work even if nothing else changes. */
function nextDue(
  local: ReadonlyMap<string, LocalVersion>,
  base: ReadonlyMap<string, BaseEntry>,
  policy: RoamingPolicy,
): number | null {
  let due = Number.POSITIVE_INFINITY;
  const lifetime = policy.tombstoneLifetimeDays * 86_400_000;
  for (const b of base.values()) if (isTombstone(b)) due = Math.min(due, b.modified + lifetime + 1);
  if (policy.archiveExpired) {
    for (const l of local.values()) {
      const notAfter = l.notAfter;
      if (notAfter !== undefined && !l.item.archived) due = Math.min(due, notAfter + 1);
    }
  }
  return Number.isFinite(due) ? due : null;
}
