import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { TokenProtector } from '@credroam/core/api';
import {
  activatePlugin,
  type ContractAssertions,
  forNodeTest,
  tokenProtectorContract,
} from '@credroam/core/testing';
import { KeyFileProtector } from '../src/index.js';

const packageDir = fileURLToPath(new URL('../..', import.meta.url));

async function tempDir(t: ContractAssertions): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), '__CONTRIBUTION__-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

// The testing kit's suite on the protector as the agent makes it: the plugin loaded by the host,
// its settings validated, its factory called.
tokenProtectorContract(forNodeTest(test), '__CONTRIBUTION__', async (t) => {
  const dir = await tempDir(t);
  const keyFile = path.join(dir, 'site.key');
  await writeFile(keyFile, randomBytes(32), { mode: 0o600 });
  const plugin = await activatePlugin({ dir: packageDir });
  t.teardown(() => plugin.dispose());
  const protector = await plugin.contribution(TokenProtector, '__CONTRIBUTION__', { settings: { keyFile } });
  return { protector, otherUser: new KeyFileProtector(randomBytes(32)) };
});

test('a missing key file is the plugin error NO_KEY_FILE', async (t) => {
  const plugin = await activatePlugin({ dir: packageDir });
  t.after(() => plugin.dispose());
  await assert.rejects(
    plugin.contribution(TokenProtector, '__CONTRIBUTION__', {
      settings: { keyFile: '/nonexistent/site.key' },
    }),
    /not there/,
  );
});
