import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { PolicySource } from '@credroam/core/api';
import {
  activatePlugin,
  type ContractAssertions,
  forNodeTest,
  policySourceContract,
} from '@credroam/core/testing';

const packageDir = fileURLToPath(new URL('../..', import.meta.url));

async function tempDir(t: ContractAssertions): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), '__CONTRIBUTION__-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

// The testing kit's suite on the source as the agent makes it: the plugin loaded by the host, its
// settings validated, its factory called.
policySourceContract(forNodeTest(test), '__CONTRIBUTION__', async (t) => {
  const dir = await tempDir(t);
  const plugin = await activatePlugin({ dir: packageDir });
  t.teardown(() => plugin.dispose());
  const source = (file: string) =>
    plugin.contribution(PolicySource, '__CONTRIBUTION__', { settings: { file } });
  let n = 0;
  return {
    holding: async (bytes) => {
      const file = path.join(dir, `bundle-${n++}.p7b`);
      await writeFile(file, bytes);
      return source(file);
    },
    empty: () => source(path.join(dir, 'none.p7b')),
  };
});

test('settings without a file are refused by the host, naming the place', async (t) => {
  const plugin = await activatePlugin({ dir: packageDir });
  t.after(() => plugin.dispose());
  await assert.rejects(plugin.contribution(PolicySource, '__CONTRIBUTION__', { settings: {} }), /file/);
});
