import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  ADMIN_DN,
  ADMIN_PASSWORD,
  makeClientCert,
  type Slapd,
  settledLog,
  startProviders,
  userDn,
} from '@credroam/plugin-ldap/testing';
import test from 'ava';
import { credroam, fingerprintOf, openssl, opensslP12, tempDir } from '../support.js';

let servers: Slapd[];
let stop: () => Promise<void>;

test.before(async () => {
  const started = await startProviders(2, {
    users: ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'hank', 'ivan'],
    passwords: { alice: 'alice account password' },
  });
  servers = started.servers;
  stop = started.stop;
});
test.after.always(async () => {
  await stop?.();
});

async function endpoints(t: Parameters<typeof tempDir>[0], uid: string) {
  const dir = await tempDir(t);
  await writeFile(
    path.join(dir, 'pw'),
    `${uid === 'alice' ? 'alice account password' : `${uid} password`}\n`,
  );
  await writeFile(path.join(dir, 'p12pw'), 'p12 secret');
  // These endpoints bind with the roaming password: the site policy says it trusts the directory with it.
  await writeFile(
    path.join(dir, 'policy.json'),
    JSON.stringify({
      protection: { kdf: { name: 'scrypt', N: 16384, r: 8, p: 1 } },
      directory: { trustWithPassword: true },
    }),
  );
  // A over LDAPS to the first provider, B over StartTLS to the second.
  const urls = { a: servers[0]!.ldapsUrl, b: servers[1]!.ldapUrl };
  for (const e of ['a', 'b'] as const) {
    const r = await credroam([
      'init',
      '--config',
      path.join(dir, `${e}.json`),
      '--directory',
      urls[e],
      '--ca-file',
      servers[0]!.tls.ca,
      '--user-dn',
      userDn(uid),
      '--bind',
      'simple',
      '--home',
      path.join(dir, e),
      '--user',
      uid,
      '--policy',
      path.join(dir, 'policy.json'),
    ]);
    if (r.code !== 0) throw new Error(r.stderr);
  }
  const on = (e: 'a' | 'b') => (args: readonly string[], input?: string) =>
    credroam(['--config', path.join(dir, `${e}.json`), ...args], {
      cwd: dir,
      ...(input !== undefined ? { input } : {}),
    });
  return { dir, a: on('a'), b: on('b'), pw: ['--password-file', path.join(dir, 'pw')] as const };
}

