import { createHash } from 'node:crypto';
import { access, constants, lstat, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConflictError, CredroamError } from '../../api/errors.js';
import type {
  DirectoryChange,
  DirectorySnapshot,
  DirectoryStore,
  IrregularValue,
  ValueChange,
} from '../../api/extension-points.js';
import { takeLockFolder } from '../../engine/lock.js';
import { readFileNoFollow, writeFileAtomic } from '../../fs/atomic-file.js';
import {
  accessDenied,
  checkFolderAccess,
  type FolderCheck,
  folderError,
  refusedIn,
} from './folder-access.js';

type Attribute = 'tokens' | 'keys';

/** One attribute of the `values` file (or the stamp file) as read. */
interface FileValues {
  /** The distinct values, as canonical base64, in file order. */
  readonly values: string[];
  /** Entries that are not base64 strings, exactly as the file holds them (kept on a rewrite). */
  readonly garbage: unknown[];
  readonly irregular: IrregularValue[];
  /** The file holds a value more than once: a rewrite keeps one. */
  readonly duplicates: boolean;
}

interface EntryFile {
  /** Every field of the file, so that a rewrite keeps what this version does not know. */
  readonly fields: Record<string, unknown>;
  readonly tokens: FileValues;
  readonly keys: FileValues;
}

/** Irregular entries named one by one per attribute; beyond, one summary (a bounded report). */
const MAX_NAMED = 20;

const b64 = (v: Uint8Array): string => Buffer.from(v).toString('base64');
const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));
/** Node's decoder skips what is not base64; only the canonical spelling round-trips. */
const isBase64 = (s: string): boolean => Buffer.from(s, 'base64').toString('base64') === s;

/** An entry as an administrator may read it in a log: its type, or a short prefix of a string. */
function describe(entry: unknown): string {
  if (entry === null) return 'null';
  if (Array.isArray(entry)) return 'an array';
  if (typeof entry === 'string') {
    const prefix = JSON.stringify(entry.slice(0, 16));
    return `a string of ${entry.length} characters that is not base64 (${prefix}${entry.length > 16 ? '…' : ''})`;
  }
  const type = typeof entry;
  return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
}

/** `a, b and c`, naming at most MAX_NAMED. */
function names(list: readonly string[]): string {
  if (list.length > MAX_NAMED)
    return `${list.slice(0, MAX_NAMED).join(', ')} and ${list.length - MAX_NAMED} more`;
  return list.length === 1 ? list[0]! : `${list.slice(0, -1).join(', ')} and ${list.at(-1)}`;
}

/**
 * The entries of one attribute: base64 strings become values (each once), anything else is set
 * aside as garbage and reported by its index, never by its content. `fate` says what becomes of
 * the garbage at the next write. At most MAX_NAMED entries are reported one by one, then one summary.
 */
function readValues(
  entries: readonly unknown[],
  attribute: IrregularValue['attribute'],
  where: { readonly file: string; readonly fate: string },
): FileValues {
  const values: string[] = [];
  const garbage: unknown[] = [];
  const irregular: IrregularValue[] = [];
  const seen = new Map<string, number[]>();
  entries.forEach((entry, index) => {
    if (typeof entry === 'string' && isBase64(entry)) {
      const at = seen.get(entry);
      if (at) at.push(index);
      else {
        seen.set(entry, [index]);
        values.push(entry);
      }
      return;
    }
    garbage.push(entry);
    if (garbage.length <= MAX_NAMED) {
      irregular.push({
        attribute,
        problem: 'unreadable',
        where: `${attribute}[${index}]`,
        reason: `${describe(entry)}, not a base64 string (in ${where.file}; ${where.fate})`,
      });
    }
  });
  if (garbage.length > MAX_NAMED) {
    irregular.push({
      attribute,
      problem: 'unreadable',
      where: attribute,
      reason: `${garbage.length - MAX_NAMED} more entries that are not base64 strings (in ${where.file}; ${where.fate})`,
    });
  }
  const repeated = [...seen.values()].filter((at) => at.length > 1);
  for (const at of repeated.slice(0, MAX_NAMED)) {
    irregular.push({
      attribute,
      problem: 'duplicate',
      where: names(at.map((i) => `${attribute}[${i}]`)),
      reason: `the same value, read as one (in ${where.file}; its next write keeps one)`,
    });
  }
  if (repeated.length > MAX_NAMED) {
    irregular.push({
      attribute,
      problem: 'duplicate',
      where: attribute,
      reason: `${repeated.length - MAX_NAMED} more values stored more than once, each read as one (in ${where.file})`,
    });
  }
  return { values, garbage, irregular, duplicates: repeated.length > 0 };
}

