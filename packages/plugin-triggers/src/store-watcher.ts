import { type FSWatcher, watch } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { type Disposable, type Trigger, type TriggerEvent, toDisposable } from '@credroam/core/api';

export interface StoreWatcherOptions {
  /** The folder of the local store (it may not exist yet: it is watched for once it appears). */
  readonly path: string;
  /** Changes closer together than this fire once (a burst of files, an editor's save). */
  readonly debounceMs: number;
}

/** Folders below the store's own that are watched: `certs/` and the like (1), and one more level. */
const MAX_DEPTH = 2;
/** At most this many files' identities are remembered; past it the memory starts again. */
const MAX_REMEMBERED = 10_000;

/**
 * Fires `storeChanged` when anything in the local store changes — through credroam, another tool,
 * or a file copied in. Bursts coalesce into one event after `debounceMs` of quiet. Temporary
 * files (dot files: credroam's atomic writes) are ignored; links are not followed.
 *
 * One inotify watch per folder (the store's, its subfolders two levels down, and the folder that
 * holds it, for the store's own name only), not one per file: an event names the file, which is
 * looked at alone, so a store of thousands of files costs nothing while idle and nothing is
 * re-read when one file changes. A file whose size, modification time, inode and owner's read
 * permission are what they were at its last event changed only in its attributes (a mode the store
 * made owner-only): that is no change of what the store holds, and does not fire.
 */
export class StoreWatcher implements Trigger {
  constructor(private readonly options: StoreWatcherOptions) {}

  async start(fire: (event: TriggerEvent) => void): Promise<Disposable> {
    const root = path.resolve(this.options.path);
    /** The folders watched, each with its inode (one removed and made again is watched anew). */
    const folders = new Map<string, { readonly watcher: FSWatcher; readonly ino: number }>();
    /** Identity (size, mtime, inode, owner may read) of each file at its last event. */
    const identities = new Map<string, string>();
    let timer: NodeJS.Timeout | undefined;
    let disposed = false;

    const changed = () => {
      if (disposed) return;
      clearTimeout(timer);
      timer = setTimeout(
        () => fire({ name: 'storeChanged', source: 'store-watcher', at: Date.now() }),
        this.options.debounceMs,
      );
    };

    const unwatch = (dir: string) => {
      for (const [folder, { watcher }] of folders) {
        if (folder === dir || folder.startsWith(`${dir}${path.sep}`)) {
          watcher.close();
          folders.delete(folder);
        }
      }
    };

    const onEvent = async (dir: string, depth: number, name: string | null) => {
      if (name === null) return changed();
      if (name.startsWith('.')) return;
      const file = path.join(dir, name);
      const st = await lstat(file, { bigint: true }).catch(() => undefined);
      if (disposed) return;
      if (st?.isDirectory()) {
        const watched = folders.get(file);
        if (watched?.ino === Number(st.ino)) return; // its attributes (a mode repaired)
        if (watched) unwatch(file);
        if (depth < MAX_DEPTH) await watchFolder(file, depth + 1);
        return changed();
      }
      if (st === undefined && name === path.basename(dir)) {
        // An event on the watched folder itself (inotify names it by its own name): its mode
        // changed, or it is gone (then its parent's watch says so too).
        const self = await lstat(dir).catch(() => undefined);
        if (disposed || (self?.isDirectory() && folders.get(dir)?.ino === self.ino)) return;
        unwatch(dir);
        return changed();
      }
      if (st === undefined) {
        // Gone (a folder too: its watch went with it).
        unwatch(file);
        identities.delete(file);
        return changed();
      }
      // Whether its owner may read it is part of it: a file made readable again is new to the store.
      const identity = `${st.size}:${st.mtimeNs}:${st.ino}:${st.mode & 0o400n}`;
      if (identities.get(file) === identity) return;
      if (identities.size >= MAX_REMEMBERED) identities.clear();
      identities.set(file, identity);
      changed();
    };

    /** Watches `dir` (a folder, not a link) and its subfolders down to MAX_DEPTH. */
    const watchFolder = async (dir: string, depth: number): Promise<void> => {
      if (disposed || folders.has(dir)) return;
      const st = await lstat(dir).catch(() => undefined);
      if (!st?.isDirectory() || disposed || folders.has(dir)) return;
      let watcher: FSWatcher;
      try {
        watcher = watch(dir, (_type, name) => void onEvent(dir, depth, name));
      } catch {
        return; // gone in between: its parent's event says so
      }
      watcher.on('error', () => {
        unwatch(dir);
        changed();
      });
      folders.set(dir, { watcher, ino: st.ino });
      if (depth >= MAX_DEPTH) return;
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        if (entry.isDirectory() && !entry.name.startsWith('.'))
          await watchFolder(path.join(dir, entry.name), depth + 1);
      }
    };

    // The folder that holds the store, for the store's own name: a store made (or removed and
    // made again) after the start is watched from then on.
    const parent = path.dirname(root);
    let parentWatcher: FSWatcher | undefined;
    try {
      parentWatcher = watch(parent, (_type, name) => {
        if (name === path.basename(root)) void onEvent(parent, -1, name);
      });
      parentWatcher.on('error', () => parentWatcher?.close());
    } catch {
      // No folder holds it yet: the store is watched if it exists, else not until a restart.
    }
    await watchFolder(root, 0);

    return toDisposable(() => {
      disposed = true;
      clearTimeout(timer);
      parentWatcher?.close();
      for (const { watcher } of folders.values()) watcher.close();
      folders.clear();
    });
  }
}
