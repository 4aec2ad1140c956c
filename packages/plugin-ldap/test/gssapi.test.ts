import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import test from 'ava';
import { BerWriter, ProtocolOperation } from 'ldapts';
import { type Kdc, LDAP_HOST, startKdc } from '../src/testing/kdc.js';
import { receivedBytes, type Slapd, settledLog, startProviders, userDn } from '../src/testing/slapd.js';
import { dec, enc, storeFor } from './support/stores.js';

/**
 * SASL GSSAPI against a real MIT KDC and a real slapd with Cyrus SASL GSSAPI, both on loopback.
 * The Kerberos library reads KRB5_CONFIG and KRB5CCNAME from this process's environment, as it
 * would from a logged-on user's: the tests that change KRB5CCNAME run serially, before the others.
 */
let kdc: Kdc;
let server: Slapd;
let stop: () => Promise<void>;
let aliceCache: string;

test.before(async () => {
  kdc = await startKdc({ users: ['alice'] });
  const started = await startProviders(1, {
    users: ['alice', 'carol'],
    kerberos: { realm: kdc.realm, host: LDAP_HOST, keytab: kdc.ldapKeytab, env: kdc.env },
    debug: ['packets'],
  });
  server = started.servers[0]!;
  stop = started.stop;
  aliceCache = await kdc.kinit('alice');
  Object.assign(process.env, kdc.env, { KRB5CCNAME: aliceCache });
});
test.after.always(async () => {
  await stop?.();
  await kdc?.stop();
});

const gssapi = (uid: string, url = server.ldapsUrl) =>
  storeFor(server, uid, { url, bind: 'gssapi', tlsServerName: LDAP_HOST, trustWithPassword: false });

/** slapd's `stats` lines about binds. */
async function bindLines(): Promise<string[]> {
  return (await settledLog(server)).split('\n').filter((l) => / BIND /.test(l));
}

test.serial(
  'without a Kerberos ticket, a GSSAPI bind fails with an error naming Kerberos and kinit',
  async (t) => {
    process.env.KRB5CCNAME = `FILE:${path.join(kdc.dir, 'no-ticket.ccache')}`;
    t.teardown(() => {
      process.env.KRB5CCNAME = aliceCache;
    });
    const s = gssapi('alice');
    t.teardown(() => s.close());
    const error = await t.throwsAsync(s.read(), { code: 'E_KERBEROS' } as never);
    t.regex(error!.message, /Kerberos could not authenticate to the directory as ldap@ldap\.test/);
    t.regex(error!.message, /run kinit/);
  },
);

test.serial('a service the KDC does not know: the error names it and the setting to fix', async (t) => {
  const s = storeFor(server, 'alice', {
    bind: 'gssapi',
    tlsServerName: LDAP_HOST,
    kerberosService: 'ldap@nowhere.test',
    trustWithPassword: false,
  });
  t.teardown(() => s.close());
  const error = await t.throwsAsync(s.read(), { code: 'E_KERBEROS' } as never);
  t.regex(error!.message, /ldap@nowhere\.test.*set kerberosService/);
});

test('SASL GSSAPI with the user’s ticket reads and writes the user’s entry, over LDAPS and StartTLS; slapd binds it as that entry', async (t) => {
  for (const url of [server.ldapsUrl, server.ldapUrl]) {
    const s = gssapi('alice', url);
    t.teardown(() => s.close());
    const snap = await s.read();
    await s.write({
      tokens: { remove: [], add: [enc(`by kerberos over ${url}`)] },
      stamp: { remove: snap.stamp, add: [enc(url)] },
    });
  }
  const s = gssapi('alice');
  t.teardown(() => s.close());
  t.deepEqual(dec((await s.read()).tokens), [
    `by kerberos over ${server.ldapUrl}`,
    `by kerberos over ${server.ldapsUrl}`,
  ]);
  const binds = await bindLines();
  t.true(binds.some((l) => l.includes(`BIND dn="${userDn('alice')}" mech=GSSAPI`)));
  t.false(
    binds.some((l) => l.includes(`BIND dn="${userDn('alice')}" method=128`)),
    'no simple bind as alice',
  );
});

test('a GSSAPI bind sends no password: slapd received none, while a simple bind’s password is plainly there', async (t) => {
  // The store is given a roaming password, as the agent gives it; a GSSAPI bind has no use for it.
  const alice = storeFor(server, 'alice', {
    bind: 'gssapi',
    tlsServerName: LDAP_HOST,
    trustWithPassword: false,
    password: 'alice ROAMING secret',
  });
  t.teardown(() => alice.close());
  await alice.read();
  // The control: a simple bind (the policy trusting the directory), whose password the capture must show.
  const carol = storeFor(server, 'carol', { password: 'carol password' });
  t.teardown(() => carol.close());
  await carol.read();
  const received = await receivedBytes(server);
  t.true(received.includes(Buffer.from('carol password')), 'the capture sees a simple bind’s password');
  t.true(received.includes(Buffer.from('GSSAPI')), 'and the GSSAPI binds');
  t.false(received.includes(Buffer.from('alice ROAMING secret')));
});

test('a server that says the GSSAPI bind succeeded before it proved itself (no mutual authentication, no security-layer offer): refused, E_BIND', async (t) => {
  // A man in the middle the CA trusts, without the directory's keytab: it cannot answer the
  // ticket, so it answers the first step with success.
  let asked = 0;
  const fake = tls.createServer(
    { cert: await readFile(server.tls.cert), key: await readFile(server.tls.key) },
    (socket) => {
      socket.on('error', () => undefined);
      socket.on('data', (data: Buffer) => {
        const at = data[1]! & 0x80 ? 2 + (data[1]! & 0x7f) : 2;
        const id = data.subarray(at + 2, at + 2 + data[at + 1]!).reduce((n, b) => n * 256 + b, 0);
        const op = data.includes(Buffer.from('GSSAPI'))
          ? ProtocolOperation.LDAP_RES_BIND
          : ProtocolOperation.LDAP_RES_SEARCH;
        if (op !== ProtocolOperation.LDAP_RES_BIND) asked++;
        const w = new BerWriter();
        w.startSequence();
        w.writeInt(id);
        w.startSequence(op);
        w.writeEnumeration(0);
        w.writeString('');
        w.writeString('');
        w.endSequence();
        w.endSequence();
        socket.write(Buffer.from(w.buffer));
      });
    },
  );
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => fake.close(() => resolve())));
  const s = gssapi('alice', `ldaps://127.0.0.1:${(fake.address() as AddressInfo).port}`);
  t.teardown(() => s.close());
  const error = await t.throwsAsync(s.read(), { code: 'E_BIND' } as never);
  t.regex(error!.message, /before .*authenticat/);
  t.is(asked, 0, 'nothing but the bind was sent');
});
