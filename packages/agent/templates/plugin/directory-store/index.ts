import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ConflictError,
  CredroamError,
  type DirectoryChange,
  type DirectorySnapshot,
  DirectoryStore,
  type IrregularValue,
  type PluginContext,
  type ValueChange,
} from '@credroam/core/api';
import { readFileNoFollow, writeFileAtomic } from '@credroam/core/kit';

type Attribute = 'stamp' | 'tokens' | 'keys';
type Entry = Record<Attribute, string[]>;
const ATTRIBUTES: readonly Attribute[] = ['stamp', 'tokens', 'keys'];
const MAX_ENTRY_BYTES = 64 * 1024 * 1024;
const LOCK_WAIT_MS = 10_000;
const STALE_LOCK_MS = 30_000;

const b64 = (v: Uint8Array) => Buffer.from(v).toString('base64');
const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

/**
 * The user's entry as one JSON file in a shared folder (`<folder>/<user, base64url>.json`, each
 * value base64). `write` is a compare-and-swap of exact values: under a lock folder beside the
 * file it reads the entry, checks that every value to remove is there and none to add is, then
 * replaces the file atomically, or throws `ConflictError` having written nothing. A missing folder
 * is `E_UNREACHABLE` (the share is not mounted): the engine works offline.
 */
export class JsonFileDirectory implements DirectoryStore {
  readonly file: string;

  constructor(
    readonly folder: string,
    readonly user: string,
  ) {
    this.file = path.join(folder, `${Buffer.from(user).toString('base64url')}.json`);
  }

  async readStamp(): Promise<readonly Uint8Array[]> {
    return (await this.read()).stamp;
  }

  async readKeys(): Promise<Pick<DirectorySnapshot, 'stamp' | 'keys'>> {
    const { stamp, keys } = await this.read();
    return { stamp, keys };
  }

  async read(): Promise<DirectorySnapshot> {
    const entry = await this.#load();
    const irregular: IrregularValue[] = [];
    const values = (attribute: Attribute) => {
      const seen = new Set<string>();
      const out: Uint8Array[] = [];
      entry[attribute].forEach((v, i) => {
        if (seen.has(v)) {
          irregular.push({
            attribute,
            problem: 'duplicate',
            where: `${attribute}[${i}]`,
            reason: 'stored twice',
          });
          return;
        }
        seen.add(v);
        out.push(bytes(v));
      });
      return out;
    };
    return { stamp: values('stamp'), tokens: values('tokens'), keys: values('keys'), irregular };
  }

  async write(change: DirectoryChange): Promise<void> {
    await this.#locked(async () => {
      const entry = await this.#load();
      const next = { ...entry };
      for (const attribute of ATTRIBUTES) {
        const c: ValueChange | undefined = change[attribute];
        if (!c) continue;
        const have = new Set(entry[attribute]);
        for (const v of c.remove.map(b64))
          if (!have.delete(v))
            throw new ConflictError(`a value to remove from ${attribute} is gone`, { user: this.user });
        for (const v of c.add.map(b64)) {
          if (have.has(v))
            throw new ConflictError(`a value to add to ${attribute} is already there`, { user: this.user });
          have.add(v);
        }
        next[attribute] = [...have];
      }
      await writeFileAtomic(this.file, JSON.stringify(next), 0o600);
    });
  }

  async #load(): Promise<Entry> {
    await this.#reachable();
    const data = await readFileNoFollow(this.file, { maxBytes: MAX_ENTRY_BYTES });
    const json = data ? (JSON.parse(data.toString('utf8')) as Partial<Entry>) : {};
    const list = (a: Attribute) =>
      Array.isArray(json[a]) ? json[a].filter((v) => typeof v === 'string') : [];
    return { stamp: list('stamp'), tokens: list('tokens'), keys: list('keys') };
  }

  async #reachable(): Promise<void> {
    const st = await stat(this.folder).catch(() => undefined);
    if (!st?.isDirectory())
      throw new CredroamError(
        'E_UNREACHABLE',
        `the directory folder ${this.folder} is not there (not mounted?)`,
        {
          path: this.folder,
        },
      );
  }

  /** Runs `fn` holding `<file>.lock` (a folder: mkdir is atomic, on a share too). */
  async #locked(fn: () => Promise<void>): Promise<void> {
    await this.#reachable();
    const lock = `${this.file}.lock`;
    const until = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        await mkdir(lock);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const st = await stat(lock).catch(() => undefined);
        if (st && Date.now() - st.mtimeMs > STALE_LOCK_MS) await rm(lock, { recursive: true, force: true });
        else if (Date.now() > until)
          throw new CredroamError('E_TIMEOUT', `the entry of ${this.user} stayed locked (${lock})`, {
            path: lock,
          });
        else await sleep(5 + Math.random() * 20);
      }
    }
    try {
      await fn();
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  }
}

export function activate(context: PluginContext): void {
  context.contribute(DirectoryStore, '__CONTRIBUTION__', ({ user, settings }) => {
    return new JsonFileDirectory(settings.folder as string, user);
  });
}
