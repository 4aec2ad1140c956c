import { readdir } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { fingerprintOf, openssl, opensslP12, setRoamingPolicy, twoEndpoints } from '../support.js';

interface ListJson {
  credentials: Array<{
    sha256: string;
    sha1: string;
    subject: string;
    notAfter: string;
    hasKey: boolean;
    state: string;
  }>;
}

test('a PKCS#12 from openssl roams from A to B; exported on B, openssl finds the same certificate and a key that matches', async (t) => {
  const w = await twoEndpoints(t);
  const cred = await opensslP12(w.dir);
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  const imported = await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw, '--json']);
  t.is(imported.code, 0, imported.stderr);
  t.deepEqual(JSON.parse(imported.stdout), {
    imported: [{ sha256: cred.fingerprint, hasKey: true }],
    ignoredCertificates: 0,
    notices: [],
  });
  const sync = await w.a(['sync', ...w.pw, '--json']);
  t.is(sync.code, 0, sync.stderr);
  t.like(JSON.parse(sync.stdout), {
    outcome: 'synced',
    counts: { uploaded: 2, downloaded: 0, conflicts: 0 },
    skipped: [],
  });
  const logonB = await w.b(['logon', ...w.pw, '--json']);
  t.like(JSON.parse(logonB.stdout), { counts: { downloaded: 2 } });
  const list = JSON.parse((await w.b(['list', '--json'])).stdout) as ListJson;
  t.is(list.credentials.length, 1);
  t.like(list.credentials[0], {
    sha256: cred.fingerprint,
    subject: 'CN=alice',
    hasKey: true,
    state: 'synced',
  });
  const sha1 = list.credentials[0]!.sha1;
  const exported = await w.b(['export', sha1, '--out', 'from-b.p12', '--passout', 'file:p12pw', ...w.pw]);
  t.is(exported.code, 0, exported.stderr);
  await openssl(
    ['pkcs12', '-in', 'from-b.p12', '-passin', 'file:p12pw', '-nokeys', '-out', 'b-cert.pem'],
    w.dir,
  );
  await openssl(
    ['pkcs12', '-in', 'from-b.p12', '-passin', 'file:p12pw', '-nocerts', '-nodes', '-out', 'b-key.pem'],
    w.dir,
  );
  t.is(
    fingerprintOf(await openssl(['x509', '-in', 'b-cert.pem', '-noout', '-fingerprint', '-sha256'], w.dir)),
    cred.fingerprint,
  );
  t.is(
    await openssl(['pkey', '-in', 'b-key.pem', '-pubout'], w.dir),
    await openssl(['x509', '-in', 'b-cert.pem', '-pubkey', '-noout'], w.dir),
  );
});

test('a credential removed on A is removed on B by its tombstone, and kept in B’s removed/ folder', async (t) => {
  const w = await twoEndpoints(t);
  const cred = await opensslP12(w.dir);
  await w.a(['logon', ...w.pw]);
  await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw]);
  await w.a(['sync', ...w.pw]);
  await w.b(['logon', ...w.pw]);
  const removed = await w.a(['remove', cred.fingerprint.slice(0, 12)]);
  t.is(removed.code, 0, removed.stderr);
  t.like(JSON.parse((await w.a(['sync', ...w.pw, '--json'])).stdout), { counts: { tombstoned: 2 } });
  t.like(JSON.parse((await w.b(['sync', ...w.pw, '--json'])).stdout), { counts: { removed: 2 } });
  t.deepEqual((JSON.parse((await w.b(['list', '--json'])).stdout) as ListJson).credentials, []);
  t.is((await readdir(path.join(w.dir, 'b', 'store', 'removed'))).length, 2);
  const status = JSON.parse((await w.b(['status', '--json'])).stdout) as {
    credentials: number;
    lastSync: { outcome: string };
  };
  t.is(status.credentials, 0);
  t.is(status.lastSync.outcome, 'synced');
});

test('sync --dry-run prints the plan with reasons and writes nothing', async (t) => {
  const w = await twoEndpoints(t);
  const cred = await opensslP12(w.dir);
  await w.a(['logon', ...w.pw]);
  await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw]);
  const plan = JSON.parse((await w.a(['sync', '--dry-run', ...w.pw, '--json'])).stdout) as {
    outcome: string;
    changes: Array<{ action: string; reason: string }>;
  };
  t.is(plan.outcome, 'planned');
  t.deepEqual(
    plan.changes.map((c) => [c.action, c.reason]),
    [
      ['upload', 'new on this endpoint'],
      ['upload', 'new on this endpoint'],
    ],
  );
  await w.b(['logon', ...w.pw]);
  t.deepEqual(
    (JSON.parse((await w.b(['list', '--json'])).stdout) as ListJson).credentials,
    [],
    'nothing reached the directory',
  );
});

test('passwd on A: B logs on with the new password; on the old one it keeps its own copy of the keys and says why', async (t) => {
  const w = await twoEndpoints(t);
  const { writeFile } = await import('node:fs/promises');
  await writeFile(path.join(w.dir, 'new-pw'), 'a brand new password');
  await w.a(['logon', ...w.pw]);
  await w.b(['logon', ...w.pw]);
  const changed = await w.a(['passwd', '--old-password-file', 'pw', '--new-password-file', 'new-pw']);
  t.is(changed.code, 0, changed.stderr);
  const old = await w.b(['logon', ...w.pw]);
  t.is(old.code, 0, old.stderr);
  t.regex(old.stderr, /"event":1022.*re-wrapped for a new password on another endpoint.*or altered/);
  const fresh = await w.b(['logon', '--password-stdin'], { input: 'a brand new password\n' });
  t.is(fresh.code, 0, fresh.stderr);
});