/** A user name as a folder name: kept when plainly safe, else its SHA-256 (never a path). */
export function userFolderName(user: string): string {
  if (/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(user)) return user;
  return `u-${createHash('sha256').update(user, 'utf8').digest('hex')}`;
}

/** The folder a `file:` URL names; anything else is refused. */
export function folderFromUrl(url: unknown): string {
  if (typeof url !== 'string')
    throw new CredroamError('E_CONFIG', 'the folder directory needs settings.url, a file: URL');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CredroamError('E_CONFIG', `the folder directory URL '${url}' is not a URL`, { url });
  }
  if (parsed.protocol !== 'file:') {
    throw new CredroamError('E_CONFIG', `the folder directory URL '${url}' is not a file: URL`, { url });
  }
  return fileURLToPath(parsed);
}

/**
 * The embedded directory: one folder per user under a root (local or a shared mount), with the
 * same compare-and-swap semantics as LDAP. Each user's folder has two files, `values` (tokens and
 * wrapped keys) and `stamp`, both replaced atomically. Writers hold a lock folder; readers take
 * none: a writer replaces `values` before `stamp`, and a reader reads `stamp` before `values`, so a
 * reader never pairs a new stamp with old values.
 */
export class FolderDirectoryStore implements DirectoryStore {
  readonly dir: string;

  constructor(
    readonly root: string,
    readonly user: string,
  ) {
    this.dir = path.join(root, userFolderName(user));
  }

  async readStamp(): Promise<readonly Uint8Array[]> {
    return this.#explained(false, async () => (await this.#readStamp()).values.map(bytes));
  }

