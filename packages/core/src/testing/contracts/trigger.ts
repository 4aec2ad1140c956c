import type { Trigger, TriggerEvent, TriggerEventName } from '../../api/points/trigger.js';
import type { ContractAssertions, ContractTest } from './contract-test.js';

/** What a `Trigger` contract test runs on. */
export interface TriggerSubject {
  readonly trigger: Trigger;
  /**
   * Makes what the trigger watches happen once (a timer's tick, a file change, a session signal),
   * resolving when the trigger must have fired: tests inject the clock or the bus to make this exact.
   */
  readonly provoke: () => Promise<void>;
  /** The event names this trigger may fire (its manifest's `events`). */
  readonly events: readonly TriggerEventName[];
}

const NAMES: readonly TriggerEventName[] = [
  'logon',
  'logoff',
  'lock',
  'unlock',
  'resume',
  'policyRefresh',
  'storeChanged',
];

/**
 * The behaviour every `Trigger` owes the agent: nothing fires before `start`; after it, what the
 * trigger watches fires events of its declared names, each with its source and a time; the
 * disposable `start` returns stops it, and may be disposed twice.
 */
export function triggerContract(
  test: ContractTest,
  name: string,
  make: (t: ContractAssertions) => Promise<TriggerSubject>,
): void {
  test(`${name} (Trigger contract): fires declared events after start, with a source and a time`, async (t) => {
    const { trigger, provoke, events } = await make(t);
    const fired: TriggerEvent[] = [];
    t.true(events.length > 0 && events.every((e) => NAMES.includes(e)), 'declares known event names');
    const stop = await trigger.start((e) => fired.push(e));
    t.teardown(() => stop.dispose());
    await provoke();
    t.true(fired.length >= 1, 'fired at least once');
    for (const e of fired) {
      t.true(events.includes(e.name), `fired a declared event (${e.name})`);
      t.true(typeof e.source === 'string' && e.source.length > 0, 'names its source');
      t.true(Number.isFinite(e.at), 'carries a time');
    }
  });

  test(`${name} (Trigger contract): nothing fires after its disposable is disposed, and disposing twice is harmless`, async (t) => {
    const { trigger, provoke } = await make(t);
    const fired: TriggerEvent[] = [];
    const stop = await trigger.start((e) => fired.push(e));
    await stop.dispose();
    await stop.dispose();
    await provoke();
    t.deepEqual(fired, []);
  });
}
