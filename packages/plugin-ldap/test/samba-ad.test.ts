import { readFile } from 'node:fs/promises';
import { ConflictError } from '@credroam/core/api';
import { MemoryLocalStore, makeEngine } from '@credroam/core/testing';
import test from 'ava';
import { Attribute, Change, Client } from 'ldapts';
import { AD, LdapDirectoryStore, LdapSession, type LdapSettings } from '../src/index.js';
import { AD_REALM, type SambaDc, startSambaDc } from '../src/testing/samba.js';
import { dec, enc } from './support/stores.js';

/** The `ad` profile against a real Samba AD DC; small, one user per test (Samba slows with many large linked values). */
let dc: SambaDc;

test.before(async () => {
  dc = await startSambaDc({ users: ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'] });
});
test.after.always(async () => {
  await dc?.stop();
});

function storeFor(user: string, bindAs = user, rangeSize?: number): LdapDirectoryStore {
  const settings: LdapSettings = {
    ...(rangeSize ? { rangeSize } : {}),
    url: dc.ldapsUrl,
    caFile: dc.tls.ca,
    bind: 'simple',
    profile: 'ad',
    timeoutMs: 10_000,
    maxRequestBytes: 4_000_000,
  };
  const session = new LdapSession(settings, async () => ({
    dn: `${bindAs}@${AD_REALM}`,
    password: async () => dc.password(bindAs),
  }));
  return new LdapDirectoryStore(
    session,
    AD,
    { dn: dc.userDn(user), name: user },
    settings.maxRequestBytes,
    settings.rangeSize,
  );
}

async function admin(): Promise<Client> {
  const c = new Client({ url: dc.ldapsUrl, tlsOptions: { ca: await readFile(dc.tls.ca) } });
  await c.bind(`Administrator@${AD_REALM}`, dc.adminPassword);
  return c;
}

test('the ad profile stores DN-binary values B:<count>:<HEX>:<own DN> in linked attributes and reads them back', async (t) => {
  const s = storeFor('alice');
  t.teardown(() => s.close());
  await s.write({
    tokens: { remove: [], add: [new Uint8Array([0, 1, 255]), enc('t2')] },
    stamp: { remove: [], add: [enc('s1')] },
  });
  t.deepEqual((await s.read()).tokens.map((v) => Buffer.from(v).toString('hex')).sort(), ['0001ff', '7432']);
  const c = await admin();
  t.teardown(() => c.unbind());
  const { searchEntries } = await c.search(dc.userDn('alice'), {
    scope: 'base',
    attributes: ['credroamToken'],
  });
  const raw = ([] as string[]).concat(searchEntries[0]!.credroamToken as string[]).sort();
  t.deepEqual(raw, [`B:4:7432:${dc.userDn('alice')}`, `B:6:0001FF:${dc.userDn('alice')}`]);
  const schema = await c.search(
    `CN=credroam-Token,CN=Schema,CN=Configuration,${dc.userDn('x').split(',').slice(2).join(',')}`,
    {
      scope: 'base',
      attributes: ['linkID'],
    },
  );
  t.is(Number(schema.searchEntries[0]!.linkID) % 2, 0, 'a forward link: replicated value by value');
});

test('compare-and-swap on Samba: a value to remove that is gone fails and nothing applies', async (t) => {
  const s = storeFor('carol');
  t.teardown(() => s.close());
  await s.write({ tokens: { remove: [], add: [enc('t1')] }, stamp: { remove: [], add: [enc('s1')] } });
  const error = await t.throwsAsync(
    s.write({
      tokens: { remove: [enc('t1')], add: [enc('t2')] },
      stamp: { remove: [enc('stale')], add: [enc('s2')] },
    }),
  );
  t.true(error instanceof ConflictError);
  t.deepEqual(dec((await s.read()).tokens), ['t1']);
});

test('a user writes only their own values: another user’s entry is refused', async (t) => {
  const s = storeFor('alice', 'bob');
  t.teardown(() => s.close());
  await t.throwsAsync(
    s.write({ tokens: { remove: [], add: [enc('planted')] }, stamp: { remove: [], add: [enc('x')] } }),
    { code: 'E_ACCESS' } as never,
  );
});

test('Samba refuses a value naming a DN that does not exist (19), and a simple bind without TLS (8)', async (t) => {
  const c = await admin();
  t.teardown(() => c.unbind());
  const bogus = `B:4:ABCD:CN=nobody,CN=Users,${dc.userDn('x').split(',').slice(2).join(',')}`;
  const error = await t.throwsAsync(
    c.modify(dc.userDn('erin'), [
      new Change({
        operation: 'add',
        modification: new Attribute({ type: 'credroamToken', values: [bogus] }),
      }),
    ]),
  );
  t.is((error as { code?: number }).code, 19);
  const plain = new Client({ url: dc.ldapUrl });
  t.teardown(() => plain.unbind().catch(() => undefined));
  const refused = await t.throwsAsync(plain.bind(`erin@${AD_REALM}`, dc.password('erin')));
  t.is((refused as { code?: number }).code, 8);
});

test('two endpoints roam through Samba AD with the real engine', async (t) => {
  const [da, db] = [storeFor('dave'), storeFor('dave')];
  t.teardown(() => Promise.all([da.close(), db.close()]));
  const aLocal = new MemoryLocalStore();
  const bLocal = new MemoryLocalStore();
  const a = makeEngine({ directory: da, local: aLocal, user: 'dave' });
  const b = makeEngine({ directory: db, local: bLocal, user: 'dave' });
  aLocal.userPut('cert', 'roamer', 'v1');
  aLocal.userPut('key', 'roamer', 'k1');
  t.like(await a.engine.sync(), { counts: { uploaded: 2 } });
  t.like(await b.engine.sync(), { counts: { downloaded: 2 } });
  t.deepEqual([...bLocal.items.keys()].sort(), [...aLocal.items.keys()].sort());
  t.deepEqual(
    (await b.engine.sync()).changes,
    [],
    'the first sync after a download settles with nothing to do',
  );
  t.is((await b.engine.sync()).outcome, 'unchanged', 'then the stamp check alone');
});

test('values are read in ranges (attr;range=0-9, then the next ten, ...) until the server says the last', async (t) => {
  const writer = storeFor('frank');
  t.teardown(() => writer.close());
  const values = Array.from({ length: 25 }, (_, i) => enc(`v${i}`));
  await writer.write({ tokens: { remove: [], add: values }, stamp: { remove: [], add: [enc('s1')] } });
  const c = await admin();
  t.teardown(() => c.unbind());
  const first = await c.search(dc.userDn('frank'), {
    scope: 'base',
    attributes: ['credroamToken;range=0-9'],
  });
  t.deepEqual(
    Object.keys(first.searchEntries[0]!).filter((k) => k !== 'dn'),
    ['credroamToken;range=0-9'],
    'the server answers in ranges',
  );
  const ranged = storeFor('frank', 'frank', 10);
  t.teardown(() => ranged.close());
  t.deepEqual(dec((await ranged.read()).tokens), dec(values));
});

test('the policy bundle on the domain object (credroamSite, octet string): written by an administrator, read byte for byte by a user, who cannot write it', async (t) => {
  const { ldapPolicySource } = await import('../src/index.js');
  const { randomBytes } = await import('node:crypto');
  const bundle = Buffer.concat([Buffer.from([0, 0x0a, 0x0d, 0xff, 0x80]), randomBytes(40_000)]);
  const domain = dc.userDn('x').split(',').slice(2).join(',');
  const c = await admin();
  t.teardown(() => c.unbind());
  const source = (policyDn?: string) =>
    ldapPolicySource({
      user: 'bob',
      home: dc.dir,
      settings: {
        url: dc.ldapsUrl,
        caFile: dc.tls.ca,
        bind: 'simple',
        profile: 'ad',
        userDn: dc.userDn('bob'),
        bindDn: `bob@${AD_REALM}`,
        ...(policyDn ? { policyDn } : {}),
      },
      policy: { trustWithPassword: true },
      password: async () => dc.password('bob'),
    });
  t.is(await source(domain).fetch(), undefined);
  const put = (values: Buffer[]) =>
    new Change({
      operation: 'replace',
      modification: new Attribute({ type: 'credroamPolicyBundle', values }),
    });
  await c.modify(domain, put([bundle]));
  t.true(Buffer.from((await source(domain).fetch())!).equals(bundle));
  // The schema's bounds: one value, at most 256 KiB (rangeUpper).
  await t.throwsAsync(c.modify(domain, put([Buffer.from('a'), Buffer.from('b')])));
  await t.throwsAsync(c.modify(domain, put([randomBytes(262_145)])));
  t.true(Buffer.from((await source(domain).fetch())!).equals(bundle));
  // A user writes it neither on the domain object nor on their own entry.
  const { LdapSession } = await import('../src/index.js');
  const bob = new LdapSession(
    {
      url: dc.ldapsUrl,
      caFile: dc.tls.ca,
      bind: 'simple',
      profile: 'ad',
      timeoutMs: 10_000,
      maxRequestBytes: 4_000_000,
    },
    async () => ({ dn: `bob@${AD_REALM}`, password: async () => dc.password('bob') }),
  );
  t.teardown(() => bob.close());
  for (const dn of [domain, dc.userDn('bob')]) {
    await t.throwsAsync(
      bob.run((s) => s.modify(dn, put([Buffer.from('forged')])), { dn }),
      {
        code: 'E_ACCESS',
      } as never,
    );
  }
  t.is(await source().fetch(), undefined);
  t.true(Buffer.from((await source(domain).fetch())!).equals(bundle));
});
