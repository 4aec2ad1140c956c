import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { CredroamError, DirectoryStore } from '@credroam/core/api';
import {
  activatePlugin,
  type ContractAssertions,
  directoryStoreContract,
  forNodeTest,
} from '@credroam/core/testing';

const packageDir = fileURLToPath(new URL('../..', import.meta.url));

async function tempDir(t: ContractAssertions): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), '__CONTRIBUTION__-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

// The testing kit's suite, the one the built-in folder directory and LDAP pass, on the store as
// the agent makes it: the plugin loaded by the host, its settings validated, its factory called.
directoryStoreContract(forNodeTest(test), '__CONTRIBUTION__', async (t) => {
  const folder = await tempDir(t);
  const plugin = await activatePlugin({ dir: packageDir });
  t.teardown(() => plugin.dispose());
  const make = () =>
    plugin.contribution(DirectoryStore, '__CONTRIBUTION__', { user: 'alice', settings: { folder } });
  return { store: await make(), other: await make() };
});

test('a folder that is not there is E_UNREACHABLE; settings without a folder are refused by the host', async (t) => {
  const plugin = await activatePlugin({ dir: packageDir });
  t.after(() => plugin.dispose());
  const store = await plugin.contribution(DirectoryStore, '__CONTRIBUTION__', {
    settings: { folder: '/nonexistent/credroam' },
  });
  await assert.rejects(store.read(), (e) => e instanceof CredroamError && e.code === 'E_UNREACHABLE');
  await assert.rejects(plugin.contribution(DirectoryStore, '__CONTRIBUTION__', { settings: {} }), /folder/);
});
