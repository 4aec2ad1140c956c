import { readFile } from 'node:fs/promises';
import { directoryStoreContract, policySourceContract } from '@credroam/core/testing';
import test from 'ava';
import { Attribute, Change, Client } from 'ldapts';
import { ldapPolicySource } from '../src/index.js';
import { ADMIN_DN, ADMIN_PASSWORD, type Slapd, startProviders, userDn } from '../src/testing/slapd.js';
import { storeFor } from './support/stores.js';

// The testing kit's contract suites (@credroam/core/testing), the ones third-party plugins run,
// against a real slapd: the directory store and the policy source. Each subject gets a user entry
// nobody wrote to.

const USERS = Array.from({ length: 40 }, (_, i) => `contract${i}`);
let server: Slapd;
let stop: () => Promise<void>;
let next = 0;
const freshUser = () => {
  const user = USERS[next++];
  if (!user) throw new Error('more subjects than prepared users: add to USERS');
  return user;
};

test.before(async () => {
  const started = await startProviders(1, { users: USERS });
  server = started.servers[0]!;
  stop = started.stop;
});
test.after.always(async () => {
  await stop?.();
});

directoryStoreContract(test, 'ldap', async (t) => {
  const user = freshUser();
  const store = storeFor(server, user);
  const other = storeFor(server, user);
  t.teardown(async () => {
    await store.close();
    await other.close();
  });
  return { store, other };
});

/** The policy source the agent makes for `uid`: its own entry's bundle, bound as that user over LDAPS. */
const sourceFor = (uid: string) =>
  ldapPolicySource({
    user: uid,
    home: server.dir,
    settings: { url: server.ldapsUrl, caFile: server.tls.ca, bind: 'simple', userDn: userDn(uid) },
    policy: { trustWithPassword: true },
    password: async () => `${uid} password`,
  });

/** Writes `bundle` into `uid`'s entry as the directory's administrator. */
async function publish(uid: string, bundle: Uint8Array): Promise<void> {
  const c = new Client({ url: server.ldapsUrl, tlsOptions: { ca: await readFile(server.tls.ca) } });
  await c.bind(ADMIN_DN, ADMIN_PASSWORD);
  try {
    await c.modify(
      userDn(uid),
      new Change({
        operation: 'add',
        modification: new Attribute({ type: 'objectClass', values: ['credroamUser'] }),
      }),
    );
    await c.modify(
      userDn(uid),
      new Change({
        operation: 'replace',
        modification: new Attribute({ type: 'credroamPolicyBundle', values: [Buffer.from(bundle)] }),
      }),
    );
  } finally {
    await c.unbind();
  }
}

policySourceContract(test, 'ldap', async () => ({
  holding: async (bytes) => {
    const user = freshUser();
    await publish(user, bytes);
    return sourceFor(user);
  },
  empty: async () => sourceFor(freshUser()),
}));
