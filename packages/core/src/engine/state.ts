import { lstat, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { CredroamError } from '../api/errors.js';
import { RefusedFileError, readFileNoFollow, writeFileAtomic } from '../fs/atomic-file.js';
import type { LocalSnapshot } from './local-side.js';
import type { BaseEntry } from './merge.js';

/** What an endpoint keeps between syncs (docs/design.md §4): the base per token, and the no-change check. */
export interface SyncState {
  readonly version: 1;
  readonly user: string;
  /** The directory's stamp set (hex, sorted) after the last completed sync. */
  readonly stamp: readonly string[];
  /** The local store's revision after the last completed sync; null forces a full sync. */
  readonly localRevision: string | null;
  /**
   * The local side as the last completed sync read it (with `localRevision`, only when that sync
   * wrote nothing locally): a sync that reads both sides while the store is unchanged takes it.
   */
  readonly local?: LocalSnapshot;
  /** When time alone makes work due (a certificate expires, a tombstone's lifetime ends); ms. */
  readonly nextDue: number | null;
  /** Base entries by `kind:id`. */
  readonly base: Readonly<Record<string, BaseEntry>>;
  /**
   * Written before a directory write: the base entries that write creates. If the process dies
   * before the base is saved, the next sync takes them as its base (see SyncEngine).
   */
  readonly pending?: Readonly<Record<string, BaseEntry>>;
}

/**
 * The largest sync state read: the base and the recorded local side of 100 000 tokens (the most a
 * policy allows) take about 40 MB; anything larger was not written by credroam.
 */
export const MAX_STATE_BYTES = 128 * 1024 * 1024;

/** The state of an endpoint that never synced. */
export function emptyState(user: string): SyncState {
  return { version: 1, user, stamp: [], localRevision: null, nextDue: null, base: {} };
}

/**
 * Whether `next` says exactly what `saved` says (then there is nothing to write). The recorded
 * local side counts as the same only when it is the very record `saved` holds.
 */
export function sameState(saved: SyncState | undefined, next: SyncState): boolean {
  if (saved === undefined || saved.pending !== undefined || next.pending !== undefined) return false;
  if (
    saved.version !== next.version ||
    saved.user !== next.user ||
    saved.localRevision !== next.localRevision ||
    saved.nextDue !== next.nextDue ||
    saved.local !== next.local ||
    saved.stamp.length !== next.stamp.length ||
    saved.stamp.some((v, i) => v !== next.stamp[i])
  )
    return false;
  const keys = Object.keys(next.base);
  if (keys.length !== Object.keys(saved.base).length) return false;
  return keys.every((key) => {
    const a = saved.base[key];
    const b = next.base[key]!;
    return (
      a !== undefined &&
      a.hash === b.hash &&
      a.modified === b.modified &&
      a.flags === b.flags &&
      a.valueHash === b.valueHash &&
      a.superseded?.hash === b.superseded?.hash &&
      a.superseded?.modified === b.superseded?.modified
    );
  });
}

/** Loads and saves the sync state. `save` must be crash-safe: the old or the new state, never a mix. */
/**
 * The private keys a sync state's base knows, held or deleted since (until the tombstone's
 * lifetime ends): enrollment gives up a request whose key is among them (`EnrollmentDeps.syncedKeys`).
 */
export function knownKeyIds(state: Pick<SyncState, 'base'> | undefined): Set<string> {
  const ids = new Set<string>();
  for (const key of Object.keys(state?.base ?? {})) if (key.startsWith('key:')) ids.add(key.slice(4));
  return ids;
}

export interface SyncStateStore {
  load(): Promise<SyncState | undefined>;
  save(state: SyncState): Promise<void>;
}
export const SyncStateStore = Symbol.for('credroam.SyncStateStore');

/**
 * The sync state as one JSON file, replaced atomically. The parsed state is kept while the file is
 * unchanged (same inode, size and time), so a sync with nothing to do does not parse the base of
 * every token; another process's sync replaces the file, and the next load reads it again.
 */
export class FileSyncStateStore implements SyncStateStore {
  #cache: { key: string; state: SyncState } | undefined;

  constructor(readonly file: string) {}

  async #identity(): Promise<string | undefined> {
    const st = await lstat(this.file, { bigint: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    return st ? `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` : undefined;
  }

  async load(): Promise<SyncState | undefined> {
    const key = await this.#identity();
    if (key === undefined) return undefined;
    if (this.#cache?.key === key) return this.#cache.state;
    let data: Buffer | undefined;
    try {
      data = await readFileNoFollow(this.file, { maxBytes: MAX_STATE_BYTES });
    } catch (error) {
      const refused =
        error instanceof RefusedFileError
          ? error.message
          : (error as NodeJS.ErrnoException).code === 'ELOOP'
            ? `${this.file} is a link: not followed`
            : undefined;
      if (refused === undefined) throw error;
      throw new CredroamError('E_STATE', `the sync state: ${refused}`, { file: this.file });
    }
    if (data === undefined) return undefined;
    let state: SyncState;
    try {
      state = JSON.parse(data.toString('utf8')) as SyncState;
    } catch (error) {
      throw new CredroamError(
        'E_STATE',
        `the sync state ${this.file} is not valid JSON: ${(error as Error).message}`,
        { file: this.file },
      );
    }
    if (state?.version !== 1 || typeof state.base !== 'object' || !Array.isArray(state.stamp)) {
      throw new CredroamError('E_STATE', `the sync state ${this.file} has an unknown shape`, {
        file: this.file,
      });
    }
    this.#cache = { key, state };
    return state;
  }

  async save(state: SyncState): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.file, JSON.stringify(state));
    const key = await this.#identity();
    this.#cache = key === undefined ? undefined : { key, state };
  }
}

/** Keeps the state in memory (tests; a crash loses exactly what a killed process would). */
export class MemorySyncStateStore implements SyncStateStore {
  #state: SyncState | undefined;
  async load(): Promise<SyncState | undefined> {
    return this.#state;
  }
  async save(state: SyncState): Promise<void> {
    // A deep copy: what was saved cannot change afterwards, as with a file.
    this.#state = JSON.parse(JSON.stringify(state)) as SyncState;
  }
}
