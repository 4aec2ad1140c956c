import { type FSWatcher, lstatSync, watch } from 'node:fs';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** How long a remembered revision is trusted with no event at all (a change no watch saw). */
export const REVISION_MEMO_MS = 30_000;

/**
 * A store's revision, remembered while nothing changed in its folders, for a process that asks
 * again and again (the agent: `credroam sync` through it, a sync per trigger). Computing one stats
 * every file (4 000 files: 30 ms in the agent); asking again with nothing changed costs nothing.
 *
 * An inotify watch (`fs.watch`) on the store's folder (the first of `folders`) and on each of its
 * subfolders is armed before the revision is computed: an event in any of them (a file made,
 * written, renamed, removed, its mode or owner changed; a folder made, removed or replaced) forgets
 * it, and so does every write of the store itself (`forget`). A revision is remembered only when
 * every folder that exists was watched from before it was computed and nothing moved while it was
 * (no event, forget, close or re-arm), and for at most `maxAgeMs`: a change no watch sees (a file
 * written through a hard link from outside the store, the store's parent renamed) is found by the
 * first revision asked for after that. Folders are watched only when they are folders, not links
 * (the store refuses a link anyway). The watches do not keep a process alive; `close` ends them.
 */
export class RevisionMemo {
  readonly #folders: () => readonly string[];
  readonly #now: () => number;
  readonly #maxAgeMs: number;
  #watchers: FSWatcher[] | undefined;
  /**
   * Moves at every event, `forget`, `close` and arming: a revision is remembered with the generation
   * its computation began in, and holds only while that is still the generation.
   */
  #generation = 0;
  /** The generation the watches were armed in: any move since may mean a folder to watch anew. */
  #armedIn = -1;
  #value: { readonly revision: string; readonly at: number; readonly generation: number } | undefined;

  constructor(
    folders: () => readonly string[],
    options: { readonly now?: () => number; readonly maxAgeMs?: number } = {},
  ) {
    this.#folders = folders;
    this.#now = options.now ?? Date.now;
    this.#maxAgeMs = options.maxAgeMs ?? REVISION_MEMO_MS;
  }

  /** The remembered revision when it still holds, else `compute()`'s (remembered when it may be). */
  async revision(compute: () => Promise<string>): Promise<string> {
    if (this.#value) {
      // Events the kernel queued before this call are read first (two turns of the event loop:
      // the rest of this poll phase, then one more poll): a change made before it is never missed.
      await nextTurn();
      await nextTurn();
      const value = this.#value;
      // A clock set back (a negative age) says nothing of how old the value is: computed again.
      const age = value ? this.#now() - value.at : -1;
      if (value?.generation === this.#generation && age >= 0 && age < this.#maxAgeMs) return value.revision;
    }
    this.#value = undefined;
    if (!this.#watchers || this.#armedIn !== this.#generation) this.#arm();
    // Whatever moves while this computes (an event, a write of the store, a concurrent call's
    // re-arm) leaves the result unremembered.
    const generation = this.#generation;
    const revision = await compute();
    if (this.#watchers && generation === this.#generation)
      this.#value = { revision, at: this.#now(), generation };
    return revision;
  }

  /**
   * Forgets the revision, and what a computation under way would remember: the store writes (at
   * the start of a write and again at its end, before its own watch event arrives).
   */
  forget(): void {
    this.#generation++;
    this.#value = undefined;
  }

  /** Ends the watches. */
  close(): void {
    for (const w of this.#watchers ?? []) w.close();
    this.#watchers = undefined;
    this.forget();
  }

  /** Watches every folder there is, afresh; `#watchers` stays undefined when one could not be watched. */
  #arm(): void {
    this.close();
    this.#armedIn = this.#generation;
    const watchers: FSWatcher[] = [];
    const changed = () => this.forget();
    try {
      for (const [i, folder] of this.#folders().entries()) {
        const st = lstatSync(folder, { throwIfNoEntry: false });
        // The store's own folder must be watched: it sees the others made, removed or replaced.
        if (i === 0 && !st?.isDirectory()) throw new Error('the store has no folder yet');
        if (!st?.isDirectory()) continue; // made later, or a link the store refuses: the folder above sees it
        const w = watch(folder, { persistent: false }, changed);
        w.on('error', () => {
          changed();
          w.close();
        });
        watchers.push(w);
      }
    } catch {
      // No watch (inotify's limit reached, a folder gone as it was watched): nothing is remembered.
      for (const w of watchers) w.close();
      return;
    }
    this.#watchers = watchers;
  }
}
