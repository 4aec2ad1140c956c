import test from 'ava';
import { OPENED_PER_TURN } from '../../src/engine/directory-side.js';
import { fakeItem, MemoryLocalStore, makeEngine, ReplicatedDirectory } from '../../src/testing/index.js';

test('a sync that opens many values lets the event loop turn while it does (a busy agent still answers its socket)', async (t) => {
  const now = () => 1_700_000_000_000;
  const dir = new ReplicatedDirectory(1);
  const a = new MemoryLocalStore(now);
  const count = 10 * OPENED_PER_TURN;
  for (let i = 0; i < count; i++) await a.put(fakeItem('cert', `c${i}`, `certificate ${i}`, now()));
  const upload = await makeEngine({ directory: dir.server(0), local: a, now }).engine.sync({ full: true });
  t.is(upload.counts.uploaded, count);

  // A new endpoint opens every value. In-memory stores never wait on anything, so without turns of
  // its own the whole sync would run before any timer or socket callback.
  const b = makeEngine({ directory: dir.server(0), local: new MemoryLocalStore(now), now });
  let turns = 0;
  let syncing = true;
  const tick = () => {
    if (!syncing) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  const download = await b.engine.sync({ full: true });
  syncing = false;
  t.is(download.counts.downloaded, count);
  t.true(turns >= count / OPENED_PER_TURN - 1, `${turns} turns while ${count} values were opened`);
});
