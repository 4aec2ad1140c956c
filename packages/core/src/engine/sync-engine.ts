import { randomBytes } from 'node:crypto';
import { inject, injectable } from 'tsyringe';
import { ConflictError, CredroamError } from '../api/errors.js';
import { EventId, type Logger, type LogLevel } from '../api/events.js';
import { DirectoryStore, LocalStore, TokenProtector } from '../api/extension-points.js';
import type { RoamingPolicy } from '../policy/policy.js';
import { DirectoryMemo } from './directory-memo.js';
import { readDirectory } from './directory-side.js';
import { FactsCache } from './facts-cache.js';
import { ContentInspector } from './inspect.js';
import { type LocalSide, readLocal, recordedLocal, snapshotOf } from './local-side.js';
import { type LockHeld, UserLock } from './lock.js';
import { LoggerToken } from './logger-token.js';
import type { BaseEntry } from './merge.js';
import { planSync } from './plan.js';
import {
  changesOf,
  countsOf,
  logOutcome,
  type SyncOptions,
  type SyncReport,
  skippedByPlan,
} from './report.js';
import { checkStateUser, unchangedReport, unchangedSinceLastSync } from './shortcut.js';
import { sameStamp, stampSet } from './stamp.js';
import { emptyState, type SyncState, SyncStateStore, sameState } from './state.js';
import { type DirectoryWrite, directoryWrite, nextBase, nextDue, writeLocal } from './write-side.js';

export type { PlannedChange, SkippedItem, SyncCounts, SyncOptions, SyncReport } from './report.js';

/** Who is roamed, under which policy, by which clock. */
export interface EngineOptions {
  readonly user: string;
  readonly policy: RoamingPolicy;
  readonly now?: () => number;
}
export const EngineOptions = Symbol.for('credroam.EngineOptions');

/**
 * The roaming engine: reads both sides, merges three ways against the base, writes the directory
 * with compare-and-swap (re-reading and merging again when it loses a race), then the local store,
 * then the base. A crash at any point leaves both sides valid; the next sync converges.
 */
