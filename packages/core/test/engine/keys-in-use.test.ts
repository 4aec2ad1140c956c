import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import test from 'ava';
import { EventId, type LocalItem, tokenKey, X509ContentInspector } from '../../src/index.js';
import {
  MemoryLocalStore,
  makeEngine,
  opensslCredential,
  ReplicatedDirectory,
} from '../../src/testing/index.js';
import { tempDir } from '../support/temp.js';

const run = promisify(execFile);
const keyOf = (item: LocalItem) => tokenKey(item.kind, item.id);

/** Two certificates on one key (a renewal that kept it), made by openssl. */
async function sharedKey(dir: string) {
  const first = await opensslCredential(dir, 'first');
  await run(
    'openssl',
    ['req', '-x509', '-key', 'first.key.pem', '-out', 'second.pem', '-days', '60', '-subj', '/CN=second'],
    { cwd: dir },
  );
  const der = new Uint8Array(new X509Certificate(await readFile(`${dir}/second.pem`)).raw);
  const second: LocalItem = {
    kind: 'cert',
    id: new X509ContentInspector().inspect('cert', der).id,
    content: der,
    archived: false,
    modified: 1_700_000_000_000,
  };
  return { first: first.cert, key: first.key, second };
}

function world() {
  const clock = { now: 1_700_000_100_000 };
  const now = () => clock.now;
  const dir = new ReplicatedDirectory(1);
  const endpoint = () => {
    const local = new MemoryLocalStore(now);
    const { engine, events } = makeEngine({
      directory: dir.server(0),
      local,
      now,
      inspector: new X509ContentInspector(),
    });
    const put = (item: LocalItem) => local.items.set(keyOf(item), { ...item, modified: clock.now });
    return { local, engine, events, put, sync: (full = false) => engine.sync({ full }) };
  };
  return { dir, clock, endpoint, tick: () => (clock.now += 1000) };
}

test('a key deleted elsewhere that a certificate here uses is kept here: a conflict (501) at each sync that reads both sides', async (t) => {
  const c = await sharedKey(await tempDir(t));
  const w = world();
  const a = w.endpoint();
  const b = w.endpoint();
  a.put(c.first);
  a.put(c.key);
  await a.sync();
  w.tick();
  await b.sync();
  // B gets a second certificate on the key; A, which has not met it, removes the first with the key.
  w.tick();
  b.put(c.second);
  a.local.userDelete(keyOf(c.first));
  a.local.userDelete(keyOf(c.key));
  w.tick();
  await a.sync();
  w.tick();
  const report = await b.sync();
  t.true(b.local.items.has(keyOf(c.key)), 'B keeps the key its second certificate uses');
  t.false(b.local.items.has(keyOf(c.first)));
  const conflicts = () =>
    b.events.filter((e) => e.event === EventId.Conflict && (e as { id?: unknown }).id === c.key.id);
  t.is(conflicts().length, 1, 'the kept key is a conflict (event 501)');
  t.true(report.counts.conflicts >= 1);
  w.tick();
  await b.sync(true);
  t.is(conflicts().length, 2, 'and again at the next sync that reads both sides');
  t.true(b.local.items.has(keyOf(c.key)));
});
