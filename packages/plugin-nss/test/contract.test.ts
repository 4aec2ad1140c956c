import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { FolderDirectoryStore } from '@credroam/core';
import { CredentialFolderStore, Keyring } from '@credroam/plugin-pkcs12';
import test from 'ava';
import { localStoreContract } from './local-store-contract.js';
import { setup, tempDir } from './support.js';

localStoreContract(test, 'nss', async (t) => {
  const s = await setup(t);
  return { store: s.store, root: s.root };
});

localStoreContract(test, 'nss with a database password', async (t) => {
  const s = await setup(t, { password: 'contract-pw' });
  return { store: s.store, root: s.root };
});

// The built-in store runs the same suite: what the NSS store promises is what the engine already gets.
localStoreContract(test, 'pkcs12 (built in)', async (t) => {
  const root = await tempDir(t);
  await mkdir(path.join(root, 'dir'));
  const keyring = new Keyring({
    user: 'alice',
    directory: new FolderDirectoryStore(path.join(root, 'dir'), 'alice'),
    cacheFile: path.join(root, 'keys.json'),
    policy: { kdf: { name: 'scrypt', N: 2 ** 14, r: 8, p: 1 } },
  });
  await keyring.unlock('pw');
  return { store: new CredentialFolderStore(path.join(root, 'store'), keyring), root };
});
