import assert from 'node:assert/strict';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { Trigger } from '@credroam/core/api';
import { activatePlugin, forNodeTest, triggerContract } from '@credroam/core/testing';
import { IntervalTrigger, type Timers } from '../src/index.js';

const packageDir = fileURLToPath(new URL('../..', import.meta.url));

/** Timers a test drives: `tick()` runs what is scheduled, at once. */
function manualTimers(): Timers & { tick(): void } {
  const scheduled = new Map<number, () => void>();
  let next = 0;
  return {
    setInterval: (fn) => {
      scheduled.set(++next, fn);
      return next;
    },
    clearInterval: (handle) => scheduled.delete(handle as number),
    tick: () => {
      for (const fn of scheduled.values()) fn();
    },
  };
}

// The testing kit's suite: what every Trigger owes the agent.
triggerContract(forNodeTest(test), '__CONTRIBUTION__', async () => {
  const timers = manualTimers();
  const trigger = new IntervalTrigger({ everySeconds: 60, source: '__CONTRIBUTION__', timers });
  return { trigger, provoke: async () => timers.tick(), events: ['storeChanged'] };
});

test('the host loads the plugin, validates its settings and makes the trigger', async (t) => {
  const plugin = await activatePlugin({ dir: packageDir });
  t.after(() => plugin.dispose());
  const trigger = await plugin.contribution(Trigger, '__CONTRIBUTION__', { settings: {} });
  const stop = await trigger.start(() => undefined);
  await stop.dispose();
  assert.equal(plugin.info().state, 'active');
  await assert.rejects(
    plugin.contribution(Trigger, '__CONTRIBUTION__', { settings: { everySeconds: 1 } }),
    /everySeconds/,
  );
});
