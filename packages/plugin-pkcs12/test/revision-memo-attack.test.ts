import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { RevisionMemo } from '../src/store/revision-memo.js';
import { tempDir } from './support.js';

/** A computation the test ends when it wants: what the store looked like when it started. */
function pending(value: string) {
  let end!: () => void;
  const done = new Promise<void>((resolve) => {
    end = resolve;
  });
  return {
    compute: async () => {
      await done;
      return value;
    },
    end,
  };
}

async function memoOver(t: Parameters<typeof tempDir>[0]) {
  const root = await tempDir(t);
  await mkdir(path.join(root, 'certs'));
  const memo = new RevisionMemo(() => [root, path.join(root, 'certs')]);
  t.teardown(() => memo.close());
  return memo;
}

test('a revision computed before a write is not remembered because another call re-armed the watches meanwhile', async (t) => {
  const memo = await memoOver(t);
  await memo.revision(async () => 'r0'); // armed, remembered
  memo.forget(); // the store writes (or a watch saw a change)

  // A computation starts (it re-arms), and reads the store as it was before a second write.
  const before = pending('stale');
  const first = memo.revision(before.compute);
  memo.forget(); // the second write: the computation under way is out of date
  // A concurrent caller (a plugin's `certificates.revision()`, say) re-arms and computes afresh.
  const second = memo.revision(async () => 'fresh');
  t.is(await second, 'fresh');
  before.end();
  t.is(await first, 'stale');

  // The next call must not be handed the value computed before the second write.
  t.is(await memo.revision(async () => 'now'), 'fresh');
});

test('a computation under way when the watches are closed and armed again is not remembered', async (t) => {
  const memo = await memoOver(t);
  const before = pending('stale');
  const first = memo.revision(before.compute);
  memo.close(); // the plugin deactivated (the store still works after)
  t.is(await memo.revision(async () => 'fresh'), 'fresh'); // armed again
  memo.forget(); // a write after that
  const third = memo.revision(async () => 'after write');
  before.end();
  t.is(await first, 'stale');
  t.is(await third, 'after write');
  t.is(await memo.revision(async () => 'now'), 'after write', 'the last computation is the one remembered');
});

test('a clock set back does not make a remembered revision trusted for longer than its age', async (t) => {
  const root = await tempDir(t);
  let now = 10_000_000;
  const memo = new RevisionMemo(() => [root], { now: () => now });
  t.teardown(() => memo.close());
  let computed = 0;
  const revision = () => memo.revision(async () => `r${++computed}`);
  await revision();
  await revision();
  t.is(computed, 1);
  // The wall clock steps back an hour (NTP, a suspended laptop's clock corrected): the value's
  // age is unknown, so it is computed again, not trusted for another hour and 30 s.
  now -= 3_600_000;
  await revision();
  t.is(computed, 2);
});