  read(): Promise<DirectorySnapshot> {
    return this.#explained(false, async () => {
      const stamp = await this.#readStamp();
      const entry = await this.#readEntry();
      const irregular = [...stamp.irregular, ...entry.tokens.irregular, ...entry.keys.irregular];
      return {
        stamp: stamp.values.map(bytes),
        tokens: entry.tokens.values.map(bytes),
        keys: entry.keys.values.map(bytes),
        ...(irregular.length > 0 ? { irregular } : {}),
      };
    });
  }

  async readKeys(): Promise<Pick<DirectorySnapshot, 'stamp' | 'keys'>> {
    const { stamp, keys } = await this.read();
    return { stamp, keys };
  }

  write(change: DirectoryChange): Promise<void> {
    return this.#explained(true, () => this.#write(change));
  }

  /**
   * Whether this process's user can reach the root and use their folder, each check with the fix
   * when it fails (as `credroam doctor` shows them); the store's own errors say the same.
   */
  checkAccess(): Promise<FolderCheck[]> {
    return checkFolderAccess(this.root, this.dir);
  }

  async #write(change: DirectoryChange): Promise<void> {
    await this.#checkFolders();
    await mkdir(this.dir, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    await this.#checkFolders(); // the folder that exists now is a real one
    // A folder this user may read but not write is said at once: the lock below retries for
    // seconds on any error, a refusal included.
    await access(this.dir, constants.W_OK);
    const lockFile = path.join(this.dir, 'write.lock');
    const { held, release } = await takeLockFolder(this.dir, {
      file: lockFile,
      staleMs: 10_000,
      retries: { retries: 100, minTimeout: 10, maxTimeout: 100 },
      lost: (cause) =>
        new CredroamError(
          'E_DIRECTORY',
          `the shared folder's write lock ${lockFile} was lost during a write (another endpoint took it over after this one paused, or it was removed): nothing more was written; the next sync writes again`,
          { file: lockFile, cause: cause.message },
        ),
    });
    try {
      const entry = await this.#readEntry();
      const stamp = (await this.#readStamp()).values;
      const tokens = apply(entry.tokens.values, change.tokens, 'tokens');
      const keys = apply(entry.keys.values, change.keys, 'keys');
      const nextStamp = apply(stamp, change.stamp, 'stamp');
      const rewrite =
        tokens !== entry.tokens.values ||
        keys !== entry.keys.values ||
        entry.tokens.duplicates ||
        entry.keys.duplicates;
      // A lock lost since it was taken (this process paused past its stale time): another endpoint
      // may be writing now, so nothing is written (the two files are checked once, as one write).
      held.throwIfLost();
      if (rewrite) {
        // Entries that are not values were not written by credroam, but neither are they ours to
        // judge: a newer version's format, or evidence for an administrator. They stay, after the
        // values, and are reported on every read until someone removes them.
        await writeFileAtomic(
          path.join(this.dir, 'values'),
          JSON.stringify({
            ...entry.fields,
            tokens: [...tokens, ...entry.tokens.garbage],
            keys: [...keys, ...entry.keys.garbage],
          }),
        );
      }
      // The stamp is this store's own bookkeeping, never the user's: it is written whole, as the
      // values this write leaves, and whatever garbage it held goes.
      await writeFileAtomic(path.join(this.dir, 'stamp'), JSON.stringify(nextStamp));
    } finally {
      await release();
    }
  }

  /**
   * The file system refusing this user (a folder that is not theirs, a root they may not write)
   * becomes the error `checkAccess` explains, with its fix: never a bare `EACCES`.
   */
  async #explained<T>(writing: boolean, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      const denied = accessDenied(error);
      if (denied === undefined) throw error;
      const failing = (await this.checkAccess()).find((c) => !c.ok);
      throw folderError(failing ?? refusedIn(this.dir, denied, writing));
    }
  }

  /**
   * A missing root is an unmounted share or a typo, never created here: that would fork the
   * directory. The user's folder inside it, when there is one, must be a real folder: whoever may
   * write the share could leave a link there to make this endpoint read or write elsewhere. A
   * missing one the user may not make (a root only root writes) is said at once, before a first
   * logon makes anything. The checks run in full only when the quick look finds something wrong.
   */
  async #checkFolders(): Promise<void> {
    const quick = await lstat(this.dir).catch(() => undefined);
    if (quick?.isDirectory()) return;
    const failing = (await this.checkAccess()).find((c) => !c.ok);
    if (failing) throw folderError(failing);
  }

  /**
   * The stamp file. A garbled stamp reads as an empty stamp (with an event) rather than as an
   * error: the stamp only tells endpoints whether to read the values, and an empty one makes every
   * endpoint read them in full, which is the safe direction; the next write replaces it. An error
   * would stop roaming for every endpoint of the user over a file that holds nothing of theirs.
   */
  async #readStamp(): Promise<FileValues> {
    await this.#checkFolders();
    const file = path.join(this.dir, 'stamp');
    const data = await readBounded(file, MAX_STAMP_FILE_BYTES);
    if (data === undefined) return noValues();
    const entries = parseJson(data);
    if (!Array.isArray(entries)) {
      const what = entries === NOT_JSON ? 'is not JSON' : 'is not a list of base64 strings';
      return {
        ...noValues(),
        irregular: [
          {
            attribute: 'stamp',
            problem: 'unreadable',
            where: 'the stamp file',
            reason: `${file} ${what}: read as an empty stamp (every endpoint reads the values in full); the next write replaces it`,
          },
        ],
      };
    }
    return readValues(entries, 'stamp', { file, fate: 'the next write replaces the stamp' });
  }

  /**
   * The values file. A file that is not a JSON object with `tokens` and `keys` lists is an error,
   * not an empty entry: read as empty, it would look like a user with nothing roamed (a fresh
   * endpoint would take it for first use and make a new master key), and the first write would
   * replace a file that may still hold the user's tokens and wrapped keys (a truncated copy, a bad
   * restore). So nothing reads or writes it until an administrator restores or moves it aside; the
   * endpoints keep their credentials meanwhile, and roam again after. Single entries that are not
   * values are skipped and reported instead (see `readValues`): roaming goes on around them.
   */
  async #readEntry(): Promise<EntryFile> {
    const file = path.join(this.dir, 'values');
    const data = await readBounded(file, MAX_VALUES_FILE_BYTES);
    if (data === undefined) return { fields: {}, tokens: noValues(), keys: noValues() };
    const entry = parseJson(data);
    const damaged = (what: string) =>
      new CredroamError(
        'E_DIRECTORY',
        `${file} ${what}: the folder directory's file for user '${this.user}' is damaged, and nothing reads or writes it ` +
          `as it is. Restore it from a backup, or move it aside: the user's endpoints then upload what they hold again.`,
        { file },
      );
    if (entry === NOT_JSON) throw damaged('is not valid JSON');
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw damaged('is not a JSON object');
    }
    const fields = entry as Record<string, unknown>;
    if (!Array.isArray(fields.tokens) || !Array.isArray(fields.keys)) {
      throw damaged('has no "tokens" and "keys" lists');
    }
    const where = { file, fate: 'left in place' };
    return {
      fields,
      tokens: readValues(fields.tokens, 'tokens', where),
      keys: readValues(fields.keys, 'keys', where),
    };
  }
}

