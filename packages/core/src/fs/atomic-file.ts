import { randomBytes } from 'node:crypto';
import { constants, open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes a file atomically and durably, owner-only: a temporary file created exclusively (so an
 * attacker's link at that name is refused, not followed), written, dated (`modified`), fsynced,
 * renamed over the target (rename replaces a link at the target rather than writing through it),
 * then the folder is fsynced so the rename survives a power cut. A crash at any instant leaves the
 * old file or the new one. The caller makes sure the folder itself is not a link.
 *
 * (write-file-atomic does not fsync the folder, and its current major needs Node 22.)
 */
export async function writeFileAtomic(
  file: string,
  data: Uint8Array | string,
  mode = 0o600,
  options: {
    readonly modified?: number;
    /**
     * false: still atomic (a reader sees the old file or the new one), but not forced to disk — a
     * power cut may keep the old one. For records that are rewritten often and cost nothing to
     * lose (the last sync's outcome), not for state a crash must not roll back.
     */
    readonly durable?: boolean;
  } = {},
): Promise<void> {
  const dir = path.dirname(file);
  const tmp = await writeTemporary(file, data, mode, options.modified, options.durable !== false);
  try {
    await rename(tmp, file);
  } catch (error) {
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
  if (options.durable !== false) await syncDir(dir);
}

/** `.<name>.<random>.tmp` beside `file`: the temporary file an atomic write renames over it. */
export const TEMPORARY_NAME = /^\..+\.[0-9a-f]{12}\.tmp$/;

/**
 * Writes `data` to a new temporary file beside `file` (created exclusively, so an attacker's link
 * at that name is refused, not followed), dated `modified` through the handle, fsynced with `sync`;
 * returns its path. On failure nothing is left behind.
 */
async function writeTemporary(
  file: string,
  data: Uint8Array | string,
  mode: number,
  modified: number | undefined,
  sync: boolean,
): Promise<string> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(
    tmp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    mode,
  );
  try {
    await handle.writeFile(data);
    if (modified !== undefined) {
      // Dated through the handle, before the rename: never a path that could be swapped for a link.
      const time = new Date(modified);
      await handle.utimes(time, time);
    }
    if (sync) await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  return tmp;
}

/**
 * Atomic writes made durable together (the write side of a sync: thousands of files, one wait for
 * the disk). `write` puts each file's content in a temporary file beside its target and returns;
 * nothing is renamed yet, so a reader still sees every target as it was. `commit` then fsyncs all
 * the temporary files (concurrently: the file system commits them together), renames each over
 * its target (several chains at a time, each chain's writes in the order written: see `chain`),
 * runs what was queued to follow it (`afterRename`: the removal of the copy a move leaves), and
 * fsyncs each folder touched, once. The order — data on disk, then the
 * renames, then the folders — is that of `writeFileAtomic`: a crash or a power cut at any instant
 * leaves each target whole, as it was or as written, and once `commit` resolves every write
 * survives a power cut. The temporary files of a batch that never commits (the process killed)
 * are left behind under names `TEMPORARY_NAME` matches; `discard` removes those of a live batch.
 * The caller makes sure no folder is a link.
 */
export class AtomicWriteBatch {
  readonly #writes: Array<{ tmp: string; file: string; chain: string; afterRename?: () => Promise<void> }> =
    [];
  readonly #folders = new Set<string>();
  /**
   * Writes still making their temporary file: `commit` waits for them, so a write that began
   * before it is renamed with the rest, never left behind in a batch that no one commits.
   */
  readonly #inFlight = new Set<Promise<void>>();

  /** Files written and not yet committed. */
  get size(): number {
    return this.#writes.length;
  }

  async write(
    file: string,
    data: Uint8Array | string,
    options: {
      readonly mode?: number;
      readonly modified?: number;
      readonly afterRename?: () => Promise<void>;
      /**
       * Writes of one chain are renamed one after another, in the order written (by default a
       * target's writes are its chain): writes whose `afterRename` touches another write's target
       * (a move's removal of the copy it leaves) must share a chain, else a later write's file
       * could be removed by an earlier write's `afterRename`.
       */
      readonly chain?: string;
    } = {},
  ): Promise<void> {
    const written = writeTemporary(file, data, options.mode ?? 0o600, options.modified, false).then((tmp) => {
      this.#writes.push({
        tmp,
        file,
        chain: options.chain === undefined ? `file:${file}` : `chain:${options.chain}`,
        ...(options.afterRename ? { afterRename: options.afterRename } : {}),
      });
      this.#folders.add(path.dirname(file));
    });
    const settled: Promise<void> = written.then(
      () => void this.#inFlight.delete(settled),
      () => void this.#inFlight.delete(settled),
    );
    this.#inFlight.add(settled);
    await written;
  }

  /** A folder something else changed (a removal, a rename) that `commit` is to make durable too. */
  touched(dir: string): void {
    this.#folders.add(dir);
  }

  async commit(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
    const writes = this.#writes.splice(0);
    const folders = [...this.#folders];
    this.#folders.clear();
    const renamed = new Set<(typeof writes)[number]>();
    try {
      await bounded(writes, 32, async (w) => {
        const handle = await open(w.tmp, constants.O_RDONLY | constants.O_NOFOLLOW);
        try {
          await handle.sync();
        } finally {
          await handle.close();
        }
      });
      // Each chain's writes (a target's, or those `write` was told to keep together) in the order
      // written, the last one standing; the chains side by side: a rename waits for the disk's
      // journal, and thousands of them one after another add up.
      const chains = new Map<string, Array<(typeof writes)[number]>>();
      for (const w of writes) {
        const chain = chains.get(w.chain);
        if (chain) chain.push(w);
        else chains.set(w.chain, [w]);
      }
      let failed = false;
      await bounded([...chains.values()], 16, async (chain) => {
        for (const w of chain) {
          if (failed) return; // after a failure nothing more is renamed: the rest is dropped
          try {
            await rename(w.tmp, w.file);
            renamed.add(w);
            await w.afterRename?.();
          } catch (error) {
            failed = true;
            throw error;
          }
        }
      });
    } finally {
      await Promise.all(
        writes.filter((w) => !renamed.has(w)).map((w) => unlink(w.tmp).catch(() => undefined)),
      );
    }
    await bounded(folders, 32, syncDir);
  }

  /** Drops what was written and not committed: its temporary files are removed. */
  async discard(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
    const writes = this.#writes.splice(0);
    this.#folders.clear();
    await Promise.all(writes.map((w) => unlink(w.tmp).catch(() => undefined)));
  }
}

/** Runs `task` on every item, at most `limit` at a time; the first error is thrown once all ended. */
async function bounded<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await task(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}

export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** What `readFileNoFollow` refuses before reading (no `code`: it is not the system's error). */
export class RefusedFileError extends Error {
  constructor(
    message: string,
    readonly reason: 'not-regular' | 'too-large',
  ) {
    super(message);
  }
}

/**
 * Reads a regular file without following a link at its name; undefined when it does not exist.
 * Anything but a regular file (a FIFO would block forever), or a file over `maxBytes`, is refused
 * with an error naming it, before it is read (or, when the file's size was not known beforehand,
 * as soon as the read passes the bound: never more than `maxBytes` + 1 bytes are read).
 */
export async function readFileNoFollow(
  file: string,
  options: { readonly maxBytes?: number } = {},
): Promise<Buffer | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new RefusedFileError(`${file} is not a regular file`, 'not-regular');
    const max = options.maxBytes;
    if (max === undefined) return await readFile(handle);
    const tooLarge = (what: string) =>
      new RefusedFileError(`${file} holds ${what}, more than the ${max} allowed`, 'too-large');
    if (st.size > max) throw tooLarge(`${st.size} bytes`);
    // The stat is not the bound: a file system may not know a file's size (procfs, some network and
    // FUSE file systems say 0), and a file may grow after the stat. Never read more than max + 1.
    const chunks: Buffer[] = [];
    let length = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(max + 1 - length, Math.max(st.size + 1, 65_536), 1 << 20));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, length);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      length += bytesRead;
      if (length > max) throw tooLarge('more bytes than its size said');
    }
    return Buffer.concat(chunks, length);
  } finally {
    await handle.close();
  }
}
