import { createHash } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import lockfile from 'proper-lockfile';
import { ConflictError, CredroamError } from '../../api/errors.js';
import type {
  DirectoryChange,
  DirectorySnapshot,
  DirectoryStore,
  ValueChange,
} from '../../api/extension-points.js';
import { readFileNoFollow, writeFileAtomic } from '../../fs/atomic-file.js';

type Attribute = 'tokens' | 'keys';

interface EntryFile {
  readonly tokens: string[];
  readonly keys: string[];
}

const b64 = (v: Uint8Array): string => Buffer.from(v).toString('base64');
const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

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
    throw new CredroamError('E_CONFIG', `the folder directory URL '${url}' is not a URL`);
  }
  if (parsed.protocol !== 'file:') {
    throw new CredroamError('E_CONFIG', `the folder directory URL '${url}' is not a file: URL`);
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
    await this.#checkRoot();
    const data = await readFileNoFollow(path.join(this.dir, 'stamp'));
    return data === undefined ? [] : this.#parse<string[]>(data, 'stamp').map(bytes);
  }

  async read(): Promise<DirectorySnapshot> {
    const stamp = await this.readStamp();
    const entry = await this.#readEntry();
    return { stamp, tokens: entry.tokens.map(bytes), keys: entry.keys.map(bytes) };
  }

  async readKeys(): Promise<Pick<DirectorySnapshot, 'stamp' | 'keys'>> {
    const { stamp, keys } = await this.read();
    return { stamp, keys };
  }

  async write(change: DirectoryChange): Promise<void> {
    await this.#checkRoot();
    await mkdir(this.dir, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    const release = await lockfile.lock(this.dir, {
      lockfilePath: path.join(this.dir, 'write.lock'),
      stale: 10_000,
      retries: { retries: 100, minTimeout: 10, maxTimeout: 100 },
      realpath: false,
    });
    try {
      const entry = await this.#readEntry();
      const stamp = (await this.readStamp()).map(b64);
      const tokens = apply(entry.tokens, change.tokens, 'tokens');
      const keys = apply(entry.keys, change.keys, 'keys');
      const nextStamp = apply(stamp, change.stamp, 'stamp');
      if (tokens !== entry.tokens || keys !== entry.keys) {
        await writeFileAtomic(
          path.join(this.dir, 'values'),
          JSON.stringify({ tokens, keys } satisfies EntryFile),
        );
      }
      await writeFileAtomic(path.join(this.dir, 'stamp'), JSON.stringify(nextStamp));
    } finally {
      await release();
    }
  }

  /** A missing root is an unmounted share or a typo, never created here: that would fork the directory. */
  async #checkRoot(): Promise<void> {
    try {
      await stat(this.root);
    } catch (error) {
      throw new CredroamError(
        'E_UNREACHABLE',
        `the directory folder ${this.root} cannot be reached (${(error as NodeJS.ErrnoException).code}); is the share mounted?`,
      );
    }
  }

  async #readEntry(): Promise<EntryFile> {
    const data = await readFileNoFollow(path.join(this.dir, 'values'));
    if (data === undefined) return { tokens: [], keys: [] };
    const entry = this.#parse<EntryFile>(data, 'values');
    if (!Array.isArray(entry.tokens) || !Array.isArray(entry.keys)) {
      throw new CredroamError('E_DIRECTORY', `${path.join(this.dir, 'values')} has an unknown shape`);
    }
    return entry;
  }

  #parse<T>(data: Buffer, name: string): T {
    try {
      return JSON.parse(data.toString('utf8')) as T;
    } catch {
      throw new CredroamError('E_DIRECTORY', `${path.join(this.dir, name)} is not valid JSON`);
    }
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
