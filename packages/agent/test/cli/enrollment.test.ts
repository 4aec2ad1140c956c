import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startScepServer } from '@credroam/plugin-enroll-scep/testing';
import test from 'ava';
import { openssl, twoEndpoints } from '../support.js';

// Issue 15 as a user meets it: whole `credroam` processes on two endpoints of one user, a profile
// in the site policy, Debian's scepserver as the CA (in its own loopback-only namespace).

const CHALLENGE = 'sesame-open-42';

async function withProfile(t: Parameters<typeof twoEndpoints>[0]) {
  const endpoints = await twoEndpoints(t);
  const scep = await startScepServer(endpoints.dir, CHALLENGE);
  t.teardown(() => scep.stop());
  const challenge = path.join(endpoints.dir, 'scep-challenge');
  await writeFile(challenge, `${CHALLENGE}\n`, { mode: 0o600 });
  const profile = {
    id: 'user-auth',
    enroller: 'scep',
    ca: { url: scep.url, fingerprint: scep.fingerprint },
    subject: 'CN={user},O=Example',
    subjectAltNames: [{ type: 'email', value: '{user}@example.org' }],
    key: { type: 'rsa', bits: 2048 },
    challenge: { file: challenge },
  };
  const policy = (p: Record<string, unknown>) =>
    writeFile(
      path.join(endpoints.dir, 'policy.json'),
      JSON.stringify({
        protection: { kdf: { name: 'scrypt', N: 16384, r: 8, p: 1 } },
        enrollment: { profiles: [{ ...profile, ...p }] },
      }),
    );
  await policy({});
  return { ...endpoints, scep, policy };
}

const pkiOperations = (ops: readonly string[]) => ops.filter((o) => o === 'PKIOperation').length;

test('at logon endpoint A enrolls over SCEP; B gets the credential by roaming, without asking the CA; status and enroll show the profile met', async (t) => {
  const { dir, a, b, pw, scep } = await withProfile(t);
  const logonA = await a(['logon', ...pw]);
  t.is(logonA.code, 0, logonA.stderr);
  t.regex(logonA.stdout, /user-auth: issued [0-9a-f]{16}…, valid to /);
  t.is(pkiOperations(scep.operations), 1);

  const before = scep.operations.length;
  const logonB = await b(['logon', ...pw]);
  t.is(logonB.code, 0, logonB.stderr);
  t.regex(logonB.stdout, /user-auth: met [0-9a-f]{16}…, due for renewal at /);
  t.is(scep.operations.length, before, 'B sent nothing to the CA');

  const status = JSON.parse((await b(['status', '--json'])).stdout) as {
    enrollment: Array<{ id: string; state: string }>;
  };
  t.deepEqual(
    status.enrollment.map((p) => [p.id, p.state]),
    [['user-auth', 'met']],
  );
  const dry = await a(['enroll', '--dry-run', '--json', ...pw]);
  t.is(dry.code, 0, dry.stderr);
  t.deepEqual(
    (JSON.parse(dry.stdout) as { profiles: Array<{ state: string }> }).profiles.map((p) => p.state),
    ['met'],
  );

  // What B holds is a certificate the CA issued: openssl verifies it, with the profile's names.
  const listed = (
    JSON.parse((await b(['list', '--json'])).stdout) as { credentials: Array<{ sha256: string }> }
  ).credentials;
  t.is(listed.length, 1);
  const out = path.join(dir, 'b.pem');
  const exported = await b([
    'export',
    listed[0]!.sha256.slice(0, 16),
    '--out',
    out,
    '--passout',
    `file:${path.join(dir, 'p12pw')}`,
    ...pw,
  ]);
  t.is(exported.code, 0, exported.stderr);
  await openssl(
    [
      'pkcs12',
      '-in',
      out,
      '-passin',
      `file:${path.join(dir, 'p12pw')}`,
      '-nokeys',
      '-clcerts',
      '-out',
      'b.cert.pem',
    ],
    dir,
  );
  t.regex(await openssl(['verify', '-CAfile', scep.caPem, 'b.cert.pem'], dir), /b\.cert\.pem: OK/);
  t.regex(
    await openssl(['x509', '-in', 'b.cert.pem', '-noout', '-subject', '-ext', 'subjectAltName'], dir),
    /CN ?= ?alice[\s\S]*email:alice@example\.org/,
  );
});

