import { directoryStoreContract } from '@credroam/core/testing';
import test from 'ava';
import { type Slapd, startProviders } from '../src/testing/slapd.js';
import { storeFor } from './support/stores.js';

// The testing kit's DirectoryStore contract (@credroam/core/testing), the suite third-party
// directory stores run, against a real slapd: each subject gets a user entry nobody wrote to.

const USERS = Array.from({ length: 16 }, (_, i) => `contract${i}`);
let server: Slapd;
let stop: () => Promise<void>;
let next = 0;

test.before(async () => {
  const started = await startProviders(1, { users: USERS });
  server = started.servers[0]!;
  stop = started.stop;
});
test.after.always(async () => {
  await stop?.();
});

directoryStoreContract(test, 'ldap', async (t) => {
  const user = USERS[next++];
  if (!user) throw new Error('more subjects than prepared users: add to USERS');
  const store = storeFor(server, user);
  const other = storeFor(server, user);
  t.teardown(async () => {
    await store.close();
    await other.close();
  });
  return { store, other };
});
