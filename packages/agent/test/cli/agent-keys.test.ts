import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { fingerprintOf, holds, openssl, opensslP12, twoEndpoints } from '../support.js';

/** Waits for `check`; generous, for a machine that runs other suites too. */
async function eventually(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('import, export and remove use the running agent’s keys: no roaming password asked again, and the changes roam', async (t) => {
  const w = await twoEndpoints(t);
  const cred = await opensslP12(w.dir);

  // No agent, no password: the command says what it needs, and writes nothing.
  const alone = await w.a(['import', cred.file, '--passin', 'file:p12pw']);
  t.is(alone.code, 2, alone.stderr);
  t.regex(
    alone.stderr,
    /^credroam import: no agent runs for \S+: give the roaming password \(.*\), or start an agent that holds the keys: credroam logon --start-agent --password-file FILE/,
  );
  t.deepEqual(await readdir(path.join(w.dir, 'a', 'store', 'keys')).catch(() => []), []);

  t.is((await w.a(['logon', '--start-agent', ...w.pw])).code, 0);
  const imported = await w.a(['import', cred.file, '--passin', 'file:p12pw', '--json']);
  t.is(imported.code, 0, imported.stderr);
  t.like(JSON.parse(imported.stdout), { imported: [{ sha256: cred.fingerprint, hasKey: true }] });
  // Encrypted at rest by the agent: the key file is not the key openssl made.
  const [keyFile] = await readdir(path.join(w.dir, 'a', 'store', 'keys'));
  const atRest = await readFile(path.join(w.dir, 'a', 'store', 'keys', keyFile!));
  const clear = await openssl(
    ['pkey', '-in', 'alice.key.pem', '-outform', 'DER', '-out', 'clear.der'],
    w.dir,
  ).then(() => readFile(path.join(w.dir, 'clear.der')));
  t.false(atRest.includes(clear.subarray(-32)), 'the key is not on disk in clear');
  await eventually('the agent roams the import to B', async () => {
    await w.b(['sync', ...w.pw]);
    return holds(w.b, cred.fingerprint);
  });

  const exported = await w.a([
    'export',
    cred.fingerprint.slice(0, 10),
    '--out',
    'out.p12',
    '--passout',
    'file:p12pw',
  ]);
  t.is(exported.code, 0, exported.stderr);
  t.regex(exported.stdout, /with its private key/);
  await openssl(['pkcs12', '-in', 'out.p12', '-passin', 'file:p12pw', '-nodes', '-out', 'out.pem'], w.dir);
  t.is(
    fingerprintOf(await openssl(['x509', '-in', 'out.pem', '-noout', '-fingerprint', '-sha256'], w.dir)),
    cred.fingerprint,
  );
  t.is(
    await openssl(['pkey', '-in', 'out.pem', '-pubout'], w.dir),
    await openssl(['pkey', '-in', 'alice.key.pem', '-pubout'], w.dir),
    'the private key came out and matches',
  );

  const removed = await w.a(['remove', cred.fingerprint]);
  t.is(removed.code, 0, removed.stderr);
  await eventually('the deletion roams to B', async () => {
    await w.b(['sync', ...w.pw]);
    return !(await holds(w.b, cred.fingerprint));
  });
  const log = await readFile(path.join(w.dir, 'a', 'agent.log'), 'utf8');
  t.false(log.includes('alice roaming password'), 'the password is not in the agent’s log');

  // An agent that no longer holds the keys (logged off) is not used; the password still works.
  t.is((await w.a(['trigger', 'logoff'])).code, 0);
  const again = await opensslP12(w.dir, 'again');
  const locked = await w.a(['import', again.file, '--passin', 'file:p12pw', '--json']);
  t.is(locked.code, 2);
  t.like(JSON.parse(locked.stdout), { error: { code: 'E_KEYS_NEEDED', ids: { agent: 'locked' } } });
  t.is((await w.a(['import', again.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);
});
