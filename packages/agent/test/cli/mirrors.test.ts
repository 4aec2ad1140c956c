import { lstat, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { openssl, twoEndpoints } from '../support.js';
import {
  amendManifest,
  certificatesIn,
  certutil,
  clientCredential,
  desktopHome,
  keysIn,
  nssDatabase,
  pk12util,
  testCa,
} from './mirror-support.js';

interface Destination {
  role: 'primary' | 'mirror';
  destination: string;
  description: string;
  ok: boolean;
  current?: boolean;
  holds?: string[];
  missing?: string[];
  extra?: string[];
  others?: number;
  error?: string;
}

const mode = async (file: string) => (await lstat(file)).mode & 0o777;

test('B’s mirrors (Chromium’s database, every Firefox profile, PEM and PKCS#12 folders) hold what its store holds, archived kept out; a hand change is repaired and never roams; a removal leaves no key; the user’s own are left', async (t) => {
  const w = await twoEndpoints(t);
  await testCa(w.dir);
  const desk = await desktopHome(w.dir);
  const env = { HOME: desk.home };
  // The user's own credential, imported in the work profile before credroam: never credroam's.
  const own = await clientCredential(w.dir, 'own', { friendlyName: 'My Own' });
  await pk12util([
    '-i',
    own.file,
    '-d',
    `sql:${desk.firefox[1]}`,
    '-w',
    path.join(w.dir, 'p12pw'),
    '-k',
    '/dev/null',
  ]);
  await writeFile(path.join(w.dir, 'folderpw'), 'folder secret\n', { mode: 0o600 });
  await amendManifest(path.join(w.dir, 'b.json'), {
    mirrors: [
      { use: 'chromium' },
      { use: 'firefox' },
      { use: 'pem-folder', settings: { path: '~/certs' } },
      { use: 'pem-folder', settings: { path: '~/certs-locked', passwordFile: path.join(w.dir, 'folderpw') } },
      {
        use: 'pem-folder',
        settings: { path: '~/p12', format: 'pkcs12', passwordFile: path.join(w.dir, 'folderpw') },
      },
    ],
  });

  const vpn = await clientCredential(w.dir, 'alice vpn', { friendlyName: 'Roaming VPN' });
  const old = await clientCredential(w.dir, 'alice old', { friendlyName: 'Expired One', days: -1 });
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  for (const c of [vpn, old]) {
    const r = await w.a(['import', c.file, '--passin', 'file:p12pw', ...w.pw]);
    t.is(r.code, 0, r.stderr);
  }
  t.is((await w.a(['sync', ...w.pw])).code, 0);

  const logon = await w.b(['logon', ...w.pw, '--json'], { env });
  t.is(logon.code, 0, logon.stderr);
  const report = JSON.parse(logon.stdout) as { mirrors: Array<{ ok: boolean; outcome?: { put: number } }> };
  t.is(report.mirrors.length, 6, "Chromium's database, two Firefox profiles, three folders");
  t.true(
    report.mirrors.every((m) => m.ok && m.outcome?.put === 1),
    logon.stdout,
  );

  // Each NSS database: the credential with its key and friendly name; the archived one kept out.
  for (const db of [desk.chromium, ...desk.firefox]) {
    const certs = await certificatesIn(db);
    t.true(certs.includes('Roaming VPN u,u,u'), `${db}: ${certs.join('; ')}`);
    t.false(
      certs.some((c) => c.startsWith('Expired One')),
      'an archived certificate stays out',
    );
    t.true((await keysIn(db)).some((k) => k.endsWith('Roaming VPN')));
  }
  t.true((await certificatesIn(desk.firefox[1])).includes('My Own u,u,u'));

  // The PEM folder: readable names, the certificate 0644, the key 0600 (in clear without a password), the folder 0700.
  const id8 = vpn.fingerprint.slice(0, 8);
  const certs = path.join(desk.home, 'certs');
  t.deepEqual((await readdir(certs)).sort(), [`Roaming-VPN-${id8}.crt`, `Roaming-VPN-${id8}.key`]);
  t.is(await mode(certs), 0o700);
  t.is(await mode(path.join(certs, `Roaming-VPN-${id8}.crt`)), 0o644);
  t.is(await mode(path.join(certs, `Roaming-VPN-${id8}.key`)), 0o600);
  t.is(
    await openssl(['pkey', '-in', path.join(certs, `Roaming-VPN-${id8}.key`), '-pubout'], w.dir),
    await openssl(['x509', '-in', vpn.cert, '-pubkey', '-noout'], w.dir),
  );
  t.is(
    (await readFile(path.join(certs, `Roaming-VPN-${id8}.crt`), 'utf8')).trim(),
    (await readFile(vpn.cert, 'utf8')).trim(),
  );
  // With a password: an encrypted PKCS#8 key (NetworkManager's private-key-password, curl's --pass).
  const locked = path.join(desk.home, 'certs-locked', `Roaming-VPN-${id8}.key`);
  t.regex(await readFile(locked, 'utf8'), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
  t.is(
    await openssl(
      ['pkey', '-in', locked, '-passin', `file:${path.join(w.dir, 'folderpw')}`, '-pubout'],
      w.dir,
    ),
    await openssl(['x509', '-in', vpn.cert, '-pubkey', '-noout'], w.dir),
  );
  // The PKCS#12 folder: one file, 0600, that openssl opens with the folder's password.
  const p12 = path.join(desk.home, 'p12', `Roaming-VPN-${id8}.p12`);
  t.is(await mode(p12), 0o600);
  const opened = await openssl(
    ['pkcs12', '-in', p12, '-passin', `file:${path.join(w.dir, 'folderpw')}`, '-nokeys', '-clcerts'],
    w.dir,
  );
  t.regex(opened, /friendlyName: Roaming VPN/);

  // status --json: per destination, what it holds; all current.
  const status = JSON.parse((await w.b(['status', '--json'], { env })).stdout) as {
    destinations: Destination[];
  };
  t.is(status.destinations.length, 7);
  t.like(status.destinations[0], { role: 'primary', ok: true, holds: [vpn.fingerprint], others: 1 });
  for (const d of status.destinations.slice(1)) {
    t.like(d, { role: 'mirror', ok: true, current: true, holds: [vpn.fingerprint] }, d.description);
  }
  t.like(
    status.destinations.find((d) => d.destination === `nss:${desk.firefox[1]}`),
    { others: 1 },
    "the user's own credential, counted apart",
  );

  // By hand in Chromium's database: credroam's credential deleted (certificate and key), another imported.
  await certutil(['-F', '-d', `sql:${desk.chromium}`, '-n', 'Roaming VPN', '-f', '/dev/null']);
  const hand = await clientCredential(w.dir, 'hand', { friendlyName: 'By Hand' });
  await pk12util([
    '-i',
    hand.file,
    '-d',
    `sql:${desk.chromium}`,
    '-w',
    path.join(w.dir, 'p12pw'),
    '-k',
    '/dev/null',
  ]);
  // And in the first Firefox profile, renamed.
  await certutil([
    '--rename',
    '-n',
    'Roaming VPN',
    '--new-n',
    'Renamed by hand',
    '-d',
    `sql:${desk.firefox[0]}`,
  ]);
  const doctor = JSON.parse((await w.b(['doctor', '--json'], { env })).stdout) as {
    checks: Array<{ check: string; ok: boolean; detail: string; warning?: string }>;
  };
  const chromiumCheck = doctor.checks.find(
    (c) => c.check === 'destination' && c.detail.includes(desk.chromium),
  );
  t.regex(chromiumCheck?.detail ?? '', /not current/);
  t.regex(chromiumCheck?.warning ?? '', /1 credential\(s\) missing/);
  t.regex(
    doctor.checks.find((c) => c.check === 'destination' && c.detail.includes(desk.firefox[0]))?.detail ?? '',
    /not current/,
  );
  t.is(
    doctor.checks.filter((c) => c.check === 'destination' && /: current/.test(c.detail)).length,
    4,
    'the four mirrors left alone',
  );

  const repair = JSON.parse((await w.b(['sync', ...w.pw, '--json'], { env })).stdout) as {
    mirrors: Array<{ destination: string; outcome: { repaired: number } }>;
  };
  t.is(repair.mirrors.find((m) => m.destination === `nss:${desk.chromium}`)?.outcome.repaired, 1);
  t.is(repair.mirrors.find((m) => m.destination === `nss:${desk.firefox[0]}`)?.outcome.repaired, 1);
  t.true((await certificatesIn(desk.firefox[0])).includes('Roaming VPN u,u,u'), 'its name given back');
  t.true((await certificatesIn(desk.chromium)).includes('Roaming VPN u,u,u'));
  t.true((await certificatesIn(desk.chromium)).includes('By Hand u,u,u'), 'what the user put there stays');
  // Neither the hand import nor the hand deletion roams: A holds what it held.
  t.is((await w.a(['sync', ...w.pw])).code, 0);
  const onA = JSON.parse((await w.a(['list', '--json'])).stdout) as {
    credentials: Array<{ sha256: string; friendlyName?: string }>;
  };
  t.deepEqual(onA.credentials.map((c) => c.sha256).sort(), [vpn.fingerprint, old.fingerprint].sort());
  t.is(onA.credentials.find((c) => c.sha256 === vpn.fingerprint)?.friendlyName, 'Roaming VPN');

  // Removed on A: gone from every mirror, with its key; the user's own stay.
  t.is((await w.a(['remove', vpn.fingerprint.slice(0, 16)])).code, 0);
  t.is((await w.a(['sync', ...w.pw])).code, 0);
  const removal = JSON.parse((await w.b(['sync', ...w.pw, '--json'], { env })).stdout) as {
    mirrors: Array<{ outcome: { removed: number } }>;
  };
  t.true(
    removal.mirrors.every((m) => m.outcome.removed === 1),
    JSON.stringify(removal.mirrors),
  );
  for (const db of [desk.chromium, ...desk.firefox]) {
    t.false((await certificatesIn(db)).some((c) => c.startsWith('Roaming VPN')));
    t.false(
      (await keysIn(db)).some((k) => k.endsWith('Roaming VPN')),
      'no key left behind',
    );
  }
  t.deepEqual(
    (await keysIn(desk.chromium)).map((k) => k.split(/\s+/).slice(-2).join(' ')),
    ['By Hand'],
    'the only key left in Chromium’s database is the one put by hand',
  );
  t.true((await certificatesIn(desk.firefox[1])).includes('My Own u,u,u'));
  t.is((await keysIn(desk.firefox[1])).length, 1);
  t.deepEqual(await readdir(certs), []);
  t.deepEqual(await readdir(path.join(desk.home, 'p12')), []);
});

test('a mirror that cannot be written (a database with a password credroam was not given) is reported and does not fail the sync; a credential one database cannot take (Ed25519) is reported, the others mirrored', async (t) => {
  const w = await twoEndpoints(t);
  await testCa(w.dir);
  await writeFile(path.join(w.dir, 'dbpw'), 'db secret\n', { mode: 0o600 });
  const locked = path.join(w.dir, 'locked-db');
  await nssDatabase(locked, path.join(w.dir, 'dbpw'));
  const open = await nssDatabase(path.join(w.dir, 'open-db'));
  await amendManifest(path.join(w.dir, 'b.json'), {
    mirrors: [
      { use: 'nss', settings: { database: locked } },
      { use: 'nss', settings: { database: open } },
    ],
  });
  const c = await clientCredential(w.dir, 'alice', { friendlyName: 'Alice' });
  // An Ed25519 credential, which NSS 3.87 does not take: reported, and the others are mirrored.
  await openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ed25519',
      '-nodes',
      '-keyout',
      'ed.key.pem',
      '-out',
      'ed.cert.pem',
      '-subj',
      '/CN=ed',
      '-days',
      '30',
    ],
    w.dir,
  );
  await openssl(
    [
      'pkcs12',
      '-export',
      '-in',
      'ed.cert.pem',
      '-inkey',
      'ed.key.pem',
      '-out',
      'ed.p12',
      '-passout',
      'file:p12pw',
    ],
    w.dir,
  );
  await w.a(['logon', ...w.pw]);
  for (const file of [c.file, path.join(w.dir, 'ed.p12')]) {
    const r = await w.a(['import', file, '--passin', 'file:p12pw', ...w.pw]);
    t.is(r.code, 0, r.stderr);
  }
  await w.a(['sync', ...w.pw]);
  const logon = await w.b(['logon', ...w.pw, '--json'], { env: { HOME: w.dir } });
  t.is(logon.code, 0, logon.stderr);
  const report = JSON.parse(logon.stdout) as {
    counts: { downloaded: number };
    mirrors: Array<{ destination: string; ok: boolean; error?: string }>;
  };
  t.is(report.counts.downloaded, 5);
  t.like(
    report.mirrors.find((m) => m.destination === `nss:${locked}`),
    { ok: false },
  );
  t.regex(report.mirrors.find((m) => m.destination === `nss:${locked}`)?.error ?? '', /has a password/);
  const opened = report.mirrors.find((m) => m.destination === `nss:${open}`) as unknown as {
    ok: boolean;
    outcome: { put: number; failed: Array<{ reason: string }> };
  };
  t.like(opened, { ok: true, outcome: { put: 1 } });
  t.is(opened.outcome.failed.length, 1);
  t.regex(opened.outcome.failed[0]?.reason ?? '', /ed25519/i);
  t.regex(logon.stderr, /"event":3021/);
  t.true((await certificatesIn(open)).includes('Alice u,u,u'));
  t.deepEqual(await certificatesIn(locked), []);
});