test('a credential roams from A (LDAPS, provider 1) to B (StartTLS, provider 2); the bind uses the account password', async (t) => {
  const w = await endpoints(t, 'alice');
  const cred = await opensslP12(w.dir);
  const logon = await w.a(['logon', ...w.pw]);
  t.is(logon.code, 0, logon.stderr);
  t.is((await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);
  const sync = await w.a(['sync', ...w.pw, '--json']);
  t.like(JSON.parse(sync.stdout), { counts: { uploaded: 2 } });
  let arrived = false;
  for (let i = 0; i < 40 && !arrived; i++) {
    const r = await w.b(['logon', ...w.pw, '--json']);
    t.is(r.code, 0, r.stderr);
    arrived = (JSON.parse(r.stdout) as { counts?: { downloaded: number } }).counts?.downloaded === 2;
    if (!arrived) await new Promise((res) => setTimeout(res, 100));
  }
  t.true(arrived, 'the credential reached B through the second provider');
  const exported = await w.b([
    'export',
    cred.fingerprint,
    '--out',
    'b.p12',
    '--passout',
    'file:p12pw',
    ...w.pw,
  ]);
  t.is(exported.code, 0, exported.stderr);
  await openssl(['pkcs12', '-in', 'b.p12', '-passin', 'file:p12pw', '-nokeys', '-out', 'b.pem'], w.dir);
  t.is(
    fingerprintOf(await openssl(['x509', '-in', 'b.pem', '-noout', '-fingerprint', '-sha256'], w.dir)),
    cred.fingerprint,
  );
});

test('doctor passes on a healthy setup, warns about a bind with the roaming password, and names what to fix otherwise', async (t) => {
  const w = await endpoints(t, 'bob');
  const ok = await w.a(['doctor', ...w.pw, '--json']);
  t.is(ok.code, 0, ok.stdout + ok.stderr);
  const report = JSON.parse(ok.stdout) as {
    ok: boolean;
    checks: Array<{ check: string; ok: boolean; warning?: string }>;
  };
  t.true(report.ok);
  t.deepEqual(
    report.checks.map((c) => c.check),
    ['policy', 'store', 'destination', 'reachability', 'tls', 'bind', 'entry', 'schema', 'write'],
  );
  t.regex(
    report.checks.find((c) => c.check === 'bind')?.warning ?? '',
    /receives the roaming password, so whoever runs it can open every private key/,
  );
  t.deepEqual(
    report.checks.filter((c) => c.warning).map((c) => c.check),
    ['bind'],
  );
  const text = await w.a(['doctor', ...w.pw]);
  t.regex(text.stdout, /^WARN bind: simple bind over TLS with the roaming password\n {5}warning: /m);
  const wrong = await w.a(['doctor', '--password-stdin', '--json'], 'not the password');
  t.is(wrong.code, 1);
  const bad = JSON.parse(wrong.stdout) as { checks: Array<{ check: string; ok: boolean; fix?: string }> };
  t.like(bad.checks.at(-1), {
    check: 'bind',
    ok: false,
    fix: 'check the bind DN and password (or the bind password file)',
  });
});

test('an untrusted CA is refused: logon fails with a clear error naming the fix', async (t) => {
  const w = await endpoints(t, 'carol');
  const dir = await tempDir(t);
  await openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'k',
      '-out',
      'other-ca.pem',
      '-days',
      '1',
      '-subj',
      '/CN=other',
    ],
    dir,
  );
  const r = await credroam([
    'init',
    '--config',
    path.join(w.dir, 'c.json'),
    '--directory',
    servers[0]!.ldapsUrl,
    '--ca-file',
    path.join(dir, 'other-ca.pem'),
    '--user-dn',
    userDn('carol'),
    '--bind',
    'simple',
    '--home',
    path.join(w.dir, 'c'),
    '--user',
    'carol',
    '--policy',
    path.join(w.dir, 'policy.json'),
  ]);
  t.is(r.code, 0, r.stderr);
  const logon = await credroam(['--config', path.join(w.dir, 'c.json'), 'logon', ...w.pw]);
  t.is(logon.code, 1);
  t.regex(logon.stderr, /certificate is not trusted.*check caFile.*\[E_TLS_UNTRUSTED\]/);
});

