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
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(
    tmp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    mode,
  );
  try {
    await handle.writeFile(data);
    if (options.modified !== undefined) {
      // Dated through the handle, before the rename: never a path that could be swapped for a link.
      const time = new Date(options.modified);
      await handle.utimes(time, time);
    }
    if (options.durable !== false) await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  try {
    await rename(tmp, file);
  } catch (error) {
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
  if (options.durable !== false) await syncDir(dir);
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
