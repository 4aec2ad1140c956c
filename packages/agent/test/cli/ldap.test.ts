import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Slapd, startProviders, userDn } from '@credroam/plugin-ldap/testing';
import test from 'ava';
import { credroam, fingerprintOf, openssl, opensslP12, tempDir } from '../support.js';

let servers: Slapd[];
let stop: () => Promise<void>;

test.before(async () => {
  const started = await startProviders(2, {
    users: ['alice', 'bob', 'carol', 'dave'],
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
  await writeFile(
    path.join(dir, 'policy.json'),
    JSON.stringify({ protection: { kdf: { name: 'scrypt', N: 16384, r: 8, p: 1 } } }),
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

test('doctor passes on a healthy setup and names what to fix otherwise', async (t) => {
  const w = await endpoints(t, 'bob');
  const ok = await w.a(['doctor', ...w.pw, '--json']);
  t.is(ok.code, 0, ok.stdout + ok.stderr);
  const report = JSON.parse(ok.stdout) as { ok: boolean; checks: Array<{ check: string; ok: boolean }> };
  t.true(report.ok);
  t.deepEqual(
    report.checks.map((c) => c.check),
    ['reachability', 'tls', 'bind', 'entry', 'schema', 'write'],
  );
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
