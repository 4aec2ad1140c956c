import { type BigIntStats, closeSync, fchmodSync, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { constants, lstat, mkdir, open, readlink } from 'node:fs/promises';
import { CredroamError } from '@credroam/core/api';

/**
 * The store's folders and files as credroam keeps them: real folders and regular files (never a
 * link, at any level inside the store), readable and writable by their owner only. Each check opens
 * the object without following a link (`O_NOFOLLOW`) and works on the handle, so what is checked
 * and repaired is what was opened, not whatever the name points to a moment later. Writes then go
 * by path (Node has no `openat`): a program of the same user that swaps a folder for a link between
 * the check and the write is not caught, but such a program can write the store directly anyway;
 * what this stops is a link left in place, which every operation now meets and refuses.
 */

/** A mode made owner-only: which object, from what to what. */
export interface ModeRepair {
  readonly path: string;
  readonly was: number;
  readonly now: number;
}

/** Others may read, write or enter it. */
export const exposed = (mode: number): boolean => (mode & 0o077) !== 0;

const octal = (mode: number): string => `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;

export function describeRepair(repair: ModeRepair, name: string): string {
  return `${name} was mode ${octal(repair.was)}: made owner-only (${octal(repair.now)})`;
}

/** The error for a link (or another kind of file) where the store keeps a folder or a file. */
export async function notFollowed(where: string, st: Stats): Promise<CredroamError> {
  if (st.isSymbolicLink()) {
    const target = await readlink(where).catch(() => undefined);
    return new CredroamError(
      'E_STORE_LINK',
      `${where} is a link${target ? ` (to ${target})` : ''}, where the credential store keeps a folder: ` +
        'credroam never follows links inside its store, and nothing was written through it. Replace the link ' +
        'with a real folder (move what it points to into it, if that is yours), then sync again.',
      { path: where },
    );
  }
  return new CredroamError(
    'E_STORE_NOT_FOLDER',
    `${where} is not a folder, where the credential store keeps one: nothing was written there. Move it aside, then sync again.`,
    { path: where },
  );
}

/**
 * Checks the folder `dir`: a real folder, not a link, made owner-only (0700) when others could use
 * it. With `create`, a missing folder is created (0700); without, `undefined` says it is missing.
 * Throws `E_STORE_LINK` for a link and `E_STORE_NOT_FOLDER` for anything else. `repair: false`
 * only reports (what `doctor` does).
 */
export async function checkFolder(
  dir: string,
  options: { readonly create: boolean; readonly repair: boolean },
): Promise<{ readonly repaired?: ModeRepair; readonly exposed?: number } | undefined> {
  if (options.create) {
    await mkdir(dir, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  }
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP' || code === 'ENOTDIR') throw await notFollowed(dir, await lstat(dir));
    throw error;
  }
  try {
    const st = await handle.stat();
    if (!exposed(st.mode)) return {};
    if (!options.repair) return { exposed: st.mode };
    const now = st.mode & 0o700;
    if (!(await chmodIfOwner(handle, now))) return { exposed: st.mode };
    return { repaired: { path: dir, was: st.mode, now } };
  } finally {
    await handle.close();
  }
}

/**
 * The most a store file is read for when its reader names no bound (certificates, attributes): no
 * certificate or attributes file comes near it, and a larger file (a sparse one of gigabytes, one
 * dropped in `certs/`) is refused unread, never held in memory nor read while the event loop waits.
 */
export const MAX_STORE_FILE = 16 * 1024 * 1024;

/**
 * Reads a regular file through one descriptor opened without following a link, and makes it
 * owner-only (0600 at most) when others could read or write it. Throws for a link, a non-file or a
 * file over `maxBytes` (`MAX_STORE_FILE` unless told).
 * Synchronous: each of its calls (open, fstat, read, close) takes a few microseconds, where a call
 * through the thread pool costs tens of them and the four are taken one after another; a listing
 * of 2 000 certificates waited about 0.3 s on them, and 0.05 s this way. A listing lets the event
 * loop turn between batches of files (`readAhead`).
 */
export function readPrivateFile(
  file: string,
  options: { readonly maxBytes?: number } = {},
): {
  readonly data: Uint8Array;
  readonly st: BigIntStats;
  readonly repaired?: ModeRepair;
} {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO planted in the store opens at once (and is refused below), never blocks.
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw new Error('is a link: not followed');
    throw error;
  }
  try {
    const st = fstatSync(fd, { bigint: true });
    if (!st.isFile()) throw new Error('not a regular file');
    let repaired: ModeRepair | undefined;
    const mode = Number(st.mode);
    if (exposed(mode) && fchmodIfOwner(fd, mode & 0o700)) {
      repaired = { path: file, was: mode, now: mode & 0o700 };
    }
    const data = readBounded(fd, options.maxBytes ?? MAX_STORE_FILE, Number(st.size));
    return { data, st, ...(repaired ? { repaired } : {}) };
  } finally {
    closeSync(fd);
  }
}

/**
 * At most `max` bytes, whatever size the file claims: a stat above it is refused unread, and a
 * file that grows (or a file system that says 0) is never read past `max` + 1 bytes.
 */
function readBounded(fd: number, max: number, size: number): Uint8Array {
  if (size > max) throw new Error(`${size} bytes, more than the ${max} such a file holds: not read`);
  let buffer = Buffer.allocUnsafe(size + 1);
  let length = 0;
  for (;;) {
    if (length === buffer.length) {
      const grown = Buffer.allocUnsafe(Math.min(max + 1, buffer.length * 2 + 4096));
      buffer.copy(grown, 0, 0, length);
      buffer = grown;
    }
    const read = readSync(fd, buffer, length, buffer.length - length, length);
    if (read === 0) break;
    length += read;
    if (length > max) throw new Error(`more than the ${max} bytes such a file holds: not read`);
  }
  return new Uint8Array(buffer.buffer, buffer.byteOffset, length);
}

/** `chmodIfOwner` on a descriptor. */
function fchmodIfOwner(fd: number, mode: number): boolean {
  try {
    fchmodSync(fd, mode);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EPERM') return false;
    throw error;
  }
}

/** Another user's file cannot be made owner-only by this one: it is read all the same (doctor reports it). */
async function chmodIfOwner(handle: Awaited<ReturnType<typeof open>>, mode: number): Promise<boolean> {
  try {
    await handle.chmod(mode);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EPERM') return false;
    throw error;
  }
}
