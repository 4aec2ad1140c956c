import { createHash } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MemorySyncStateStore, X509ContentInspector } from '@credroam/core';
import { MemoryLocalStore, makeEngine, opensslChain, ReplicatedDirectory } from '@credroam/core/testing';
import test from 'ava';
import { CredentialFolderStore } from '../src/index.js';
import { folderKeyring, tempDir } from './support.js';

/**
 * The credential folder under the engine across processes: what a fresh process (a `credroam
 * logon`) does with a store it has not listed yet, when the sync state's record of the local side
 * (decision 025) stands in for the listing.
 */

const sha256 = (d: Uint8Array) => createHash('sha256').update(d).digest('hex');

async function endpoint(t: Parameters<typeof tempDir>[0]) {
  const root = await tempDir(t);
  const keyring = await folderKeyring(root);
  await mkdir(path.join(root, 'chain'));
  const chain = await opensslChain(path.join(root, 'chain'));
  return { root, keyring, chain, storeRoot: path.join(root, 'store') };
}

test('a deletion roamed to a fresh process that took the local side from the record removes a certificate kept under another name, and it is not resurrected', async (t) => {
  const { keyring, chain, storeRoot } = await endpoint(t);
  const clock = { now: Date.now() };
  const now = () => clock.now;
  const directory = new ReplicatedDirectory(1);
  const state = new MemorySyncStateStore();
  const inspector = new X509ContentInspector();
  // The user copied a certificate into certs/ by hand, under a name of their own (PEM).
  await mkdir(path.join(storeRoot, 'certs'), { recursive: true, mode: 0o700 });
  const pem = `-----BEGIN CERTIFICATE-----\n${Buffer.from(chain.leaf)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`;
  await writeFile(path.join(storeRoot, 'certs', 'vpn.pem'), pem, { mode: 0o600 });
  const id = sha256(chain.leaf);

  // This endpoint uploads it, then a second sync records the unchanged local side.
  const first = makeEngine({
    directory: directory.server(0),
    local: new CredentialFolderStore(storeRoot, keyring),
    inspector,
    state,
    now,
  });
  t.is((await first.engine.sync()).counts.uploaded, 1);
  await first.engine.sync({ full: true });
  t.truthy((await state.load())?.local, 'the local side is recorded');

  // Another endpoint downloads it and deletes it: a tombstone roams.
  clock.now += 1000;
  const other = new MemoryLocalStore(now);
  const b = makeEngine({ directory: directory.server(0), local: other, inspector, now });
  await b.engine.sync();
  t.true(other.items.has(`cert:${id}`));
  clock.now += 1000;
  other.userDelete(`cert:${id}`);
  t.is((await b.engine.sync()).counts.tombstoned, 1);

  // A logon in a fresh process: a new store object that has not listed the folder yet.
  clock.now += 1000;
  const logon = makeEngine({
    directory: directory.server(0),
    local: new CredentialFolderStore(storeRoot, keyring),
    inspector,
    state,
    now,
  });
  const report = await logon.engine.sync({ full: true });
  t.is(report.counts.removed, 1);
  t.deepEqual(await readdir(path.join(storeRoot, 'certs')), [], 'the copy under its own name went too');

  // The next syncs do not bring it back: the deletion stands everywhere.
  clock.now += 1000;
  const again = await logon.engine.sync();
  t.is(again.counts.uploaded, 0);
  await b.engine.sync();
  t.false(other.items.has(`cert:${id}`), 'not resurrected on the other endpoint');
});
