import type { EventId } from '../api/events.js';
import type { TokenKind } from '../api/extension-points.js';
import type { PlanEntry } from './plan.js';

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
