import { execFile, spawn } from 'node:child_process';
import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';
import {
  CredroamError,
  type DirectoryStore,
  FileUserLock,
  InProcessLock,
  type LockHeld,
  type UserLock,
} from '../../src/index.js';
import { MemoryLocalStore, makeEngine, ReplicatedDirectory } from '../../src/testing/index.js';
import { tempDir } from '../support/temp.js';

const run = promisify(execFile);
const holderScript = fileURLToPath(new URL('../../../test/fixtures/lock-holder.mjs', import.meta.url));

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
  await Promise.all(['p1', 'p2', 'p3'].map((n) => run(process.execPath, [holderScript, dir, log, n, '150'])));
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

/** Resolves when `file` has a line that `match` accepts. */
async function lineIn(file: string, match: (line: string) => boolean): Promise<void> {
  for (;;) {
    const text = await readFile(file, 'utf8').catch(() => '');
    if (text.split('\n').some(match)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A holder process (a 2 s stale time) that took the lock and works for `holdMs`, stopped (SIGSTOP:
 * a suspended laptop, a debugger, a machine under load) for 2.5 s: past its lock's stale time.
 */
async function pausedHolder(
  t: ExecutionContext,
  dir: string,
  log: string,
  holdMs: number,
  mode: 'short' | 'short-quiet' | 'short-clock-back' = 'short',
) {
  const holder = spawn(process.execPath, [holderScript, dir, log, 'paused', String(holdMs), mode], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  holder.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => holder.on('exit', (code) => resolve(code)));
  t.teardown(() => holder.kill('SIGKILL'));
  await lineIn(log, (l) => l.startsWith('paused start'));
  holder.kill('SIGSTOP');
  await new Promise((r) => setTimeout(r, 2_500));
  return { holder, exited, stderr: () => stderr };
}

test('a holder paused past the stale time, its lock taken over, stops at its next write instead of crashing', async (t) => {
  const dir = await tempDir(t);
  const log = path.join(dir, 'log');
  const { holder, exited, stderr } = await pausedHolder(t, dir, log, 4_000);
  // Another process takes the stale lock over; the paused holder wakes while it is held.
  await new FileUserLock(dir, 5_000, { staleMs: 2_000, refreshMs: 1_000 }).run(async () => {
    holder.kill('SIGCONT');
    await lineIn(log, (l) => l.startsWith('paused stopped'));
  });
  t.is(await exited, 0, stderr());
  t.is(stderr(), '', "no stack trace: the lock's loss is an error of the work, not of the process");
  const lines = (await readFile(log, 'utf8')).trim().split('\n');
  t.deepEqual(
    lines.map((l) => l.split(' ').slice(0, 2).join(' ')),
    ['paused start', 'paused stopped'],
  );
  t.is(lines[1], 'paused stopped E_SYNC_BUSY', 'it did not write after it lost the lock');
});

test('a lock whose folder is removed while held: the work learns it from `held`, naming the lock', async (t) => {
  const dir = await tempDir(t);
  const lock = new FileUserLock(dir, 30_000, { staleMs: 2_000, refreshMs: 1_000 });
  const error = await t.throwsAsync(
    lock.run(async (held) => {
      t.false(held.lost.aborted);
      await rm(path.join(dir, 'sync.lock'), { recursive: true });
      await new Promise<void>((resolve) => held.lost.addEventListener('abort', () => resolve()));
      held.throwIfLost();
    }),
    { code: 'E_SYNC_BUSY' } as never,
  );
  t.regex(error!.message, /sync\.lock was lost while this sync ran/);
  // The lock works again after.
  t.is(await lock.run(async (held) => held.lost.aborted), false);
});

/** A lock lost at a chosen moment (what FileUserLock's `held` does when another process takes it). */
class LosableLock implements UserLock {
  readonly #lost = new AbortController();
  lose(): void {
    this.#lost.abort(new CredroamError('E_SYNC_BUSY', 'the sync lock was lost while this sync ran'));
  }
  run<T>(work: (held: LockHeld) => Promise<T>): Promise<T> {
    const lost = this.#lost.signal;
    return work({ lost, throwIfLost: () => lost.throwIfAborted() });
  }
}

test('a sync whose lock is lost after its directory write stops before the store and the state, and the next sync completes it', async (t) => {
  const dir = new ReplicatedDirectory(1);
  const a = new MemoryLocalStore();
  a.userPut('cert', 'doc', 'v1');
  const lock = new LosableLock();
  const server = dir.server(0);
  const directory: DirectoryStore = {
    ...server,
    readStamp: () => server.readStamp(),
    read: () => server.read(),
    readKeys: () => server.readKeys(),
    write: async (change) => {
      await server.write(change);
      lock.lose(); // another process takes the lock over as this write lands
    },
  };
  const { engine, state } = makeEngine({ directory, local: a, lock });
  await t.throwsAsync(engine.sync(), { code: 'E_SYNC_BUSY' } as never);
  t.is(dir.replicas[0]!.tokens.size, 1, 'the directory write had landed');
  const recorded = await state.load();
  t.truthy(recorded?.pending, 'the state still says the write is in doubt, as after a kill');
  // The next sync (the lock held again) settles it without loss or a second copy.
  const { engine: next } = makeEngine({ directory: server, local: a, state });
  const report = await next.sync();
  t.is(report.outcome, 'synced');
  t.is(dir.replicas[0]!.tokens.size, 1);
  t.is((await state.load())?.pending, undefined);
});

test('a sync whose lock is lost while it writes the store (paused there, another process took it over) makes none of its held writes take effect, then or at a later flush', async (t) => {
  const dir = new ReplicatedDirectory(1);
  // Another endpoint uploads two certificates: this endpoint's sync downloads them.
  const b = new MemoryLocalStore();
  b.userPut('cert', 'one', 'v1');
  b.userPut('cert', 'two', 'v1');
  t.is((await makeEngine({ directory: dir.server(0), local: b }).engine.sync()).outcome, 'synced');
  const lock = new LosableLock();
  // The store's first write is held back; meanwhile the lock is lost (as when this process was
  // paused past the stale time there and another took the lock over).
  class PausedAtFirstWrite extends MemoryLocalStore {
    override async put(...args: Parameters<MemoryLocalStore['put']>): Promise<void> {
      await super.put(...args);
      lock.lose();
    }
  }
  const a = new PausedAtFirstWrite();
  const { engine, state } = makeEngine({ directory: dir.server(0), local: a, lock });
  await t.throwsAsync(engine.sync(), { code: 'E_SYNC_BUSY' } as never);
  t.is(a.items.size, 0, 'nothing the lost sync held back took effect');
  t.is(a.pending.length, 0, 'nor is left for a later flush (another write in the agent) to apply');
  await a.flush();
  t.is(a.items.size, 0);
  t.is(await state.load(), undefined);
});

test('a sync whose lock is already lost writes nothing anywhere', async (t) => {
  const dir = new ReplicatedDirectory(1);
  const a = new MemoryLocalStore();
  a.userPut('cert', 'doc', 'v1');
  const lock = new LosableLock();
  lock.lose();
  const { engine, state } = makeEngine({ directory: dir.server(0), local: a, lock });
  await t.throwsAsync(engine.sync(), { code: 'E_SYNC_BUSY' } as never);
  t.is(dir.replicas[0]!.tokens.size, 0);
  t.is(await state.load(), undefined);
});

/**
 * A holder paused past its stale time (`pausedHolder`, in `mode`) is woken while this process holds
 * the lock it took over: it must stop at its check, and leave this process's lock folder alone.
 */
async function wokenHolderDoesNotWrite(t: ExecutionContext, mode: 'short' | 'short-clock-back') {
  const dir = await tempDir(t);
  const log = path.join(dir, 'log');
  // Its work (1.5 s) is due when it wakes, as a directory read that answered while it was stopped
  // is: it must not take the lock for its own before proper-lockfile's refresh has looked.
  const { holder, exited, stderr } = await pausedHolder(t, dir, log, 1_500, mode);
  await new FileUserLock(dir, 5_000, { staleMs: 2_000, refreshMs: 1_000 }).run(async () => {
    holder.kill('SIGCONT');
    await lineIn(log, (l) => l.startsWith('paused stopped') || l.startsWith('paused end'));
    t.is(await exited, 0, stderr());
    // Nor did it remove, ending its work or its process, the lock that is this process's now.
    t.true((await stat(path.join(dir, 'sync.lock'))).isDirectory());
  });
  const lines = (await readFile(log, 'utf8')).trim().split('\n');
  t.is(lines[1], 'paused stopped E_SYNC_BUSY', 'it did not write after it lost the lock');
}

test('a holder woken past its stale time, its lock taken over, does not write even before its refresh timer runs', (t) =>
  wokenHolderDoesNotWrite(t, 'short'));

test('a holder whose wall clock was set back a minute, woken past its stale time, its lock taken over, does not write either', (t) =>
  wokenHolderDoesNotWrite(t, 'short-clock-back'));

test('a holder woken past its stale time, its lock taken over, whose work ends without a write (nothing changed): it does not remove the lock that is another process’s now', async (t) => {
  const dir = await tempDir(t);
  const log = path.join(dir, 'log');
  // Its work is due when it wakes and checks nothing (it writes nothing), then the lock is released.
  const { holder, exited, stderr } = await pausedHolder(t, dir, log, 1_500, 'short-quiet');
  await new FileUserLock(dir, 5_000, { staleMs: 2_000, refreshMs: 1_000 }).run(async (held) => {
    holder.kill('SIGCONT');
    t.is(await exited, 0, stderr());
    t.true(
      (await stat(path.join(dir, 'sync.lock'))).isDirectory(),
      'the lock folder is still this process’s',
    );
    held.throwIfLost();
  });
});
