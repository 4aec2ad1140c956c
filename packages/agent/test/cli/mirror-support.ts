import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { fingerprintOf, openssl } from '../support.js';

const run = promisify(execFile);

/** Runs NSS's `certutil` (passwords in files); its output. */
export async function certutil(args: readonly string[]): Promise<string> {
  const { stdout } = await run('certutil', [...args], { encoding: 'utf8' });
  return stdout;
}

/** `pk12util`, as a browser's import does. */
export async function pk12util(args: readonly string[]): Promise<string> {
  const { stdout } = await run('pk12util', [...args], { encoding: 'utf8' });
  return stdout;
}

/** A new NSS database in `dir` (made by `certutil -N`; an empty password, as Chromium and Firefox make it, unless `passwordFile`). */
export async function nssDatabase(dir: string, passwordFile?: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await certutil(['-N', ...(passwordFile ? ['-f', passwordFile] : ['--empty-password']), '-d', `sql:${dir}`]);
  return dir;
}

/** The nicknames and trust flags of a database (`certutil -L`), one `nickname trust` a line. */
export async function certificatesIn(database: string): Promise<string[]> {
  const out = await certutil(['-L', '-d', `sql:${database}`]);
  return out
    .split('\n')
    .slice(4)
    .map((l) => l.trim().replace(/\s{2,}/g, ' '))
    .filter((l) => l !== '');
}

/** The private keys of a database (`certutil -K`): each line `<n> type ckaid label`. */
export async function keysIn(database: string): Promise<string[]> {
  const out = await run('certutil', ['-K', '-d', `sql:${database}`, '-f', '/dev/null'], {
    encoding: 'utf8',
  }).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? '', stderr: e.stderr ?? '' }));
  return out.stdout.split('\n').filter((l) => /^<\s*\d+>/.test(l));
}

/** A test CA in `dir` (`ca.pem`, `ca.key`), made once. */
export async function testCa(dir: string): Promise<void> {
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
      'ca.key',
      '-out',
      'ca.pem',
      '-subj',
      '/CN=credroam test CA',
      '-days',
      '30',
      '-addext',
      'basicConstraints=critical,CA:true',
      '-addext',
      'keyUsage=critical,keyCertSign',
    ],
    dir,
  );
}

/**
 * A client credential issued by the test CA (an end-entity certificate: browsers offer no CA
 * certificate as a client certificate), exported by openssl as PKCS#12 with the password in
 * `p12pw`. `days: -1` makes one that expired yesterday.
 */
export async function clientCredential(
  dir: string,
  name: string,
  options: { readonly friendlyName?: string; readonly days?: number } = {},
): Promise<{ file: string; fingerprint: string; cert: string; key: string }> {
  await openssl(
    [
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key.pem`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${name}`,
    ],
    dir,
  );
  await writeFile(
    path.join(dir, `${name}.ext`),
    'basicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n',
  );
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.cert.pem`,
      '-days',
      String(options.days ?? 30),
      '-extfile',
      `${name}.ext`,
    ],
    dir,
  );
  await openssl(
    [
      'pkcs12',
      '-export',
      '-in',
      `${name}.cert.pem`,
      '-inkey',
      `${name}.key.pem`,
      '-certfile',
      'ca.pem',
      '-out',
      `${name}.p12`,
      '-passout',
      'file:p12pw',
      ...(options.friendlyName ? ['-name', options.friendlyName] : []),
    ],
    dir,
  );
  return {
    file: path.join(dir, `${name}.p12`),
    cert: path.join(dir, `${name}.cert.pem`),
    key: path.join(dir, `${name}.key.pem`),
    fingerprint: fingerprintOf(
      await openssl(['x509', '-in', `${name}.cert.pem`, '-noout', '-fingerprint', '-sha256'], dir),
    ),
  };
}

/** Adds settings to an agent manifest `credroam init` wrote. */
export async function amendManifest(file: string, extra: Record<string, unknown>): Promise<void> {
  const manifest = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  await writeFile(file, JSON.stringify({ ...manifest, ...extra }, null, 2));
}

/**
 * A user's home as the programs leave it: Chromium's database (`~/.local/share/pki/nssdb`), and
 * Firefox's `profiles.ini` naming two profiles, one relative to it and one elsewhere (`IsRelative=0`),
 * each with its database. Made by `certutil -N`.
 */
export async function desktopHome(root: string): Promise<{
  home: string;
  chromium: string;
  firefox: readonly [string, string];
}> {
  const home = path.join(root, 'home');
  const chromium = await nssDatabase(path.join(home, '.local', 'share', 'pki', 'nssdb'));
  const ffRoot = path.join(home, '.mozilla', 'firefox');
  const first = await nssDatabase(path.join(ffRoot, 'k3x9a1.default-esr'));
  const second = await nssDatabase(path.join(root, 'elsewhere', 'work-profile'));
  await writeFile(
    path.join(ffRoot, 'profiles.ini'),
    [
      '[Install3B6073811A6ABF12]',
      'Default=k3x9a1.default-esr',
      'Locked=1',
      '',
      '[Profile1]',
      'Name=work',
      'IsRelative=0',
      `Path=${second}`,
      '',
      '[Profile0]',
      'Name=default-esr',
      'IsRelative=1',
      'Path=k3x9a1.default-esr',
      'Default=1',
      '',
      '[General]',
      'StartWithLastProfile=1',
      'Version=2',
      '',
    ].join('\n'),
  );
  return { home, chromium, firefox: [first, second] };
}