test('escrow: after a password reset an administrator recovers the keys for a new password', async (t) => {
  const scratch = await twoEndpoints(t);
  await openssl(
    ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:3072', '-out', 'escrow.key'],
    scratch.dir,
  );
  await openssl(['pkey', '-in', 'escrow.key', '-pubout', '-out', 'escrow.pub'], scratch.dir);
  const w = await twoEndpoints(t, { escrowPublicKeyFile: path.join(scratch.dir, 'escrow.pub') });
  const cred = await opensslP12(w.dir);
  await w.a(['logon', ...w.pw]);
  await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw]);
  await w.a(['sync', ...w.pw]);
  const { writeFile } = await import('node:fs/promises');
  await writeFile(path.join(w.dir, 'reset-pw'), 'set by the helpdesk');
  const recovered = await w.b([
    'recover',
    '--escrow-key',
    path.join(scratch.dir, 'escrow.key'),
    '--new-password-file',
    'reset-pw',
  ]);
  t.is(recovered.code, 0, recovered.stderr);
  t.is((await w.b(['logon', ...w.pw])).code, 1, 'the forgotten password no longer opens the keys');
  const logon = await w.b(['logon', '--password-file', 'reset-pw', '--json']);
  t.is(logon.code, 0, logon.stderr);
  t.like(JSON.parse(logon.stdout), { counts: { downloaded: 2 } });
});

test('a wrong roaming password is a clear error and changes nothing', async (t) => {
  const w = await twoEndpoints(t);
  await w.a(['logon', ...w.pw]);
  const before = await readdir(path.join(w.dir, 'directory', 'alice'));
  const wrong = await w.b(['logon', '--password-stdin'], { input: 'guess' });
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /the password does not open your credroam keys; nothing was changed/);
  t.deepEqual(await readdir(path.join(w.dir, 'directory', 'alice')), before);
});

test('`sync` with a wrong roaming password where there is work (a download, a full sync): the password is the error, nothing is written on either side', async (t) => {
  const w = await twoEndpoints(t);
  const cred = await opensslP12(w.dir);
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  t.is((await w.b(['logon', ...w.pw])).code, 0);
  t.is((await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);
  t.is((await w.a(['sync', ...w.pw])).code, 0);
  const directory = path.join(w.dir, 'directory', 'alice');
  const before = await readdir(directory);
  // B has a credential to download: the key derivation starts as soon as that is known.
  const wrong = await w.b(['sync', '--password-stdin', '--json'], { input: 'guess' });
  t.is(wrong.code, 1, wrong.stdout);
  t.like(JSON.parse(wrong.stdout), { error: { code: 'E_WRONG_PASSWORD' } });
  t.deepEqual((JSON.parse((await w.b(['list', '--json'])).stdout) as ListJson).credentials, []);
  // A has nothing to do, but a full sync reads both sides with the keys.
  const full = await w.a(['sync', '--full', '--password-stdin', '--json'], { input: 'guess' });
  t.is(full.code, 1, full.stdout);
  t.like(JSON.parse(full.stdout), { error: { code: 'E_WRONG_PASSWORD' } });
  t.deepEqual(await readdir(directory), before);
  // With the right one, B downloads it.
  t.like(JSON.parse((await w.b(['sync', ...w.pw, '--json'])).stdout), { counts: { downloaded: 2 } });
});

test('logoff without an agent: a final sync, and with removeOnLogoff the roamed credentials leave the endpoint', async (t) => {
  const w = await twoEndpoints(t);
  await setRoamingPolicy(w.dir, { removeOnLogoff: true });
  const cred = await opensslP12(w.dir);
  await w.a(['logon', ...w.pw]);
  await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw]);
  const r = await w.a(['logoff', ...w.pw]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /uploaded 2/);
  t.regex(r.stdout, /removed 2 credential part\(s\) that the directory holds/);
  t.deepEqual((JSON.parse((await w.a(['list', '--json'])).stdout) as ListJson).credentials, []);
  t.like(JSON.parse((await w.b(['logon', ...w.pw, '--json'])).stdout), { counts: { downloaded: 2 } });
});

test('after a logoff that removed the roamed credentials (removeOnLogoff), the next logon downloads them again: it never takes their removal for a deletion', async (t) => {
  const w = await twoEndpoints(t);
  await setRoamingPolicy(w.dir, { removeOnLogoff: true });
  const cred = await opensslP12(w.dir);
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  t.is((await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);
  t.is((await w.a(['logoff', ...w.pw])).code, 0);
  t.deepEqual((JSON.parse((await w.a(['list', '--json'])).stdout) as ListJson).credentials, []);
  const again = await w.a(['logon', ...w.pw, '--json']);
  t.is(again.code, 0, again.stderr);
  t.like(JSON.parse(again.stdout), { counts: { downloaded: 2, tombstoned: 0 } });
  t.is((JSON.parse((await w.a(['list', '--json'])).stdout) as ListJson).credentials.length, 1);
  // Nothing was deleted for the other endpoints either.
  t.like(JSON.parse((await w.b(['logon', ...w.pw, '--json'])).stdout), { counts: { downloaded: 2 } });
});
