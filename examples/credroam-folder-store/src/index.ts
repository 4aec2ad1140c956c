import { createHash } from 'node:crypto';
import { mkdir, readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import {
  type LocalItem,
  type LocalListing,
  LocalStore,
  type PluginContext,
  PluginError,
  type TokenKind,
  type UnreadableItem,
} from '@credroam/core/api';
import { readFileNoFollow, writeFileAtomic } from '@credroam/core/kit';

const PLUGIN_ID = 'example.credroam-folder-store';
const KINDS: readonly TokenKind[] = ['cert', 'key', 'attrs'];
const ID = /^[0-9a-f]{64}$/;
const FILE = /^(cert|key|attrs)-([0-9a-f]{64})\.json$/;
/** An item file is small: a certificate, a key or its attributes, base64 in JSON. */
const MAX_FILE_BYTES = 1024 * 1024;

/**
 * The user's credentials as a folder of files, one per item (`<kind>-<id>.json`, mode 0600, in a
 * folder of mode 0700), written atomically and read without following links. A removed item with
 * `keepUntil` moves to `archive/`. A file it cannot read is reported, never deleted.
 *
 * Keys are kept as the engine hands them: PKCS#8 in clear, protected by the file modes only (as
 * `~/.ssh` is). A store for production encrypts them at rest (the built-in pkcs12 store seals them
 * with the user's keys).
 */
export class FolderLocalStore implements LocalStore {
  constructor(readonly dir: string) {}

  async revision(): Promise<string> {
    const hash = createHash('sha256');
    for (const name of (await this.#names()).sort()) {
      const st = await stat(path.join(this.dir, name)).catch(() => undefined);
      hash.update(`${name}:${st?.ino}:${st?.size}:${st?.mtimeMs}\n`);
    }
    return hash.digest('hex');
  }

  async list(): Promise<LocalListing> {
    const items: LocalItem[] = [];
    const unreadable: UnreadableItem[] = [];
    for (const name of await this.#names()) {
      const match = FILE.exec(name);
      if (!match) {
        unreadable.push({ name, reason: 'not an item file of this store' });
        continue;
      }
      const kind = match[1] as TokenKind;
      const id = match[2] as string;
      try {
        const data = await readFileNoFollow(path.join(this.dir, name), { maxBytes: MAX_FILE_BYTES });
        if (!data) continue; // removed meanwhile
        const json = JSON.parse(data.toString('utf8')) as {
          content: string;
          archived: boolean;
          modified: number;
        };
        if (
          typeof json.content !== 'string' ||
          typeof json.archived !== 'boolean' ||
          !Number.isFinite(json.modified)
        )
          throw new Error('not an item');
        items.push({
          kind,
          id,
          content: new Uint8Array(Buffer.from(json.content, 'base64')),
          archived: json.archived,
          modified: json.modified,
        });
      } catch (error) {
        unreadable.push({ name, kind, id, reason: (error as Error).message });
      }
    }
    return { items, unreadable };
  }

  async put(item: LocalItem): Promise<void> {
    const file = this.#file(item.kind, item.id);
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const json = {
      content: Buffer.from(item.content).toString('base64'),
      archived: item.archived,
      modified: item.modified,
    };
    await writeFileAtomic(file, JSON.stringify(json), 0o600);
  }

  async remove(kind: TokenKind, id: string, options: { readonly keepUntil?: number } = {}): Promise<void> {
    const file = this.#file(kind, id);
    try {
      if (options.keepUntil === undefined) await unlink(file);
      else {
        const archive = path.join(this.dir, 'archive');
        await mkdir(archive, { recursive: true, mode: 0o700 });
        await rename(file, path.join(archive, `${path.basename(file)}.until-${options.keepUntil}`));
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error; // a missing item is no error
    }
  }

  #file(kind: TokenKind, id: string): string {
    if (!KINDS.includes(kind) || !ID.test(id))
      throw new PluginError(PLUGIN_ID, 'NOT_AN_ITEM', `not an item this store keeps: ${kind} ${id}`, {
        kind,
        id,
      });
    return path.join(this.dir, `${kind}-${id}.json`);
  }

  async #names(): Promise<string[]> {
    try {
      const entries = await readdir(this.dir, { withFileTypes: true });
      return entries.filter((e) => e.name !== 'archive' && !e.name.startsWith('.')).map((e) => e.name);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }
}

export function activate(context: PluginContext): void {
  context.contribute(LocalStore, 'folder-store', ({ home, settings }) => {
    return new FolderLocalStore(path.join(home, settings.folder as string));
  });
}
