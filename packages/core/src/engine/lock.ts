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
    },
  ): Promise<() => Promise<void>>;
}

/**
 * proper-lockfile (and graceful-fs, which it loads), imported when a lock is first taken: about 10
 * ms of start-up a command that takes none does not pay, and that a logon pays while its key
 * derivation runs rather than before it starts (decision 024).
 */
export async function lockfileModule(): Promise<FileLocker> {
  return (await import('proper-lockfile')).default;
}

/** Runs one sync at a time per user: in this process and across processes. */
export interface UserLock {
  run<T>(work: () => Promise<T>): Promise<T>;
}
export const UserLock = Symbol.for('credroam.UserLock');

/** Serialises callers in this process (a promise chain). */
export class InProcessLock implements UserLock {
  #tail: Promise<unknown> = Promise.resolve();
  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(work, work);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

/**
 * In-process serialisation plus a lock folder (proper-lockfile: `mkdir`-based, refreshed while
 * held, taken over when stale after a crash) so two processes never sync one user at once.
 */
export class FileUserLock implements UserLock {
  readonly #inProcess = new InProcessLock();
  constructor(
    readonly dir: string,
    readonly waitMs = 30_000,
  ) {}

  run<T>(work: () => Promise<T>): Promise<T> {
    return this.#inProcess.run(async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      let release: () => Promise<void>;
      try {
        release = await (await lockfileModule()).lock(this.dir, {
          lockfilePath: `${this.dir}/sync.lock`,
          stale: 15_000,
          update: 5_000,
          retries: { retries: Math.ceil(this.waitMs / 200), minTimeout: 100, maxTimeout: 200 },
          realpath: false,
        });
      } catch (error) {
        throw new CredroamError(
          'E_SYNC_BUSY',
          `another credroam process is syncing this user (${this.dir}/sync.lock)`,
          { file: `${this.dir}/sync.lock`, cause: (error as Error).message },
        );
      }
      try {
        return await work();
      } finally {
        await release().catch(() => undefined);
      }
    });
  }
}
