import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { FileUserLock, InProcessLock } from '../../src/index.js';
import { MemoryLocalStore, makeEngine, ReplicatedDirectory } from '../../src/testing/index.js';
import { tempDir } from '../support/temp.js';

const run = promisify(execFile);
const holder = fileURLToPath(new URL('../../../test/fixtures/lock-holder.mjs', import.meta.url));

function intervals(log: string): Array<[number, number]> {
  const starts = new Map<string, number>();
  const out: Array<[number, number]> = [];
  for (const line of log.trim().split('\n')) {
    const [name, what, at] = line.split(' ') as [string, string, string];
    if (what === 'start') starts.set(name, Number(at));
    else out.push([starts.get(name)!, Number(at)]);
  }
  return out.sort((a, b) => a[0] - b[0]);
}

test('one sync at a time across processes: lock holders never overlap', async (t) => {
  const dir = await tempDir(t);
  const log = path.join(dir, 'log');
  await Promise.all(['p1', 'p2', 'p3'].map((n) => run(process.execPath, [holder, dir, log, n, '150'])));
  const spans = intervals(await readFile(log, 'utf8'));
  t.is(spans.length, 3);
  for (let i = 1; i < spans.length; i++) t.true(spans[i]![0] >= spans[i - 1]![1], JSON.stringify(spans));
});

test('one sync at a time in one process: concurrent calls are serialised, and a failure does not block the next', async (t) => {
  const lock = new InProcessLock();
  const order: string[] = [];
  const job = (name: string, fail = false) =>
    lock.run(async () => {
      order.push(`${name} in`);
      await new Promise((r) => setTimeout(r, 20));
      order.push(`${name} out`);
      if (fail) throw new Error(name);
    });
  const results = await Promise.allSettled([job('a'), job('b', true), job('c')]);
  t.deepEqual(order, ['a in', 'a out', 'b in', 'b out', 'c in', 'c out']);
  t.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
});

test('the file lock serialises callers inside one process too', async (t) => {
  const lock = new FileUserLock(await tempDir(t));
  let inside = 0;
  let most = 0;
  await Promise.all(
    [1, 2, 3].map(() =>
      lock.run(async () => {
        inside++;
        most = Math.max(most, inside);
        await new Promise((r) => setTimeout(r, 10));
        inside--;
      }),
    ),
  );
  t.is(most, 1);
});

test('two syncs of one engine started together run one after the other and both succeed', async (t) => {
  const dir = new ReplicatedDirectory(1);
  const local = new MemoryLocalStore();
  local.userPut('cert', 'doc', 'v1');
  const { engine } = makeEngine({ directory: dir.server(0), local });
  const [first, second] = await Promise.all([engine.sync(), engine.sync()]);
  t.is(first.counts.uploaded, 1);
  t.is(second.counts.uploaded, 0, 'the second saw the first one’s result');
  t.is(dir.replicas[0]!.tokens.size, 1);
});

test('a sync lock held elsewhere past the wait is E_SYNC_BUSY, naming the lock', async (t) => {
  const dir = await tempDir(t);
  let release!: () => void;
  let entered!: () => void;
  const inside = new Promise<void>((r) => (entered = r));
  const holding = new FileUserLock(dir).run(
    () =>
      new Promise<void>((r) => {
        release = r;
        entered();
      }),
  );
  await inside;
  const error = await t.throwsAsync(
    new FileUserLock(dir, 0).run(async () => undefined),
    {
      code: 'E_SYNC_BUSY',
    } as never,
  );
  t.is((error as unknown as { details: { file: string } }).details.file, path.join(dir, 'sync.lock'));
  release();
  await holding;
});
