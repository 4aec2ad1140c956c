import { type Disposable, type Trigger, type TriggerEvent, toDisposable } from '@credroam/core/api';

/** Read at each scheduling: getters let a refreshed policy change the next interval. */
export interface PolicyRefreshOptions {
  /** Minutes between refreshes (Windows: 90). */
  readonly intervalMinutes: number;
  /** A random 0..randomMinutes is added to each interval (Windows: 30), so endpoints spread out. */
  readonly randomMinutes: number;
  readonly random?: () => number;
}

/** Fires `policyRefresh` every interval plus a random delay, each delay drawn anew. */
export class PolicyRefresh implements Trigger {
  constructor(private readonly options: PolicyRefreshOptions) {}

  /** The next delay in ms. */
  nextDelay(): number {
    const r = (this.options.random ?? Math.random)();
    return Math.round((this.options.intervalMinutes + r * this.options.randomMinutes) * 60_000);
  }

  async start(fire: (event: TriggerEvent) => void): Promise<Disposable> {
    let timer: NodeJS.Timeout | undefined;
    const schedule = () => {
      timer = setTimeout(() => {
        fire({ name: 'policyRefresh', source: 'policy-refresh', at: Date.now() });
        schedule();
      }, this.nextDelay());
      timer.unref();
    };
    schedule();
    return toDisposable(() => clearTimeout(timer));
  }
}
