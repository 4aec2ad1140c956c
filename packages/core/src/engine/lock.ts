import { mkdir } from 'node:fs/promises';
import { CredroamError } from '../api/errors.js';

/** What credroam uses of proper-lockfile (its own types stay out of core's declarations). */
export interface FileLocker {
  lock(
    dir: string,
    options: {
      readonly lockfilePath: string;
      readonly stale: number;
      readonly update?: number;
      readonly retries: {
        readonly retries: number;
        readonly minTimeout: number;
        readonly maxTimeout: number;
      };
      readonly realpath: boolean;
      readonly onCompromised: (error: Error) => void;
    },
  ): Promise<() => Promise<void>>;
}

/**
 * proper-lockfile (and graceful-fs, which it loads), imported when a lock is first taken: about 10
 * ms of start-up a command that takes none does not pay, and that a logon pays while its key
 * derivation runs rather than before it starts (decision 024).
 */
async function lockfileModule(): Promise<FileLocker> {
  return (await import('proper-lockfile')).default;
}

/** A lock folder this process holds: `held` is aborted, with the reason `lost` made, if it is lost. */
export interface HeldLock {
  readonly held: AbortSignal;
  /** Removes the lock folder (a lost lock is left to whoever took it over). */
  release(): Promise<void>;
}

/**
 * Takes the lock folder `file` for `dir` (proper-lockfile: `mkdir`-based, refreshed every
 * `refreshMs` while held, taken over by another process once `staleMs` passed without a refresh).
 * Rejects, as proper-lockfile does, when it stays taken past the retries.
 */
export async function takeLockFolder(
  dir: string,
  options: {
    readonly file: string;
    readonly staleMs: number;
    readonly refreshMs?: number;
    readonly retries: { readonly retries: number; readonly minTimeout: number; readonly maxTimeout: number };
    /** The reason `held` is aborted with (the error the holder's work then stops with). */
    readonly lost: (cause: Error) => Error;
  },
): Promise<HeldLock> {
  const lost = new AbortController();
  const release = await (await lockfileModule()).lock(dir, {
    lockfilePath: options.file,
    stale: options.staleMs,
    ...(options.refreshMs === undefined ? {} : { update: options.refreshMs }),
    retries: options.retries,
    realpath: false,
    // proper-lockfile's default throws from a timer, which ends the process: an agent woken after
    // another process took its stale lock over would crash. The holder's work stops instead, at
    // its next check of `held`.
    onCompromised: (error) => lost.abort(options.lost(error)),
  });
  return { held: lost.signal, release: () => release().catch(() => undefined) };
}

/**
 * Runs one sync at a time per user: in this process and across processes. `held` is aborted when
 * the lock is lost while `work` runs (another process took it over, or its folder went away):
 * work that writes checks it before each write (`held.throwIfAborted()`), and so stops as a kill
 * at that instant would, which the engine's write order makes safe.
 */
export interface UserLock {
  run<T>(work: (held: AbortSignal) => Promise<T>): Promise<T>;
}
export const UserLock = Symbol.for('credroam.UserLock');

/** Serialises callers in this process (a promise chain). */
export class InProcessLock implements UserLock {
  #tail: Promise<unknown> = Promise.resolve();
  static readonly #neverLost = new AbortController().signal;
  run<T>(work: (held: AbortSignal) => Promise<T>): Promise<T> {
    const start = () => work(InProcessLock.#neverLost);
    const result = this.#tail.then(start, start);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

/** How long a lock may go without its refresh before another process takes it over. */
export const LOCK_STALE_MS = 15_000;

/**
 * In-process serialisation plus a lock folder (proper-lockfile: `mkdir`-based, refreshed while
 * held, taken over when stale after a crash) so two processes never sync one user at once.
 */
export class FileUserLock implements UserLock {
  readonly #inProcess = new InProcessLock();
  constructor(
    readonly dir: string,
    readonly waitMs = 30_000,
    /** Tests shorten these (proper-lockfile takes at least 2 000 and 1 000 ms). */
    readonly timing: { readonly staleMs: number; readonly refreshMs: number } = {
      staleMs: LOCK_STALE_MS,
      refreshMs: 5_000,
    },
  ) {}

  run<T>(work: (held: AbortSignal) => Promise<T>): Promise<T> {
    return this.#inProcess.run(async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const file = `${this.dir}/sync.lock`;
      let lock: HeldLock;
      try {
        lock = await takeLockFolder(this.dir, {
          file,
          staleMs: this.timing.staleMs,
          refreshMs: this.timing.refreshMs,
          retries: { retries: Math.ceil(this.waitMs / 200), minTimeout: 100, maxTimeout: 200 },
          lost: (cause) =>
            new CredroamError(
              'E_SYNC_BUSY',
              `the sync lock ${file} was lost while this sync ran (another credroam process took it over after this one paused, or it was removed): this sync stopped before its next write; the next sync goes on from there`,
              { file, cause: cause.message },
            ),
        });
      } catch (error) {
        throw new CredroamError('E_SYNC_BUSY', `another credroam process is syncing this user (${file})`, {
          file,
          cause: (error as Error).message,
        });
      }
      try {
        return await work(lock.held);
      } finally {
        await lock.release();
      }
    });
  }
}
