import {
  type Disposable,
  type PluginContext,
  type Trigger,
  type TriggerEvent,
  Trigger as TriggerPoint,
  toDisposable,
} from '@credroam/core/api';

/** The timers an `IntervalTrigger` uses: Node's, or a test's. */
export interface Timers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface IntervalTriggerOptions {
  /** Seconds between two events (the contribution's `everySeconds` setting, at least 10). */
  readonly everySeconds: number;
  /** The contribution id, named in each event's `source`. */
  readonly source: string;
  /** Default: Node's timers, unref'd (the trigger never keeps the agent alive on its own). */
  readonly timers?: Timers;
}

/** Fires `storeChanged` every `everySeconds`: the agent then compares the store and syncs. */
export class IntervalTrigger implements Trigger {
  constructor(private readonly options: IntervalTriggerOptions) {}

  async start(fire: (event: TriggerEvent) => void): Promise<Disposable> {
    const timers = this.options.timers ?? nodeTimers;
    const handle = timers.setInterval(
      () => fire({ name: 'storeChanged', source: this.options.source, at: Date.now() }),
      this.options.everySeconds * 1000,
    );
    let stopped = false;
    return toDisposable(() => {
      if (stopped) return;
      stopped = true;
      timers.clearInterval(handle);
    });
  }
}

const nodeTimers: Timers = {
  setInterval: (fn, ms) => setInterval(fn, ms).unref(),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

export function activate(context: PluginContext): void {
  context.contribute(
    TriggerPoint,
    '__CONTRIBUTION__',
    ({ settings }) =>
      new IntervalTrigger({ everySeconds: settings.everySeconds as number, source: '__CONTRIBUTION__' }),
  );
}
