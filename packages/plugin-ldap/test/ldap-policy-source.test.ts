import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { POLICY_BUNDLE_MAX_BYTES } from '@credroam/core/api';
import test from 'ava';
import { Attribute, Change, Client } from 'ldapts';
import { type LdapPolicySourceSettings, ldapPolicySource } from '../src/index.js';
import {
  ADMIN_DN,
  ADMIN_PASSWORD,
  freePort,
  makeTls,
  type Slapd,
  SUFFIX,
  startProviders,
  userDn,
} from '../src/testing/slapd.js';

const run = promisify(execFile);
const SITE_DN = `ou=people,${SUFFIX}`;
const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace'];
let server: Slapd;
let stop: () => Promise<void>;

test.before(async () => {
  const started = await startProviders(1, { users: USERS });
  server = started.servers[0]!;
  stop = started.stop;
});
test.after.always(async () => {
  await stop?.();
});

/** The policy source the agent makes for `uid` (bound as that user, over LDAPS), with `overrides`. */
function sourceFor(uid: string, overrides: Partial<LdapPolicySourceSettings> & Record<string, unknown> = {}) {
  return ldapPolicySource({
    user: uid,
    home: server.dir,
    settings: {
      url: server.ldapsUrl,
      caFile: server.tls.ca,
      bind: 'simple',
      userDn: userDn(uid),
      ...overrides,
    },
    policy: { trustWithPassword: true },
    password: async () => `${uid} password`,
  });
}

async function admin(): Promise<Client> {
  const { readFile } = await import('node:fs/promises');
  const c = new Client({ url: server.ldapsUrl, tlsOptions: { ca: await readFile(server.tls.ca) } });
  await c.bind(ADMIN_DN, ADMIN_PASSWORD);
  return c;
}

/** Sets `attribute` of `dn` to `values` as the directory's administrator (adding `objectClass` first when given). */
async function put(dn: string, values: Buffer[], options: { objectClass?: string; attribute?: string } = {}) {
  const c = await admin();
  try {
    if (options.objectClass) {
      await c
        .modify(
          dn,
          new Change({
            operation: 'add',
            modification: new Attribute({ type: 'objectClass', values: [options.objectClass] }),
          }),
        )
        .catch((error: { code?: number }) => {
          if (error.code !== 20) throw error; // already there
        });
    }
    await c.modify(
      dn,
      new Change({
        operation: 'replace',
        modification: new Attribute({ type: options.attribute ?? 'credroamPolicyBundle', values }),
      }),
    );
  } finally {
    await c.unbind();
  }
}

/** The ldapmodify an administrator runs (docs/admin/policy-sources.md): a binary value from a file. */
async function ldapmodifyFromFile(dn: string, file: string, objectClass: string): Promise<void> {
  const ldif = path.join(server.dir, `${path.basename(file)}.ldif`);
  await writeFile(
    ldif,
    `dn: ${dn}\nchangetype: modify\nadd: objectClass\nobjectClass: ${objectClass}\n-\nreplace: credroamPolicyBundle\ncredroamPolicyBundle:< file://${file}\n-\n`,
  );
  const pw = path.join(server.dir, 'admin.pw');
  await writeFile(pw, ADMIN_PASSWORD, { mode: 0o600 });
  await run('ldapmodify', ['-H', server.ldapsUrl, '-x', '-D', ADMIN_DN, '-y', pw, '-f', ldif], {
    env: { ...process.env, LDAPTLS_CACERT: server.tls.ca },
  });
}

test('the site entry (policyDn): a binary bundle written with ldapmodify from a file comes back byte for byte', async (t) => {
  // Every byte value, and a random body: nothing is decoded, trimmed or re-encoded on the way.
  const bundle = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(20_000)]);
  const file = path.join(server.dir, 'site-bundle.p7b');
  await writeFile(file, bundle);
  await ldapmodifyFromFile(SITE_DN, file, 'credroamSite');
  const fetched = await sourceFor('alice', { policyDn: SITE_DN }).fetch();
  t.true(fetched instanceof Uint8Array);
  t.true(Buffer.from(fetched!).equals(bundle));
  // Again: each fetch connects and binds anew (nothing is kept open in between).
  t.true(Buffer.from((await sourceFor('alice', { policyDn: SITE_DN }).fetch())!).equals(bundle));
});

test("the user's own entry, without policyDn; an entry without the attribute holds no bundle (undefined)", async (t) => {
  const bundle = randomBytes(1000);
  await put(userDn('bob'), [bundle], { objectClass: 'credroamUser' });
  t.true(Buffer.from((await sourceFor('bob').fetch())!).equals(bundle));
  t.is(await sourceFor('carol').fetch(), undefined);
  // The user found by base and filter, as the directory store finds it.
  const found = await sourceFor('bob', {
    userDn: undefined,
    base: SUFFIX,
    filter: '(uid={user})',
    bindDn: userDn('bob'),
  }).fetch();
  t.true(Buffer.from(found!).equals(bundle));
});

