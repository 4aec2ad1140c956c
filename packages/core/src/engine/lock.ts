import fs from 'node:fs';
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
      readonly fs: LockFs;
    },
  ): Promise<() => Promise<void>>;
}

/** The file system calls proper-lockfile makes (its `fs` option), for a lock taken without `realpath`. */
interface LockFs {
  mkdir(file: string, callback: (error: NodeJS.ErrnoException | null) => void): void;
  stat(file: string, callback: (error: NodeJS.ErrnoException | null, stat: fs.Stats) => void): void;
  utimes(
    file: string,
    atime: Date,
    mtime: Date,
    callback: (error: NodeJS.ErrnoException | null) => void,
  ): void;
  rmdir(file: string, callback: (error: NodeJS.ErrnoException | null) => void): void;
  rmdirSync(file: string): void;
}

/**
 * proper-lockfile (and graceful-fs, which it loads), imported when a lock is first taken: about 10
 * ms of start-up a command that takes none does not pay, and that a logon pays while its key
 * derivation runs rather than before it starts (decision 024).
 */
async function lockfileModule(): Promise<FileLocker> {
  return (await import('proper-lockfile')).default;
}

/**
 * A lock as its holder's work sees it: checked before each write. The lock is lost when another
 * process took it over (this one paused past the stale time) or its folder was removed.
 */
export interface LockHeld {
  /** Throws why the lock was lost (the error its `lost` option makes), if it was. */
  throwIfLost(): void;
  /** Aborted, with that error, once the lock's refresh finds it lost (without a check). */
  readonly lost: AbortSignal;
}

/** A lock folder this process holds. */
export interface HeldLock {
  readonly held: LockHeld;
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
  const folder = new LockFolderFs(options.file);
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
    fs: folder,
  });
  // proper-lockfile learns of a loss only once its refresh timer has run and its `stat` answered.
  // A process woken after a pause past the stale time (a suspended laptop, `kill -STOP`, Ctrl-Z)
  // first runs whatever else was due, a directory read that answered meanwhile, say, and would
  // write under a lock another process has taken over since. So each check asks the clock first:
  // near the stale time since this process last set the lock folder's mtime, another may have
  // taken it over, and the folder says whether it did (its mtime not one set here).
  const held: LockHeld = {
    lost: lost.signal,
    throwIfLost() {
      if (!lost.signal.aborted) {
        const cause = folder.lostAfter(options.staleMs);
        if (cause !== undefined) lost.abort(options.lost(cause));
      }
      lost.signal.throwIfAborted();
    },
  };
  // A lost lock is not removed: it is another process's now. Work that wrote nothing never
  // checked: a holder woken past the stale time (its refresh not run yet) checks here, before the
  // removal, as before a write.
  return {
    held,
    release: () => {
      try {
        held.throwIfLost();
      } catch {
        return Promise.resolve();
      }
      return release().catch(() => undefined);
    },
  };
}

/**
 * The file system proper-lockfile uses for one lock folder: node's, remembering the mtimes this
 * process set on the folder (at its creation and at each refresh); once the lock is known lost,
 * it refuses to refresh or remove the folder, now another process's (a refresh refused as ENOENT
 * ends proper-lockfile's refreshing, and its removal at exit is refused too).
 */
class LockFolderFs implements LockFs {
  #set: number[] = [];
  /** When (monotonic clock) the last mtime was set. */
  #setAt = 0;
  #lost = false;
  constructor(readonly file: string) {}

  readonly mkdir: LockFs['mkdir'] = (file, callback) => fs.mkdir(file, callback);
  readonly stat: LockFs['stat'] = (file, callback) => fs.stat(file, callback);
  readonly utimes: LockFs['utimes'] = (file, atime, mtime, callback) => {
    if (this.#lost) return process.nextTick(callback, this.#refused());
    // Remembered before the call: the folder may show it before the call has answered.
    this.#set = [...this.#set.slice(-1), mtime.getTime()];
    this.#setAt = performance.now();
    fs.utimes(file, atime, mtime, callback);
  };
  readonly rmdir: LockFs['rmdir'] = (file, callback) => {
    if (this.#lost) return process.nextTick(callback, this.#refused());
    fs.rmdir(file, callback);
  };
  readonly rmdirSync: LockFs['rmdirSync'] = (file) => {
    if (this.#lost) throw this.#refused();
    fs.rmdirSync(file);
  };

  /**
   * Why the lock is lost, if it is: only once `staleMs` (less a second, for a file system keeping
   * mtimes in seconds) passed since the mtime last set here can another process have taken it
   * over, and then its mtime is one this process did not set (another's is at least `staleMs`
   * later) or the folder is gone. The time passed is the larger of the wall clock's (by which other
   * processes judge the lock stale: a clock set forward) and the monotonic clock's (a clock set
   * back, which would otherwise hide a pause for as long as it was set back by).
   */
  lostAfter(staleMs: number): Error | undefined {
    const last = this.#set.at(-1);
    if (this.#lost || last === undefined) return undefined;
    const passed = Math.max(Date.now() - last, performance.now() - this.#setAt);
    if (passed < staleMs - 1_000) return undefined;
    let cause: Error | undefined;
    try {
      const mtime = fs.statSync(this.file).mtime.getTime();
      if (!this.#set.some((t) => Math.abs(t - mtime) < 1_000))
        cause = new Error(`${this.file} was taken over by another process after it went stale`);
    } catch (error) {
      cause = error as Error;
    }
    if (cause !== undefined) this.#lost = true;
    return cause;
  }

  #refused(): NodeJS.ErrnoException {
    return Object.assign(new Error(`${this.file}: this process lost the lock`), { code: 'ENOENT' });
  }
}

/**
 * Runs one sync at a time per user: in this process and across processes. Work that writes checks
 * `held` before each write (`held.throwIfLost()`): once the lock is lost (another process took it
 * over, or its folder went away) it stops there, as a kill at that instant would, which the
 * engine's write order makes safe.
 */
export interface UserLock {
  run<T>(work: (held: LockHeld) => Promise<T>): Promise<T>;
}
export const UserLock = Symbol.for('credroam.UserLock');

/** Serialises callers in this process (a promise chain). */
export class InProcessLock implements UserLock {
  #tail: Promise<unknown> = Promise.resolve();
  /** A lock this process alone serialises is never lost. */
  static readonly #neverLost: LockHeld = { lost: new AbortController().signal, throwIfLost: () => undefined };
  run<T>(work: (held: LockHeld) => Promise<T>): Promise<T> {
    const start = () => work(InProcessLock.#neverLost);
    const result = this.#tail.then(start, start);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

/** How long a lock may go without its refresh before another process takes it over. */
const LOCK_STALE_MS = 15_000;

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

  run<T>(work: (held: LockHeld) => Promise<T>): Promise<T> {
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
