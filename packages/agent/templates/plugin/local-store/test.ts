import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { LocalStore } from '@credroam/core/api';
import {
  activatePlugin,
  type ContractAssertions,
  forNodeTest,
  localStoreContract,
} from '@credroam/core/testing';

const packageDir = fileURLToPath(new URL('../..', import.meta.url));

async function tempDir(t: ContractAssertions): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), '__CONTRIBUTION__-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

// The testing kit's suite, the one the built-in stores pass, on the store as the agent makes it:
// the plugin loaded by the host, its settings validated, its factory called.
localStoreContract(forNodeTest(test), '__CONTRIBUTION__', async (t) => {
  const root = await tempDir(t);
  const plugin = await activatePlugin({ dir: packageDir });
  t.teardown(() => plugin.dispose());
  const store = await plugin.contribution(LocalStore, '__CONTRIBUTION__', {
    home: path.join(root, 'home'),
    settings: {},
  });
  return { store, root };
});

test('a file that is not an item is reported, never deleted', async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), '__CONTRIBUTION__-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const plugin = await activatePlugin({ dir: packageDir });
  t.after(() => plugin.dispose());
  const store = await plugin.contribution(LocalStore, '__CONTRIBUTION__', {
    home: root,
    settings: { folder: 'creds' },
  });
  await mkdir(path.join(root, 'creds'));
  await writeFile(path.join(root, 'creds', `cert-${'a'.repeat(64)}.json`), 'not json');
  const { items, unreadable } = await store.list();
  assert.deepEqual(items, []);
  assert.equal(unreadable.length, 1);
  assert.deepEqual(await readdir(path.join(root, 'creds')), [`cert-${'a'.repeat(64)}.json`]);
});