test('a bundle of exactly the bound is handed over; one byte more is refused (E_POLICY_TOO_LARGE), never cut', async (t) => {
  const dn = userDn('dave');
  const exact = randomBytes(POLICY_BUNDLE_MAX_BYTES);
  await put(dn, [exact], { objectClass: 'credroamUser' });
  t.true(Buffer.from((await sourceFor('dave').fetch())!).equals(exact));
  await put(dn, [randomBytes(POLICY_BUNDLE_MAX_BYTES + 1)]);
  await t.throwsAsync(sourceFor('dave').fetch(), {
    code: 'E_POLICY_TOO_LARGE',
    message: new RegExp(
      `holds ${POLICY_BUNDLE_MAX_BYTES + 1} bytes, more than the ${POLICY_BUNDLE_MAX_BYTES}`,
    ),
  } as never);
});

test('the schema keeps one value (SINGLE-VALUE); an attribute that holds two (a site schema override) is ambiguous: none is picked', async (t) => {
  const c = await admin();
  t.teardown(() => c.unbind());
  const second = new Change({
    operation: 'add',
    modification: new Attribute({ type: 'credroamPolicyBundle', values: [Buffer.from('second')] }),
  });
  await put(userDn('erin'), [Buffer.from('first')], { objectClass: 'credroamUser' });
  const refused = await t.throwsAsync(c.modify(userDn('erin'), second));
  t.regex(refused!.message, /multiple values|single-value/i);
  t.is(Buffer.from((await sourceFor('erin').fetch())!).toString(), 'first');
  // A multi-valued attribute named as the policy attribute: two values, an error naming the entry.
  await put(userDn('erin'), [Buffer.from('one'), Buffer.from('two')], { attribute: 'credroamToken' });
  await t.throwsAsync(sourceFor('erin', { policyAttribute: 'credroamToken' }).fetch(), {
    code: 'E_POLICY_AMBIGUOUS',
    message: new RegExp(`${userDn('erin')} holds 2 values of credroamToken`),
  } as never);
});

test('attacker: a user cannot write the policy bundle, on the site entry nor on their own entry (ACL)', async (t) => {
  const { LdapSession } = await import('../src/index.js');
  const session = new LdapSession(
    {
      url: server.ldapsUrl,
      caFile: server.tls.ca,
      bind: 'simple',
      profile: 'openldap',
      timeoutMs: 10_000,
      maxRequestBytes: 4_000_000,
    },
    async () => ({ dn: userDn('frank'), password: async () => 'frank password' }),
  );
  t.teardown(() => session.close());
  const write = (dn: string) =>
    session.run(
      (c) =>
        c.modify(
          dn,
          new Change({
            operation: 'replace',
            modification: new Attribute({ type: 'credroamPolicyBundle', values: [Buffer.from('forged')] }),
          }),
        ),
      { dn },
    );
  await put(userDn('frank'), [Buffer.from('signed')], { objectClass: 'credroamUser' });
  await t.throwsAsync(write(userDn('frank')), { code: 'E_ACCESS' } as never);
  await t.throwsAsync(write(SITE_DN), { code: 'E_ACCESS' } as never);
  t.is(Buffer.from((await sourceFor('frank').fetch())!).toString(), 'signed');
});

test('a policyDn that does not exist is an error naming it (E_NO_ENTRY), not "no bundle"', async (t) => {
  await t.throwsAsync(sourceFor('grace', { policyDn: `ou=nowhere,${SUFFIX}` }).fetch(), {
    code: 'E_NO_ENTRY',
    message: /ou=nowhere/,
  } as never);
});

test('a server nobody answers on: E_UNREACHABLE', async (t) => {
  const port = await freePort();
  await t.throwsAsync(sourceFor('grace', { url: `ldaps://127.0.0.1:${port}` }).fetch(), {
    code: 'E_UNREACHABLE',
  } as never);
});

test('an untrusted certificate or another host name is refused before any bind, over LDAPS and StartTLS', async (t) => {
  const other = await makeTls(`${server.dir}/other-ca-policy`);
  await t.throwsAsync(sourceFor('grace', { caFile: other.ca }).fetch(), { code: 'E_TLS_UNTRUSTED' } as never);
  await t.throwsAsync(sourceFor('grace', { caFile: other.ca, url: server.ldapUrl }).fetch(), {
    code: 'E_TLS_UNTRUSTED',
  } as never);
  await t.throwsAsync(sourceFor('grace', { tlsServerName: 'ldap.elsewhere.test' }).fetch(), {
    code: 'E_TLS_HOSTNAME',
  } as never);
  t.is(await sourceFor('grace', { tlsServerName: 'ldap.test' }).fetch(), undefined);
});

test('settings: an entry to read is required, and what the store alone uses is refused', (t) => {
  const request = (settings: Record<string, unknown>) => ({
    user: 'grace',
    home: server.dir,
    settings: { url: server.ldapsUrl, caFile: server.tls.ca, bind: 'gssapi', ...settings },
    policy: {},
  });
  t.throws(() => ldapPolicySource(request({})), { code: 'E_CONFIG', message: /needs policyDn/ } as never);
  t.throws(() => ldapPolicySource(request({ policyDn: SITE_DN, maxRequestBytes: 100_000 })), {
    code: 'E_CONFIG',
    message: /maxRequestBytes/,
  } as never);
  t.throws(() => ldapPolicySource(request({ policyDn: SITE_DN, policyAttribute: 'a;b' })), {
    code: 'E_CONFIG',
  } as never);
  t.notThrows(() => ldapPolicySource(request({ policyDn: SITE_DN })));
});
