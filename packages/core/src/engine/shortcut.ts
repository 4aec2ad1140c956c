import { CredroamError } from '../api/errors.js';
import { emptyCounts, type SyncReport } from './report.js';
import { sameStamp, stampSet } from './stamp.js';
import type { SyncState } from './state.js';

/**
 * The sync contract's shortcut: nothing changed since the last sync, told by one read of the
 * directory's change stamp and the store's revision, with no key. The engine takes it first; a
 * process without the engine takes it before loading it (`credroam sync`, decision 030). Light on
 * purpose: it loads none of the engine.
 */

/** The state file must be this user's (`E_STATE` otherwise): another user's base would merge wrongly. */
export function checkStateUser(state: SyncState | undefined, user: string): void {
  if (state !== undefined && state.user !== user) {
    throw new CredroamError('E_STATE', `the sync state belongs to user '${state.user}', not '${user}'`, {
      user,
      stateUser: state.user,
    });
  }
}

/**
 * Whether nothing changed since the last sync: it recorded no write in doubt, the store is as it
 * recorded (`revision`), nothing is due yet (an expiry, a pruning), and the directory's stamp,
 * read only when all that holds, is still the one it recorded.
 */
export async function unchangedSinceLastSync(
  state: SyncState | undefined,
  revision: string,
  now: number,
  readStamp: () => Promise<readonly Uint8Array[]>,
): Promise<boolean> {
  if (
    state === undefined ||
    state.pending !== undefined ||
    state.localRevision !== revision ||
    (state.nextDue !== null && state.nextDue <= now)
  )
    return false;
  return sameStamp(stampSet(await readStamp()), state.stamp);
}

/** The report of a sync that found nothing changed (one read of the stamp). */
export const unchangedReport = (): SyncReport => ({
  outcome: 'unchanged',
  counts: emptyCounts(),
  skipped: [],
  changes: [],
  directoryOps: { readStamp: 1, read: 0, write: 0 },
  attempts: 0,
});