const NOT_JSON = Symbol('not JSON');

const noValues = (): FileValues => ({ values: [], garbage: [], irregular: [], duplicates: false });

function parseJson(data: Buffer): unknown {
  try {
    return JSON.parse(data.toString('utf8'));
  } catch {
    return NOT_JSON;
  }
}

/** Removes then adds exact values; a value to remove that is absent loses the race (as LDAP's code 16). */
function apply(current: string[], change: ValueChange | undefined, attribute: Attribute | 'stamp'): string[] {
  if (change === undefined || (change.remove.length === 0 && change.add.length === 0)) return current;
  const set = new Set(current);
  for (const v of change.remove) {
    if (!set.delete(b64(v))) {
      throw new ConflictError(`a ${attribute} value to replace is no longer in the directory`, { attribute });
    }
  }
  for (const v of change.add) {
    const s = b64(v);
    if (set.has(s))
      throw new ConflictError(`a ${attribute} value to add is already in the directory`, { attribute });
    set.add(s);
  }
  return [...set];
}

/** Files larger than these are refused before they are read (a writer's sparse file, a flood). */
const MAX_STAMP_FILE_BYTES = 1024 * 1024;
const MAX_VALUES_FILE_BYTES = 256 * 1024 * 1024;

/**
 * Reads one of the user's files: never through a link, never anything but a regular file (a FIFO
 * planted by a writer of the share would block every endpoint), never over `maxBytes`.
 */
async function readBounded(file: string, maxBytes: number): Promise<Buffer | undefined> {
  try {
    return await readFileNoFollow(file, { maxBytes });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== undefined) throw error;
    throw new CredroamError(
      'E_DIRECTORY',
      `${(error as Error).message}: the folder directory's file cannot be read as it is; move it aside (the user's endpoints upload what they hold again)`,
      { file },
    );
  }
}
