import test from 'ava';
import type { LocalListing } from '../../src/index.js';
import { MemoryLocalStore, makeEngine, ReplicatedDirectory } from '../../src/testing/index.js';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A store whose first listing waits until the test lets it end, and that counts the listings
 * running at once (a listing repairs modes and rewrites keys: it is a write of the store).
 */
class HeldStore extends MemoryLocalStore {
  running = 0;
  mostAtOnce = 0;
  ended: string[] = [];
  #held = true;
  #release: () => void = () => undefined;
  readonly #gate = new Promise<void>((resolve) => {
    this.#release = resolve;
  });
  release(): void {
    this.#release();
  }
  override async list(): Promise<LocalListing> {
    const held = this.#held;
    this.#held = false;
    this.running++;
    this.mostAtOnce = Math.max(this.mostAtOnce, this.running);
    try {
      if (held) await this.#gate;
      return await super.list();
    } finally {
      this.running--;
      this.ended.push(held ? 'first listing' : 'a later listing');
    }
  }
}

test('a sync whose directory read fails ends its listing of the store before it ends (and frees the user lock)', async (t) => {
  const dir = new ReplicatedDirectory(1);
  const server = dir.server(0);
  const local = new HeldStore();
  local.userPut('cert', 'c1', 'v1');
  const { engine } = makeEngine({ directory: server, local });
  // No state yet: no recorded local side, so the store is listed while the directory is read.
  server.failNextRead = true;
  const order: string[] = [];
  const first = engine.sync().then(
    () => order.push('first sync ended'),
    () => order.push('first sync failed'),
  );
  const second = engine.sync().then(() => order.push('second sync ended'));
  // Every turn of the event loop the failed sync needs to end (its rejection is microtasks), and more.
  for (let i = 0; i < 20 && !order.includes('first sync failed'); i++) await nextTurn();
  for (let i = 0; i < 20; i++) await nextTurn();
  local.release();
  await Promise.all([first, second]);
  t.deepEqual(order, ['first sync failed', 'second sync ended']);
  t.is(local.mostAtOnce, 1, 'never two listings at once: the failed sync listed under the user lock only');
  t.is(local.ended[0], 'first listing', 'the failed sync’s listing ended before the next sync listed');
});
