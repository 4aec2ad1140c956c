import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FolderDirectoryStore } from '@credroam/core';
import { type ContractAssertions, tokenProtectorContract } from '@credroam/core/testing';
import test from 'ava';
import { Keyring, MasterKeyProtector } from '../src/index.js';

// The testing kit's TokenProtector contract (@credroam/core/testing), the suite third-party
// protectors run, on the built-in protector: a master key unlocked with a password, wrapped on a
// folder directory; `otherUser` is bob's, with keys of his own.

async function protectorFor(t: ContractAssertions, user: string): Promise<MasterKeyProtector> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'credroam-protector-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  await mkdir(path.join(root, 'dir'));
  const keyring = new Keyring({
    user,
    directory: new FolderDirectoryStore(path.join(root, 'dir'), user),
    cacheFile: path.join(root, 'keys.json'),
    policy: { kdf: { name: 'scrypt', N: 2 ** 14, r: 8, p: 1 } },
  });
  const protector = new MasterKeyProtector(keyring);
  await protector.unlock({ password: `${user} password` });
  return protector;
}

tokenProtectorContract(test, 'pkcs12 (built in)', async (t) => ({
  protector: await protectorFor(t, 'alice'),
  otherUser: await protectorFor(t, 'bob'),
}));
