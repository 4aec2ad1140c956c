import { EventId, type LogLevel } from '../api/events.js';
import type { TokenKind } from '../api/extension-points.js';
import type { PlanEntry, PlanOutput } from './plan.js';

/** What one sync reports: `sync --json` prints it as it is. */

export interface SkippedItem {
  readonly where: 'directory' | 'local';
  readonly kind?: TokenKind;
  readonly id?: string;
  readonly event: EventId;
  readonly reason: string;
}

export interface PlannedChange {
  readonly kind: TokenKind;
  readonly id: string;
  readonly action: PlanEntry['action'];
  readonly reason: string;
  readonly conflict: boolean;
}

export interface SyncCounts {
  uploaded: number;
  downloaded: number;
  removed: number;
  tombstoned: number;
  archived: number;
  pruned: number;
  conflicts: number;
}

/** How one sync runs. */
export interface SyncOptions {
  /** Plan only: read both sides, write nothing. */
  readonly dryRun?: boolean;
  /** Skip the stamp shortcut: read both sides even when the stamp says nothing moved. */
  readonly full?: boolean;
  /**
   * Makes the protector ready (the KDF of a password unlock): called once, never when the stamp
   * check finds nothing to do (that check needs no key), and run while both sides are read;
   * whatever opens or seals a token, reads the store, or writes waits for it. A caller that
   * unlocked already leaves it out. Its error fails the sync before anything is written, and is
   * the error reported when a read failed too.
   */
  readonly unlock?: () => Promise<unknown>;
}

/** The outcome of one sync; `sync --json` prints it as it is. */
export interface SyncReport {
  /** `unchanged`: the stamp check said nothing moved; `planned`: a dry run. */
  readonly outcome: 'unchanged' | 'synced' | 'planned';
  readonly counts: SyncCounts;
  readonly skipped: readonly SkippedItem[];
  /** Every token that is or would be acted on (not the ones left as they are). */
  readonly changes: readonly PlannedChange[];
  /** Directory operations this sync made. */
  readonly directoryOps: { readonly readStamp: number; readonly read: number; readonly write: number };
  readonly attempts: number;
}

export function emptyCounts(): SyncCounts {
  return { uploaded: 0, downloaded: 0, removed: 0, tombstoned: 0, archived: 0, pruned: 0, conflicts: 0 };
}

export function countsOf(entries: readonly PlanEntry[]): SyncCounts {
  const c = emptyCounts();
  for (const e of entries) {
    if (e.action === 'upload') c.uploaded++;
    else if (e.action === 'download') c.downloaded++;
    else if (e.action === 'remove-local') c.removed++;
    else if (e.action === 'tombstone') c.tombstoned++;
    if (e.pruned) c.pruned++;
    if (e.local?.archivedNow) c.archived++;
    if (e.conflict) c.conflicts++;
  }
  return c;
}

/** What a plan leaves out, with why: rolled-back values, uploads over the limit, orphaned attributes. */
export function skippedByPlan(plan: PlanOutput, maxTokens: number): SkippedItem[] {
  const skipped: SkippedItem[] = [];
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
    `not uploaded: the directory holds the maximum of ${maxTokens} tokens`,
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
  return skipped;
}

/** The changes a report lists, in a stable order (kind, then id). */
export function changesOf(acting: readonly PlanEntry[]): PlannedChange[] {
  return acting
    .filter((e) => e.action !== 'none' || e.local?.archivedNow)
    .map((e) => ({ kind: e.kind, id: e.id, action: e.action, reason: e.reason, conflict: e.conflict }))
    .sort((a, b) => (a.kind === b.kind ? (a.id < b.id ? -1 : 1) : a.kind < b.kind ? -1 : 1));
}

type Emit = (level: LogLevel, event: number, message: string, fields?: Record<string, unknown>) => void;

const ACTION_EVENTS: Readonly<Record<string, number>> = {
  upload: EventId.TokenUploaded,
  download: EventId.TokenDownloaded,
  'remove-local': EventId.TokenRemovedLocally,
  tombstone: EventId.TombstoneWritten,
  prune: EventId.TombstonePruned,
};

/** One event per change carried out, one per skipped item, and the sync's own. */
export function logOutcome(
  emit: Emit,
  acting: readonly PlanEntry[],
  failed: ReadonlySet<string>,
  skipped: readonly SkippedItem[],
  counts: SyncCounts,
): void {
  for (const e of acting) {
    if (failed.has(e.key)) continue;
    const at = { kind: e.kind, id: e.id, reason: e.reason };
    if (e.conflict) emit('warn', EventId.Conflict, `conflict on ${e.kind} ${e.id}: ${e.reason}`, at);
    const event = ACTION_EVENTS[e.action];
    if (event !== undefined) emit('info', event, `${e.action} ${e.kind} ${e.id}: ${e.reason}`, at);
    if (e.local?.archivedNow) emit('info', EventId.TokenArchived, `archived expired ${e.kind} ${e.id}`, at);
    if (e.action === 'none' && e.remove.length > 0) {
      emit(
        'info',
        EventId.DuplicateValuesResolved,
        `removed ${e.remove.length} superseded value(s) of ${e.kind} ${e.id}`,
        at,
      );
    }
  }
  for (const s of skipped) {
    emit('warn', s.event, `skipped ${s.where} ${s.kind ?? 'value'}${s.id ? ` ${s.id}` : ''}: ${s.reason}`, {
      ...s,
    });
  }
  emit('info', EventId.SyncSucceeded, 'sync completed', { ...counts, skipped: skipped.length });
}
