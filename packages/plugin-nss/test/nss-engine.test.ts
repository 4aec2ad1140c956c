import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { X509ContentInspector } from '@credroam/core';
import { makeEngine, ReplicatedDirectory } from '@credroam/core/testing';
import test from 'ava';
import { NssStore } from '../src/index.js';
import {
  certutil,
  credential,
  newDatabase,
  nicknames,
  pk12util,
  pkcs12Codec,
  signsFor,
  tempDir,
} from './support.js';

/** Two endpoints of one user, each with an NSS database as its local store, syncing through one directory. */
async function endpoints(t: Parameters<typeof tempDir>[0]) {
  const root = await tempDir(t);
  const directory = new ReplicatedDirectory(1);
  const clock = { now: Date.now() };
  const make = async (name: string) => {
    const dir = path.join(root, name);
    const { mkdir } = await import('node:fs/promises');
    await mkdir(dir);
    const database = await newDatabase(dir);
    const stateDir = path.join(dir, 'home', 'nss', 'state');
    const store = new NssStore({ database, stateDir, pkcs12: pkcs12Codec() });
    const { engine } = makeEngine({
      directory: directory.server(0),
      local: store,
      inspector: new X509ContentInspector(),
      now: () => clock.now,
    });
    return { database, stateDir, store, engine };
  };
  return { root, clock, a: await make('a'), b: await make('b') };
}

test('a credential a browser imports on A roams to B’s NSS database with its key and name; deleted on A, it leaves B (a copy kept)', async (t) => {
  const { root, clock, a, b } = await endpoints(t);
  const c = await credential(root, 'roamer', 'ec', { friendlyName: 'Roaming VPN' });
  await pk12util(['-i', c.p12, '-d', `sql:${a.database}`, '-w', c.pass, '-k', '/dev/null']);

  const up = await a.engine.sync({ full: true });
  t.is(up.counts.uploaded, 3, 'certificate, key and attributes');

  clock.now += 1000;
  // The engine may meet the key before its certificate: it waits, and goes in with it (this sync or the next).
  await b.engine.sync({ full: true });
  clock.now += 1000;
  await b.engine.sync({ full: true });
  const { items, unreadable } = await b.store.list();
  t.deepEqual(unreadable, []);
  t.deepEqual(
    items.map((i) => `${i.kind}:${i.id}`).sort(),
    [`attrs:${c.cert.id}`, `cert:${c.cert.id}`, `key:${c.key.id}`].sort(),
  );
  t.true(signsFor(items.find((i) => i.kind === 'key')!.content, c.cert.content));
  t.regex(await certutil(['-L', '-d', `sql:${b.database}`]), /Roaming VPN\s+u,u,u/);
  const settled = await b.engine.sync({ full: true });
  t.deepEqual(settled.changes, [], 'nothing more to do on B');

  // Deleted in A's browser (certificate and key): the deletion roams.
  await certutil(['-F', '-d', `sql:${a.database}`, '-n', 'Roaming VPN', '-f', '/dev/null']);
  clock.now += 1000;
  const del = await a.engine.sync({ full: true });
  t.is(del.counts.tombstoned, 3);
  clock.now += 1000;
  await b.engine.sync({ full: true });
  t.deepEqual(await b.store.list(), { items: [], unreadable: [] });
  t.deepEqual(await nicknames(b.database), []);
  const kept = await readdir(path.join(b.stateDir, 'removed'));
  t.true(kept.some((n) => n.endsWith(`-key-${c.key.id}.p8`)));
  t.true(kept.some((n) => n.endsWith(`-cert-${c.cert.id}.der`)));
});
