import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { FolderDirectoryStore } from '@credroam/core';
import { localStoreContract } from '@credroam/core/testing';
import { CredentialFolderStore, Keyring } from '@credroam/plugin-pkcs12';
import test from 'ava';
import { setup, tempDir } from './support.js';

// The testing kit's LocalStore contract (@credroam/core/testing), the suite third-party stores run.

// `setup` and `tempDir` take ava's context, which is what the suite hands `make` here.
localStoreContract(test, 'nss', async (t) => {
  const s = await setup(t as never);
  return { store: s.store, root: s.root };
});

localStoreContract(test, 'nss with a database password', async (t) => {
  const s = await setup(t as never, { password: 'contract-pw' });
  return { store: s.store, root: s.root };
});

// The built-in store runs the same suite: what the NSS store promises is what the engine already gets.
localStoreContract(test, 'pkcs12 (built in)', async (t) => {
  const root = await tempDir(t as never);
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