test('the agent on an LDAP directory binds with the roaming password it got at logon and roams a store change', async (t) => {
  const w = await endpoints(t, 'dave');
  const started = await w.a(['logon', '--start-agent', ...w.pw, '--json']);
  t.is(started.code, 0, started.stderr);
  const cred = await opensslP12(w.dir, 'agent-ldap');
  t.is((await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);
  let arrived = false;
  for (let i = 0; i < 60 && !arrived; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const r = await w.b(['sync', ...w.pw, '--json']);
    arrived =
      r.code === 0 &&
      (
        JSON.parse((await w.b(['list', '--json'])).stdout) as { credentials: Array<{ sha256: string }> }
      ).credentials.some((c) => c.sha256 === cred.fingerprint);
  }
  t.true(arrived, 'the agent uploaded through LDAP, and B got it through the other provider');
});

test('a site that does not trust the directory with the password: init says so, logon and doctor refuse the bind before connecting and say what to do', async (t) => {
  const w = await endpoints(t, 'erin');
  await writeFile(
    path.join(w.dir, 'untrusting.json'),
    JSON.stringify({ protection: { kdf: { name: 'scrypt', N: 16384, r: 8, p: 1 } } }),
  );
  const init = await credroam([
    'init',
    '--config',
    path.join(w.dir, 'u.json'),
    '--directory',
    servers[0]!.ldapsUrl,
    '--ca-file',
    servers[0]!.tls.ca,
    '--user-dn',
    userDn('erin'),
    '--bind',
    'simple',
    '--home',
    path.join(w.dir, 'u'),
    '--user',
    'erin',
    '--policy',
    path.join(w.dir, 'untrusting.json'),
  ]);
  t.is(init.code, 0, init.stderr);
  t.regex(init.stdout, /warning: bind simple with the roaming password: the directory receives the password/);
  t.regex(
    init.stdout,
    /refuses this bind unless the site policy sets "directory": \{"trustWithPassword": true\}/,
  );
  const before = (await settledLog(servers[0]!)).split('\n').length;
  const logon = await credroam(['--config', path.join(w.dir, 'u.json'), 'logon', ...w.pw]);
  t.is(logon.code, 1);
  t.regex(logon.stderr, /refusing a simple bind .* with the roaming password.*\[E_BIND_UNTRUSTED\]/s);
  const doctor = await credroam(['--config', path.join(w.dir, 'u.json'), 'doctor', ...w.pw, '--json']);
  t.is(doctor.code, 1);
  const bind = (
    JSON.parse(doctor.stdout) as { checks: Array<{ check: string; ok: boolean; fix?: string }> }
  ).checks.at(-1);
  t.like(bind, { check: 'bind', ok: false });
  t.regex(bind?.fix ?? '', /"gssapi" \(Kerberos\) or "external" \(a client certificate\)/);
  const binds = (await settledLog(servers[0]!))
    .split('\n')
    .slice(before)
    .filter((l) => l.includes(`BIND dn="${userDn('erin')}"`));
  t.deepEqual(binds, [], 'the directory never saw a bind as erin');
});

test("init wants the bind chosen: it is the site's trust model", async (t) => {
  const dir = await tempDir(t);
  const r = await credroam([
    'init',
    '--config',
    path.join(dir, 'x.json'),
    '--directory',
    servers[0]!.ldapsUrl,
    '--ca-file',
    servers[0]!.tls.ca,
    '--user-dn',
    userDn('carol'),
  ]);
  t.is(r.code, 2);
  t.regex(r.stderr, /an LDAP directory needs --bind: gssapi .*external .*simple/);
  const external = await credroam([
    'init',
    '--config',
    path.join(dir, 'x.json'),
    '--directory',
    servers[0]!.ldapsUrl,
    '--ca-file',
    servers[0]!.tls.ca,
    '--user-dn',
    userDn('carol'),
    '--bind',
    'external',
  ]);
  t.is(external.code, 2);
  t.regex(external.stderr, /--bind external needs --client-cert-file FILE and --client-key-file FILE/);
});

test('init --bind external writes a configuration that logs on with a client certificate, with no trust in the directory', async (t) => {
  const w = await endpoints(t, 'frank');
  await writeFile(
    path.join(w.dir, 'untrusting.json'),
    JSON.stringify({ protection: { kdf: { name: 'scrypt', N: 16384, r: 8, p: 1 } } }),
  );
  const client = await makeClientCert(servers[0]!.tls, 'frank');
  const init = await credroam([
    'init',
    '--config',
    path.join(w.dir, 'x.json'),
    '--directory',
    servers[0]!.ldapsUrl,
    '--ca-file',
    servers[0]!.tls.ca,
    '--user-dn',
    userDn('frank'),
    '--bind',
    'external',
    '--client-cert-file',
    client.cert,
    '--client-key-file',
    client.key,
    '--home',
    path.join(w.dir, 'x'),
    '--user',
    'frank',
    '--policy',
    path.join(w.dir, 'untrusting.json'),
  ]);
  t.is(init.code, 0, init.stderr);
  t.notRegex(init.stdout, /warning/);
  await writeFile(path.join(w.dir, 'pw'), 'frank roaming, not for the directory\n');
  const logon = await credroam(['--config', path.join(w.dir, 'x.json'), 'logon', ...w.pw]);
  t.is(logon.code, 0, logon.stderr);
  const binds = (await settledLog(servers[0]!))
    .split('\n')
    .filter((l) => / BIND dn="uid=frank,[^"]*" (mech|method)=/.test(l));
  t.true(
    binds.length > 0 && binds.every((l) => l.includes(`BIND dn="${userDn('frank')}" mech=EXTERNAL`)),
    binds.join('\n'),
  );
});

/** `credroam init` for `uid` on the first provider, searching its entry under ou=people. */
async function initSearching(dir: string, uid: string, policy: Record<string, unknown>, extra: string[]) {
  await writeFile(path.join(dir, 'policy.json'), JSON.stringify(policy));
  await writeFile(path.join(dir, 'pw'), `${uid} password\n`);
  await writeFile(path.join(dir, 'p12pw'), 'p12 secret');
  return credroam([
    'init',
    '--config',
    path.join(dir, 'c.json'),
    '--directory',
    servers[0]!.ldapsUrl,
    '--ca-file',
    servers[0]!.tls.ca,
    '--base',
    'ou=people,dc=example,dc=org',
    '--filter',
    '(uid={user})',
    '--bind',
    'simple',
    '--home',
    path.join(dir, 'home'),
    '--user',
    uid,
    '--policy',
    path.join(dir, 'policy.json'),
    ...extra,
  ]);
}

const KDF = { kdf: { name: 'scrypt', N: 16384, r: 8, p: 1 } };
const bindsSince = async (before: number, dn: string) =>
  (await settledLog(servers[0]!))
    .split('\n')
    .slice(before)
    .filter((l) => l.includes(` BIND dn="${dn}" `));

test('init --base --filter --bind simple without --bind-dn is refused: it says who could bind', async (t) => {
  const dir = await tempDir(t);
  const r = await initSearching(dir, 'gina', { protection: KDF }, []);
  t.is(r.code, 2, r.stderr);
  t.is(
    r.stderr,
    "credroam init: --bind simple with --base needs --bind-dn: a service account's DN with --bind-password-file FILE, or the user's own DN as a pattern (uid={user},ou=people,… or {user}@domain; it sends the roaming password); see `credroam init --help`\n",
  );
});

test('the service-account route: init --base --filter --bind simple --bind-dn --bind-password-file roams with no trust in the directory, binding as the account only', async (t) => {
  const dir = await tempDir(t);
  await writeFile(path.join(dir, 'service-pw'), `${ADMIN_PASSWORD}\n`, { mode: 0o600 });
  const init = await initSearching(dir, 'gina', { protection: KDF }, [
    '--bind-dn',
    ADMIN_DN,
    '--bind-password-file',
    path.join(dir, 'service-pw'),
  ]);
  t.is(init.code, 0, init.stderr);
  t.notRegex(init.stdout, /warning/);
  const before = (await settledLog(servers[0]!)).split('\n').length;
  const run = (args: readonly string[]) =>
    credroam(['--config', path.join(dir, 'c.json'), ...args], { cwd: dir });
  const pw = ['--password-file', path.join(dir, 'pw')];
  const logon = await run(['logon', ...pw]);
  t.is(logon.code, 0, logon.stderr);
  const cred = await opensslP12(dir, 'gina');
  t.is((await run(['import', cred.file, '--passin', 'file:p12pw', ...pw])).code, 0);
  const sync = await run(['sync', ...pw, '--json']);
  t.is(sync.code, 0, sync.stderr);
  t.like(JSON.parse(sync.stdout), { counts: { uploaded: 2 } });
  const doctor = await run(['doctor', '--json']);
  t.is(doctor.code, 0, doctor.stdout + doctor.stderr);
  t.true((await bindsSince(before, ADMIN_DN)).length > 0, 'bound as the service account');
  t.deepEqual(await bindsSince(before, userDn('gina')), [], 'never as the user');
});

test('the route that binds as the user: init --base --filter --bind simple --bind-dn uid={user},… roams where the policy trusts the directory', async (t) => {
  const dir = await tempDir(t);
  const init = await initSearching(dir, 'hank', { protection: KDF, directory: { trustWithPassword: true } }, [
    '--bind-dn',
    'uid={user},ou=people,dc=example,dc=org',
  ]);
  t.is(init.code, 0, init.stderr);
  t.regex(init.stdout, /note: bind simple with the roaming password/);
  const before = (await settledLog(servers[0]!)).split('\n').length;
  const run = (args: readonly string[]) =>
    credroam(['--config', path.join(dir, 'c.json'), ...args], { cwd: dir });
  const pw = ['--password-file', path.join(dir, 'pw')];
  const logon = await run(['logon', ...pw]);
  t.is(logon.code, 0, logon.stderr);
  const cred = await opensslP12(dir, 'hank');
  t.is((await run(['import', cred.file, '--passin', 'file:p12pw', ...pw])).code, 0);
  const sync = await run(['sync', ...pw, '--json']);
  t.like(JSON.parse(sync.stdout), { counts: { uploaded: 2 } });
  t.true((await bindsSince(before, userDn('hank'))).length > 0, 'bound as hank, the DN from the pattern');
});

test('a session that fails after its directory connected closes it: the command ends with its error, not a process left running', async (t) => {
  const w = await endpoints(t, 'ivan');
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  // The keys' read at the unlock connects to slapd; the local store named next does not exist.
  const config = path.join(w.dir, 'a.json');
  const settings = JSON.parse(await readFile(config, 'utf8')) as { localStore: { use: string } };
  await writeFile(config, JSON.stringify({ ...settings, localStore: { use: 'no-such-store' } }));
  const r = await credroam(['--config', config, 'logon', ...w.pw], { cwd: w.dir, timeoutMs: 30_000 });
  t.falsy(r.timedOut, 'the process ended by itself');
  t.is(r.code, 1);
  t.regex(r.stderr, /no plugin contributes LocalStore 'no-such-store'.*\[E_NO_CONTRIBUTION\]/);
});
