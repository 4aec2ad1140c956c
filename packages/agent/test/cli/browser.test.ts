import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { openssl, twoEndpoints } from '../support.js';
import {
  amendManifest,
  certificatesIn,
  certutil,
  clientCredential,
  keysIn,
  nssDatabase,
  pk12util,
  testCa,
} from './mirror-support.js';

/** A free loopback port (the kernel's choice, released for the server to take). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Waits, up to `ms`, until `test` holds; false if it never did. */
async function until(test: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/** Stops a process group started detached (the browser and every process it started), and waits for it to be gone. */
async function stopGroup(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  const alive = () => {
    try {
      process.kill(-pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
  await until(() => !alive(), 10_000);
}

/**
 * `openssl s_server -Verify 1 -www` on loopback: it asks for a client certificate, and prints the
 * subject of the one it is given (`depth=0 CN = …`) or says none was (`peer did not return a
 * certificate`) on its stderr, which `log()` returns.
 */
async function clientAuthServer(t: ExecutionContext, dir: string) {
  await openssl(
    ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'server.key.pem'],
    dir,
  );
  await openssl(
    ['req', '-new', '-key', 'server.key.pem', '-out', 'server.csr', '-subj', '/CN=localhost'],
    dir,
  );
  await writeFile(
    path.join(dir, 'server.ext'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:false\n',
  );
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.cert.pem',
      '-days',
      '2',
      '-extfile',
      'server.ext',
    ],
    dir,
  );
  const port = await freePort();
  const server = spawn(
    'openssl',
    [
      's_server',
      '-accept',
      `127.0.0.1:${port}`,
      '-cert',
      path.join(dir, 'server.cert.pem'),
      '-key',
      path.join(dir, 'server.key.pem'),
      '-Verify',
      '1',
      '-www',
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let out = '';
  let err = '';
  server.stdout.on('data', (d: Buffer) => {
    out += d.toString('utf8');
  });
  server.stderr.on('data', (d: Buffer) => {
    err += d.toString('utf8');
  });
  t.teardown(() => stopGroup(server));
  if (!(await until(() => out.includes('ACCEPT'), 15_000))) throw new Error(`s_server did not start: ${err}`);
  return { url: `https://localhost:${port}/`, log: () => err, stop: () => stopGroup(server) };
}

/**
 * Firefox ESR, headless, on a profile of its own (`--profile`, `--no-remote`), opening `url`; its
 * process group is stopped by `stop()` (and at teardown).
 */
function firefox(t: ExecutionContext, profile: string, home: string, url: string) {
  const child = spawn('firefox-esr', ['--headless', '--no-remote', '--profile', profile, url], {
    env: { PATH: process.env.PATH, HOME: home, MOZ_CRASHREPORTER_DISABLE: '1' },
    stdio: 'ignore',
    detached: true,
  });
  t.teardown(() => stopGroup(child));
  return { stop: () => stopGroup(child) };
}

test('a credential imported on A roams to B, whose store is its Firefox profile’s database: Firefox presents it to a server asking for one; deleted on A, Firefox no longer does; one imported in B’s database with pk12util reaches A', async (t) => {
  const w = await twoEndpoints(t);
  await testCa(w.dir);
  const home = path.join(w.dir, 'home');
  const profile = path.join(home, '.mozilla', 'firefox', 'e2e.default-esr');
  await mkdir(profile, { recursive: true, mode: 0o700 });
  await nssDatabase(profile);
  // The site's configuration of the browser: its CA trusted for servers, and the certificate chosen without asking.
  await certutil([
    '-A',
    '-d',
    `sql:${profile}`,
    '-n',
    'credroam test CA',
    '-t',
    'C,,',
    '-i',
    path.join(w.dir, 'ca.pem'),
  ]);
  await writeFile(
    path.join(profile, 'user.js'),
    [
      'user_pref("security.default_personal_cert", "Select Automatically");',
      'user_pref("browser.shell.checkDefaultBrowser", false);',
      'user_pref("datareporting.policy.dataSubmissionEnabled", false);',
      'user_pref("app.update.disabledForTesting", true);',
      '',
    ].join('\n'),
  );
  await amendManifest(path.join(w.dir, 'b.json'), {
    localStore: { use: 'nss', settings: { database: profile, create: false } },
  });

  const cred = await clientCredential(w.dir, 'alice roamed', { friendlyName: 'Alice on the web' });
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  t.is((await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);
  t.is((await w.a(['sync', ...w.pw])).code, 0);
  const env = { HOME: home };
  const logon = await w.b(['logon', ...w.pw], { env });
  t.true(logon.code === 0 || logon.code === 3, logon.stderr);
  // A key the engine meets before its certificate waits for it: the next sync finds both in place.
  const settle = await w.b(['sync', ...w.pw, '--json'], { env });
  t.is(settle.code, 0, settle.stdout + settle.stderr);
  t.true((await certificatesIn(profile)).includes('Alice on the web u,u,u'));

  const server = await clientAuthServer(t, w.dir);
  const first = firefox(t, profile, home, server.url);
  const presented = await until(() => /depth=0 CN = alice roamed/.test(server.log()), 45_000);
  await first.stop();
  t.true(presented, `s_server saw: ${server.log()}`);

  // Deleted on A: after a sync, B's database no longer has it, nor its key, and Firefox presents nothing.
  t.is((await w.a(['remove', cred.fingerprint.slice(0, 16)])).code, 0);
  t.is((await w.a(['sync', ...w.pw])).code, 0);
  const removal = await w.b(['sync', ...w.pw, '--json'], { env });
  t.is(removal.code, 0, removal.stderr);
  t.like(JSON.parse(removal.stdout), { counts: { removed: 3 } });
  t.false((await certificatesIn(profile)).some((c) => c.startsWith('Alice on the web')));
  t.deepEqual(await keysIn(profile), []);
  const before = server.log().length;
  const second = firefox(t, profile, home, server.url);
  const refused = await until(
    () => /peer did not return a certificate/.test(server.log().slice(before)),
    45_000,
  );
  await second.stop();
  await server.stop();
  t.true(refused, `s_server saw: ${server.log().slice(before)}`);
  t.notRegex(server.log().slice(before), /depth=0 CN = alice roamed/);

  // Imported in B's database as a browser's import does (pk12util): it roams to A.
  const imported = await clientCredential(w.dir, 'bob import', { friendlyName: 'Imported in Firefox' });
  await pk12util([
    '-i',
    imported.file,
    '-d',
    `sql:${profile}`,
    '-w',
    path.join(w.dir, 'p12pw'),
    '-k',
    '/dev/null',
  ]);
  const up = await w.b(['sync', ...w.pw, '--json'], { env });
  t.is(up.code, 0, up.stderr);
  t.true((await w.a(['sync', ...w.pw])).code === 0);
  const onA = JSON.parse((await w.a(['list', '--json'])).stdout) as {
    credentials: Array<{ sha256: string; friendlyName?: string; key: string }>;
  };
  t.like(
    onA.credentials.find((c) => c.sha256 === imported.fingerprint),
    { friendlyName: 'Imported in Firefox' },
  );
});