test('a wrong challenge: enroll fails with the CA refusal, logon still succeeds, status says failing since when and why, nothing is stored', async (t) => {
  const { dir, a, pw, scep } = await withProfile(t);
  await writeFile(path.join(dir, 'scep-challenge'), 'not the challenge\n', { mode: 0o600 });
  const logon = await a(['logon', ...pw]);
  t.is(logon.code, 0, logon.stderr);
  t.regex(logon.stdout, /user-auth: failing since .* \(E_ENROLL_REFUSED\): .*; next attempt /);
  t.false(logon.stdout.includes('not the challenge'), 'the challenge is not printed');
  const status = JSON.parse((await a(['status', '--json'])).stdout) as {
    credentials: number;
    enrollment: Array<{ state: string; code: string; failingSince: string; nextAttempt: string }>;
  };
  t.is(status.credentials, 0);
  t.is(status.enrollment[0]?.state, 'failing');
  t.is(status.enrollment[0]?.code, 'E_ENROLL_REFUSED');
  t.true(
    Date.parse(status.enrollment[0]!.nextAttempt) - Date.parse(status.enrollment[0]!.failingSince) >=
      23 * 3_600_000,
    'retried in a day',
  );
  const requests = pkiOperations(scep.operations);
  // A second logon within the day does not ask the CA again; `credroam enroll` on demand does.
  await a(['logon', ...pw]);
  t.is(pkiOperations(scep.operations), requests);
  await writeFile(path.join(dir, 'scep-challenge'), `${CHALLENGE}\n`, { mode: 0o600 });
  const before = Date.now() - 1000;
  const onDemand = await a(['enroll', ...pw]);
  t.is(onDemand.code, 0, onDemand.stderr);
  t.regex(onDemand.stdout, /user-auth: issued/);
  const after = JSON.parse((await a(['status', '--json'])).stdout) as { lastSync: { at: string } };
  t.true(Date.parse(after.lastSync.at) >= before, 'the syncs enroll ran are what status shows as the last');
});

test('a CA that is not the pinned one is refused before the request is sent, and the endpoint keeps what it has', async (t) => {
  const { a, pw, scep, policy } = await withProfile(t);
  await policy({ ca: { url: scep.url, fingerprint: 'ab'.repeat(32) } });
  const logon = await a(['logon', ...pw]);
  t.is(logon.code, 0, logon.stderr);
  t.regex(logon.stdout, /failing .*\(E_ENROLL_CA_MISMATCH\)/);
  t.deepEqual(
    scep.operations.filter((o) => o !== 'GetCACert'),
    [],
    'nothing but GetCACert reached the CA',
  );
});

test('a running agent enrolls after the logon it is started with (R4: sync, enroll, sync), and its endpoint shows the profile met', async (t) => {
  const { a, pw, scep } = await withProfile(t);
  const started = await a(['logon', '--start-agent', ...pw]);
  t.is(started.code, 0, started.stderr);
  t.teardown(async () => {
    await a(['trigger', 'stop']);
  });
  let status: { credentials: number; enrollment: Array<{ state: string }> } | undefined;
  for (const end = Date.now() + 60_000; Date.now() < end; ) {
    status = JSON.parse((await a(['status', '--json'])).stdout);
    // status lists the store twice (credentials, then the profiles): wait until both show it.
    if (status?.enrollment[0]?.state === 'met' && status.credentials === 1) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  t.is(status?.enrollment[0]?.state, 'met');
  t.is(status?.credentials, 1);
  t.is(pkiOperations(scep.operations), 1, 'one request, by the agent');
  // On demand, no password: the agent that holds the keys enrolls (nothing to do here).
  const onDemand = await a(['enroll', '--json']);
  t.is(onDemand.code, 0, onDemand.stderr);
  t.deepEqual(
    (JSON.parse(onDemand.stdout) as { profiles: Array<{ state: string }> }).profiles.map((p) => p.state),
    ['met'],
  );
  t.is(pkiOperations(scep.operations), 1);
});