@injectable()
export class SyncEngine {
  readonly #now: () => number;
  readonly #facts: FactsCache;
  /** The directory's values as last read or written (decision 028): a change sync reads the stamp. */
  readonly #memo = new DirectoryMemo();

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
    return this.lock.run(async (held) => {
      return this.#sync(options.dryRun ?? false, options.full ?? false, options.unlock, held);
    });
  }

  async #sync(
    dryRun: boolean,
    full: boolean,
    unlock: SyncOptions['unlock'],
    held: LockHeld,
  ): Promise<SyncReport> {
    const ops = { readStamp: 0, read: 0, write: 0 };
    const state = await this.stateStore.load();
    checkStateUser(state, this.options.user);
    const revision = await this.local.revision();
    const now = this.#now();

    const readStamp = () => {
      ops.readStamp++;
      return this.directory.readStamp();
    };
    if (!dryRun && !full && (await unchangedSinceLastSync(state, revision, now, readStamp))) {
      this.#event('debug', EventId.SyncUnchanged, 'nothing changed since the last sync');
      return unchangedReport();
    }

    // There is work (or no shortcut was taken). The unlock (a KDF) runs while both sides are read:
    // whatever opens or seals a token, or reads the store's keys, waits for it, and so does any write.
    const unlocking = unlock?.();
    unlocking?.catch(() => undefined); // awaited below: never an unhandled rejection
    const ready = async (): Promise<void> => {
      await unlocking;
    };
    try {
      return await this.#attempts({ dryRun, full, state, revision, now, ops, ready, held });
    } catch (error) {
      this.#memo.forget(); // whatever failed, the next sync reads the directory in full
      await ready(); // a failed unlock (a wrong password) is what to report
      throw error;
    }
  }

  async #attempts(run: {
    readonly dryRun: boolean;
    readonly full: boolean;
    readonly state: SyncState | undefined;
    readonly revision: string;
    readonly now: number;
    readonly ops: { readStamp: number; read: number; write: number };
    readonly ready: () => Promise<void>;
    /** Aborted when the sync lock is lost: checked before each write (see `UserLock`). */
    readonly held: LockHeld;
  }): Promise<SyncReport> {
    const { dryRun, full, state, revision, now, ops, ready, held } = run;
    const policy = this.options.policy;
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
    // The remembered directory (decision 028) serves the first attempt of a sync that is not full,
    // after a sync of this engine recorded the stamp it goes with and no write is in doubt.
    const memoStamp = this.#memo.stamp(now);
    let remembered =
      !full &&
      state?.pending === undefined &&
      memoStamp !== undefined &&
      sameStamp(memoStamp, state?.stamp ?? []);
    for (let attempt = 1; attempt <= policy.casAttempts; attempt++) {
      const read = await this.#readSides({ base, recorded, now, ready, remembered, ops });
      remembered = false;
      await ready();
      const { side, plan } = read;
      const skipped = [...side.skipped, ...read.skipped, ...skippedByPlan(plan, policy.maxTokens)];
      // A conflict that changes nothing (a key kept here, a certificate here using it) is still
      // reported: event 501 and the conflict count, at each sync that reads both sides.
      const acting = plan.entries.filter(
        (e) => e.action !== 'none' || e.remove.length > 0 || e.local?.archivedNow || e.conflict,
      );
      const changes = changesOf(acting);
      if (dryRun) {
        this.#event('info', EventId.SyncPlanned, `dry run: ${changes.length} change(s) planned`, {
          changes: changes.length,
        });
        const counts = countsOf(plan.entries);
        return { outcome: 'planned', counts, skipped, changes, directoryOps: ops, attempts: attempt };
      }

      // 1. The directory, in one compare-and-swap.
      const write = await directoryWrite(acting, { protector: this.protector, user: this.options.user, now });
      let stampAfter = stampSet(read.stamp);
      if (write.remove.length > 0 || write.add.length > 0) {
        held.throwIfLost();
        const fresh = await this.#writeDirectory(write, read.stamp, { state, base, attempt, ops });
        if (fresh === undefined) {
          this.#memo.forget();
          continue; // another writer got in first (or one behind the stamp): read and merge again
        }
        this.#memo.written(write, fresh);
        stampAfter = stampSet([fresh]);
      }

      // 2. The local store (checking the lock before each write and before the flush).
      const local = await writeLocal(
        acting,
        {
          local: this.local,
          protector: this.protector,
          user: this.options.user,
          policy,
          contents: read.contents,
          now: this.#now,
          throwIfLost: () => held.throwIfLost(),
        },
        skipped,
      );

      // 3. The base, crash-safe.
      for (const e of plan.entries) {
        if (local.failed.has(e.key)) continue;
        const next = nextBase(e, write.written.get(e.key));
        if (next === undefined) base.delete(e.key);
        else base.set(e.key, next);
      }
      const untouched = !local.written && local.failed.size === 0;
      const next: SyncState = {
        version: 1,
        user: this.options.user,
        stamp: stampAfter,
        localRevision: untouched ? revision : null,
        ...(untouched
          ? { local: side.recorded && state?.local ? state.local : snapshotOf(side, revision) }
          : {}),
        nextDue: nextDue(side.local, base, policy),
        base: Object.fromEntries([...base.entries()].sort(([a], [b]) => (a < b ? -1 : 1))),
      };
      // A full sync that found both sides as recorded (a logon with nothing changed) writes nothing.
      if (!sameState(state, next)) {
        held.throwIfLost();
        await this.stateStore.save(next);
      }

      const counts = countsOf(acting.filter((e) => !local.failed.has(e.key)));
      logOutcome(this.#event, acting, local.failed, skipped, counts);
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

  /**
   * Both sides and their plan: the directory in full, the local side from the record when the plan
   * needs no content from the store, else from the store (after the unlock: listing opens keys).
   */
  async #readSides(run: {
    readonly base: ReadonlyMap<string, BaseEntry>;
    readonly recorded: LocalSide | undefined;
    readonly now: number;
    readonly ready: () => Promise<void>;
    /** Whether the remembered directory may serve, when the stamp read now is its stamp. */
    readonly remembered: boolean;
    readonly ops: { readStamp: number; read: number };
  }) {
    const { base, recorded, now, ready, remembered, ops } = run;
    const policy = this.options.policy;
    // No record of the local side (the store changed since the last sync): the store is read
    // whatever the plan, so it is listed while the directory is read.
    const listed = recorded === undefined ? ready().then(() => this.local.list()) : undefined;
    listed?.catch(() => undefined); // awaited below: never an unhandled rejection
    const contents = new Map<string, Uint8Array>();
    const read = async () => {
      const snapshot = await this.#snapshot(remembered, now, ops);
      const directory = await readDirectory(snapshot, base, {
        protector: {
          open: async (input) => {
            await ready();
            return this.protector.open(input);
          },
        },
        inspector: this.#facts,
        policy,
        user: this.options.user,
        now,
        contents,
        event: this.#event,
      });
      return { snapshot, directory };
    };
    const { snapshot, directory } = await read().catch(async (error: unknown) => {
      // The listing ends first (it may repair the store): nothing reads the store once the sync,
      // and with it the user lock, is over.
      await listed?.catch(() => undefined);
      throw error;
    });
    const planOf = (side: LocalSide) =>
      planSync({
        local: side.local,
        directory: directory.groups,
        base,
        now,
        tombstoneLifetimeMs: policy.tombstoneLifetimeDays * 86_400_000,
        maxTokens: policy.maxTokens,
        handsOff: new Set([...side.handsOff, ...directory.handsOff]),
        suppressTombstones: side.suppressTombstones,
        contents,
      });
    let side = recorded;
    let plan = side && planOf(side);
    // No record, something to upload (which needs its content), or something to remove locally
    // (the store finds an item's files by the listing: a copy under a name of the user's own, say
    // certs/vpn.pem, is known only from it, and one left behind would be uploaded again as new):
    // the store is read.
    if (
      side === undefined ||
      plan === undefined ||
      plan.entries.some(
        (e) =>
          (e.action === 'upload' && e.local) ||
          e.action === 'remove-local' ||
          // a key deleted here: whether a certificate here uses it is read from the store
          (e.action === 'tombstone' && e.kind === 'key'),
      )
    ) {
      await ready();
      const listing = await (listed ?? this.local.list());
      this.#facts.turn();
      side = readLocal(listing.items, listing.unreadable, { inspector: this.#facts, policy, now });
      plan = planOf(side);
    }
    return { stamp: snapshot.stamp, skipped: directory.skipped, side, plan, contents };
  }

  /** The directory's values: remembered when `remembered` and the stamp is theirs, else read in full. */
  async #snapshot(remembered: boolean, now: number, ops: { readStamp: number; read: number }) {
    if (remembered) {
      ops.readStamp++;
      const recalled = this.#memo.recall(await this.directory.readStamp(), now);
      if (recalled) return recalled;
    }
    ops.read++;
    const snapshot = await this.directory.read();
    this.#memo.remember(snapshot, now);
    return snapshot;
  }

  /**
   * The compare-and-swap of the tokens and the stamp, after the write-ahead record of the base it
   * creates. The fresh stamp value when it landed; undefined when another writer got in first.
   */
  async #writeDirectory(
    write: DirectoryWrite,
    stamp: readonly Uint8Array[],
    run: {
      readonly state: SyncState | undefined;
      readonly base: ReadonlyMap<string, BaseEntry>;
      readonly attempt: number;
      readonly ops: { write: number };
    },
  ): Promise<Uint8Array | undefined> {
    const fresh = randomBytes(16);
    // Write-ahead: what this write will make the base, should the process die before the base is saved.
    await this.stateStore.save({
      ...(run.state ?? emptyState(this.options.user)),
      base: Object.fromEntries(run.base),
      pending: Object.fromEntries(write.written),
    });
    run.ops.write++;
    try {
      await this.directory.write({
        tokens: { remove: write.remove, add: write.add },
        stamp: { remove: [...stamp], add: [fresh] },
      });
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      this.#event(
        'debug',
        EventId.CompareAndSwapRetried,
        `the directory changed (attempt ${run.attempt}): merging again`,
      );
      return undefined;
    }
    return fresh;
  }

  readonly #event = (
    level: LogLevel,
    event: number,
    message: string,
    fields: Record<string, unknown> = {},
  ): void => this.log.log(level, event, message, { user: this.options.user, ...fields });
}
