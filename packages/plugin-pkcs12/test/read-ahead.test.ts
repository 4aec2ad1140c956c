import test from 'ava';
import { readAhead, TASKS_PER_TURN } from '../src/store/read-ahead.js';

// The store's listing reads its files synchronously (private-paths.ts): readAhead is what lets the
// event loop turn while it lists thousands of them, so an agent still answers its socket.

test('results come in order, each error where a sequential loop would meet it', async (t) => {
  const tasks = Array.from({ length: 100 }, (_, i) => async () => {
    if (i % 7 === 3) throw new Error(`task ${i}`);
    return i;
  });
  const results = readAhead(tasks, 4);
  for (const [i, r] of results.entries()) {
    if (i % 7 === 3) await t.throwsAsync(r, { message: `task ${i}` });
    else t.is(await r, i);
  }
});

test('tasks that finish at once still let the event loop turn every TASKS_PER_TURN of them', async (t) => {
  const count = 10 * TASKS_PER_TURN;
  const started: number[] = [];
  // What an agent's socket would see: a callback of the next loop turn, and how many tasks ran before it.
  const turns: number[] = [];
  const tick = () =>
    setImmediate(() => {
      turns.push(started.length);
      if (started.length < count) tick();
    });
  tick();
  const results = readAhead(
    Array.from({ length: count }, (_, i) => async () => {
      started.push(i);
      return i;
    }),
  );
  t.deepEqual(await Promise.all(results), [...started.keys()]);
  t.deepEqual(started, [...started.keys()], 'started in order');
  // Between two turns, at most TASKS_PER_TURN tasks ran (and there were turns throughout).
  const ran = turns.map((n, i) => n - (turns[i - 1] ?? 0));
  t.true(turns.length >= count / TASKS_PER_TURN - 1, `turns: ${turns.join(', ')}`);
  t.true(Math.max(...ran) <= TASKS_PER_TURN, `tasks between turns: ${ran.join(', ')}`);
});
