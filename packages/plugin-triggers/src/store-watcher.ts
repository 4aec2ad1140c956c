import { type Disposable, type Trigger, type TriggerEvent, toDisposable } from '@credroam/core/api';
import { watch } from 'chokidar';

export interface StoreWatcherOptions {
  /** The folder of the local store. */
  readonly path: string;
  /** Changes closer together than this fire once (a burst of files, an editor's save). */
  readonly debounceMs: number;
}

/**
 * Fires `storeChanged` when anything in the local store changes — through credroam, another tool,
 * or a file copied in. Bursts coalesce into one event after `debounceMs` of quiet. Temporary
 * files (dot files: credroam's atomic writes) are ignored; links are not followed.
 */
export class StoreWatcher implements Trigger {
  constructor(private readonly options: StoreWatcherOptions) {}

  async start(fire: (event: TriggerEvent) => void): Promise<Disposable> {
    const watcher = watch(this.options.path, {
      ignoreInitial: true,
      followSymlinks: false,
      depth: 2,
      ignored: (file) => /(^|\/)\.[^/]+$/.test(file),
      awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 20 },
    });
    let timer: NodeJS.Timeout | undefined;
    const changed = () => {
      clearTimeout(timer);
      timer = setTimeout(
        () => fire({ name: 'storeChanged', source: 'store-watcher', at: Date.now() }),
        this.options.debounceMs,
      );
    };
    watcher.on('all', changed);
    await new Promise<void>((resolve, reject) => {
      watcher.once('ready', resolve);
      watcher.once('error', reject);
    });
    return toDisposable(async () => {
      clearTimeout(timer);
      await watcher.close();
    });
  }
}
