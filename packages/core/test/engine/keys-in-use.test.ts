import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import {
  decodeHeader,
  EventId,
  type LocalItem,
  TokenFlag,
  tokenKey,
  X509ContentInspector,
} from '../../src/index.js';
import {
  MemoryLocalStore,
  makeEngine,
  opensslCertOnKey,
  opensslCredential,
  ReplicatedDirectory,
} from '../../src/testing/index.js';
import { tempDir } from '../support/temp.js';

const _run = promisify(execFile);
const keyOf = (item: LocalItem) => tokenKey(item.kind, item.id);

/** Two certificates on one key (a renewal that kept it), made by openssl. */
async function sharedKey(dir: string) {
  const first = await opensslCredential(dir, 'first');
  return { first: first.cert, key: first.key, second: await opensslCertOnKey(dir, 'first', 'second') };
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

/** The directory's values of one token, live or tombstones. */
function valuesOf(dir: ReplicatedDirectory, item: LocalItem): Array<{ b64: string; tombstone: boolean }> {
  return [...dir.replicas[0]!.tokens].flatMap((b64) => {
    const d = decodeHeader(new Uint8Array(Buffer.from(b64, 'base64')), 1 << 20);
    return d.ok && d.header.kind === item.kind && d.header.id === item.id
      ? [{ b64, tombstone: (d.header.flags & TokenFlag.Tombstone) !== 0 }]
      : [];
  });
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

test('a key deleted here that a certificate here uses is not tombstoned while the directory lacks its value (a writer deleted it): it comes back when the value does', async (t) => {
  const c = await sharedKey(await tempDir(t));
  const w = world();
  const a = w.endpoint();
  const b = w.endpoint();
  a.put(c.first);
  a.put(c.key);
  a.put(c.second);
  await a.sync();
  w.tick();
  await b.sync();
  t.true(b.local.items.has(keyOf(c.key)));
  // The key's file is deleted at A, both certificates kept; a writer deletes the key's value.
  a.local.userDelete(keyOf(c.key));
  const removed = valuesOf(w.dir, c.key);
  for (const v of removed) w.dir.replicas[0]!.tokens.delete(v.b64);
  w.tick();
  await a.sync(true);
  t.false(
    valuesOf(w.dir, c.key).some((v) => v.tombstone),
    'no tombstone of a key certificates at A use',
  );
  for (let i = 0; i < 2; i++) {
    for (const e of [b, a]) {
      w.tick();
      await e.sync(true);
    }
  }
  for (const [name, e] of [
    ['A', a],
    ['B', b],
  ] as const) {
    t.true(e.local.items.has(keyOf(c.key)), `${name} holds the key its certificates use`);
    t.true(e.local.items.has(keyOf(c.first)), name);
    t.true(e.local.items.has(keyOf(c.second)), name);
  }
});
