import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  type Kdc,
  LDAP_HOST,
  receivedBytes,
  type Slapd,
  settledLog,
  startKdc,
  startProviders,
  userDn,
} from '@credroam/plugin-ldap/testing';
import test from 'ava';
import { credroam, fingerprintOf, openssl, opensslP12, tempDir } from '../support.js';

/**
 * The roaming flow with Kerberos binds (R11): a real MIT KDC and a real slapd with Cyrus SASL
 * GSSAPI on loopback; slapd logs every request it reads (after TLS), so the tests see exactly
 * what the directory received.
 */
let kdc: Kdc;
let server: Slapd;
let stop: () => Promise<void>;

test.before(async () => {
  kdc = await startKdc({ users: ['alice', 'carol'] });
  const started = await startProviders(1, {
    users: ['alice', 'bob', 'carol'],
    kerberos: { realm: kdc.realm, host: LDAP_HOST, keytab: kdc.ldapKeytab, env: kdc.env },
    debug: ['packets'],
  });
  server = started.servers[0]!;
  stop = started.stop;
});
test.after.always(async () => {
  await stop?.();
  await kdc?.stop();
});

/** Two endpoints of `uid`: A over LDAPS, B over StartTLS, configured by `credroam init`. */
async function endpoints(
  t: Parameters<typeof tempDir>[0],
  uid: string,
  bind: readonly string[],
  policy: object,
) {
  const dir = await tempDir(t);
  await writeFile(path.join(dir, 'p12pw'), 'p12 secret');
  await writeFile(
    path.join(dir, 'policy.json'),
    JSON.stringify({ protection: { kdf: { name: 'scrypt', N: 16384, r: 8, p: 1 } }, ...policy }),
  );
  const urls = { a: server.ldapsUrl, b: server.ldapUrl };
  for (const e of ['a', 'b'] as const) {
    const r = await credroam([
      'init',
      '--config',
      path.join(dir, `${e}.json`),
      '--directory',
      urls[e],
      '--ca-file',
      server.tls.ca,
      '--tls-server-name',
      LDAP_HOST,
      '--user-dn',
      userDn(uid),
      ...bind,
      '--home',
      path.join(dir, e),
      '--user',
      uid,
      '--policy',
      path.join(dir, 'policy.json'),
    ]);
    if (r.code !== 0) throw new Error(r.stderr);
  }
  return {
    dir,
    run: (e: 'a' | 'b', args: readonly string[], env: NodeJS.ProcessEnv = {}) =>
      credroam(['--config', path.join(dir, `${e}.json`), ...args], { cwd: dir, env }),
  };
}

test('the roaming flow with a Kerberos bind never sends the roaming password: slapd received neither it nor a simple bind', async (t) => {
  const env = { ...kdc.env, KRB5CCNAME: await kdc.kinit('alice') };
  const w = await endpoints(t, 'alice', ['--bind', 'gssapi'], {});
  const password = 'alice ROAMING password, never for the directory';
  await writeFile(path.join(w.dir, 'pw'), `${password}\n`);
  const pw = ['--password-file', path.join(w.dir, 'pw')];

  const logon = await w.run('a', ['logon', ...pw], env);
  t.is(logon.code, 0, logon.stderr);
  const cred = await opensslP12(w.dir);
  t.is((await w.run('a', ['import', cred.file, '--passin', 'file:p12pw', ...pw], env)).code, 0);
  const sync = await w.run('a', ['sync', ...pw, '--json'], env);
  t.is(sync.code, 0, sync.stderr);
  t.like(JSON.parse(sync.stdout), { counts: { uploaded: 2 } });
  const b = await w.run('b', ['logon', ...pw, '--json'], env);
  t.is(b.code, 0, b.stderr);
  t.like(JSON.parse(b.stdout), { counts: { downloaded: 2 } });
  const exported = await w.run(
    'b',
    ['export', cred.fingerprint, '--out', 'b.p12', '--passout', 'file:p12pw', ...pw],
    env,
  );
  t.is(exported.code, 0, exported.stderr);
  await openssl(['pkcs12', '-in', 'b.p12', '-passin', 'file:p12pw', '-nokeys', '-out', 'b.pem'], w.dir);
  t.is(
    fingerprintOf(await openssl(['x509', '-in', 'b.pem', '-noout', '-fingerprint', '-sha256'], w.dir)),
    cred.fingerprint,
    'the private key roamed with its certificate, through a directory that never got the password',
  );

  const doctor = await w.run('a', ['doctor', '--json'], env);
  t.is(doctor.code, 0, doctor.stdout);
  t.like(
    (JSON.parse(doctor.stdout) as { checks: Array<{ check: string }> }).checks.find(
      (c) => c.check === 'bind',
    ),
    { ok: true, detail: 'SASL GSSAPI with the Kerberos ticket', warning: undefined },
  );

  const log = await settledLog(server);
  const aliceBinds = log.split('\n').filter((l) => / BIND dn="uid=alice,[^"]*" (mech|method)=/.test(l));
  t.true(aliceBinds.length >= 5, `each command bound (${aliceBinds.length})`);
  t.true(
    aliceBinds.every((l) => l.includes(`BIND dn="${userDn('alice')}" mech=GSSAPI`)),
    aliceBinds.join('\n'),
  );
  const received = await receivedBytes(server);
  t.false(received.includes(Buffer.from(password)), 'the roaming password never reached the directory');
  t.false(received.includes(Buffer.from('alice ROAMING')));
});

test('the capture sees a password bind: with a site policy that trusts the directory, the roaming password is what the directory receives', async (t) => {
  const w = await endpoints(t, 'bob', ['--bind', 'simple'], { directory: { trustWithPassword: true } });
  await writeFile(path.join(w.dir, 'pw'), 'bob password\n'); // bob's directory password is his roaming password
  const logon = await w.run('a', ['logon', '--password-file', path.join(w.dir, 'pw')]);
  t.is(logon.code, 0, logon.stderr);
  t.true((await receivedBytes(server)).includes(Buffer.from('bob password')));
  t.true((await settledLog(server)).includes(`BIND dn="${userDn('bob')}" method=128`));
});

test('without a Kerberos ticket, logon fails with an error that names Kerberos and kinit; after kinit it works', async (t) => {
  const w = await endpoints(t, 'carol', ['--bind', 'gssapi'], {});
  await writeFile(path.join(w.dir, 'pw'), 'carol roaming\n');
  const pw = ['--password-file', path.join(w.dir, 'pw')];
  const none = { ...kdc.env, KRB5CCNAME: `FILE:${path.join(w.dir, 'no-ticket')}` };
  const refused = await w.run('a', ['logon', ...pw], none);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /Kerberos could not authenticate to the directory as ldap@ldap\.test/);
  t.regex(refused.stderr, /get a Kerberos ticket first: run kinit .*\[E_KERBEROS\]/);
  const doctor = await w.run('a', ['doctor', '--json'], none);
  t.is(doctor.code, 1);
  t.like((JSON.parse(doctor.stdout) as { checks: object[] }).checks.at(-1), {
    check: 'bind',
    ok: false,
    fix: 'get a Kerberos ticket (kinit, or a Kerberos logon); check krb5.conf and kerberosService',
  });
  const withTicket = await w.run('a', ['logon', ...pw], { ...kdc.env, KRB5CCNAME: await kdc.kinit('carol') });
  t.is(withTicket.code, 0, withTicket.stderr);
});
