import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { openssl, opensslP12, twoEndpoints } from '../support.js';

async function storeIsEmpty(dir: string): Promise<boolean> {
  const names = await readdir(path.join(dir, 'a', 'store', 'certs')).catch(() => []);
  const keys = await readdir(path.join(dir, 'a', 'store', 'keys')).catch(() => []);
  return names.length === 0 && keys.length === 0;
}

test('secrets are refused on the command line: pass: and any --password flag', async (t) => {
  const w = await twoEndpoints(t);
  const cred = await opensslP12(w.dir);
  const passArg = await w.a(['import', cred.file, '--passin', 'pass:p12 secret', ...w.pw]);
  t.is(passArg.code, 2);
  t.regex(passArg.stderr, /'pass:' would put the secret in the command line/);
  t.is((await w.a(['logon', '--password', 'x'])).code, 2);
  const none = await w.a(['sync']);
  t.is(none.code, 2);
  t.regex(
    none.stderr,
    /give the roaming password \(--password-stdin, --password-file FILE or \$CREDROAM_PASSWORD_FILE\)/,
  );
});

test('$CREDROAM_PASSWORD_FILE gives the roaming password', async (t) => {
  const w = await twoEndpoints(t);
  const r = await w.a(['logon'], { env: { CREDROAM_PASSWORD_FILE: path.join(w.dir, 'pw') } });
  t.is(r.code, 0, r.stderr);
});

test('import: a wrong file password, a truncated file, a key that does not match, a device, a huge file — each a clear error, nothing written', async (t) => {
  const w = await twoEndpoints(t);
  await w.a(['logon', ...w.pw]);
  const good = await opensslP12(w.dir, 'good');
  await writeFile(path.join(w.dir, 'wrong'), 'not the password');
  const cases: Array<[string[], RegExp]> = [
    [[good.file, '--passin', 'file:wrong'], /wrong password for the PKCS#12 file/],
    [
      [path.join(w.dir, 'truncated.p12'), '--passin', 'file:p12pw'],
      /not a PKCS#12 file, or truncated|cannot be read/,
    ],
    [
      [path.join(w.dir, 'good.cert.pem'), path.join(w.dir, 'other.key.pem')],
      /does not match any certificate/,
    ],
    [['/dev/zero'], /cannot read \/dev\/zero: not a regular file/],
    [[path.join(w.dir, 'huge.p12')], /huge\.p12: larger than 1 MiB/],
    [
      [(await opensslP12(w.dir, 'slow', ['-iter', '1500000'])).file, '--passin', 'file:p12pw'],
      /asks for 1500000 iterations; the limit is 1000000/,
    ],
  ];
  const { readFile } = await import('node:fs/promises');
  await writeFile(path.join(w.dir, 'truncated.p12'), (await readFile(good.file)).subarray(0, 300));
  await writeFile(path.join(w.dir, 'huge.p12'), Buffer.alloc(1024 * 1024 + 1));
  await openssl(
    ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'other.key.pem'],
    w.dir,
  );
  for (const [args, message] of cases) {
    const r = await w.a(['import', ...args, ...w.pw]);
    t.is(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, message);
  }
  t.true(await storeIsEmpty(w.dir));
});

test('import: a legacy-encrypted file (RC2, 3DES) imports, and the output says what was read', async (t) => {
  const w = await twoEndpoints(t);
  await w.a(['logon', ...w.pw]);
  const old = await opensslP12(w.dir, 'old', ['-legacy']);
  const r = await w.a(['import', old.file, '--passin', 'file:p12pw', ...w.pw]);
  t.is(r.code, 0, r.stderr);
  t.is(
    r.stdout,
    `imported ${old.fingerprint} with its private key\n` +
      '(read legacy encryption: pbeWithSHAAnd40BitRC2-CBC (the certificate container); credroam writes only PBES2 with AES-256)\n' +
      '(read legacy encryption: pbeWithSHAAnd3-KeyTripleDES-CBC (the private key); credroam writes only PBES2 with AES-256)\n',
  );
});

test('import without --passin: a file with a password says it needs it (not "wrong password"); a file without one imports', async (t) => {
  const w = await twoEndpoints(t);
  await w.a(['logon', ...w.pw]);
  const locked = await opensslP12(w.dir, 'locked');
  const r = await w.a(['import', locked.file, ...w.pw, '--json']);
  t.is(r.code, 1, r.stderr);
  t.notRegex(r.stderr, /wrong password/);
  t.regex(
    r.stderr,
    /locked\.p12 is protected by a password: give it with --passin file:PATH, env:VAR, fd:N or stdin \[E_PASSIN_NEEDED\]/,
  );
  t.like(JSON.parse(r.stdout), { error: { code: 'E_PASSIN_NEEDED', ids: { file: locked.file } } });
  t.true(await storeIsEmpty(w.dir));
  await writeFile(path.join(w.dir, 'empty'), '\n'); // an empty password
  await openssl(
    [
      'pkcs12',
      '-export',
      '-in',
      'locked.cert.pem',
      '-inkey',
      'locked.key.pem',
      '-out',
      'open.p12',
      '-passout',
      'file:empty',
    ],
    w.dir,
  );
  const open = await w.a(['import', path.join(w.dir, 'open.p12'), ...w.pw]);
  t.is(open.code, 0, open.stderr);
  t.is(open.stdout, `imported ${locked.fingerprint} with its private key\n`);
});

test('export and remove of an unknown thumbprint, and export over an existing file, are clear errors', async (t) => {
  const w = await twoEndpoints(t);
  await w.a(['logon', ...w.pw]);
  const unknown = await w.a([
    'export',
    'deadbeefdeadbeef',
    '--out',
    'x.p12',
    '--passout',
    'file:p12pw',
    ...w.pw,
  ]);
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, /no credential with thumbprint deadbeefdeadbeef/);
  t.regex((await w.a(['remove', 'deadbeefdeadbeef'])).stderr, /no credential with thumbprint/);
  const cred = await opensslP12(w.dir);
  await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw]);
  await writeFile(path.join(w.dir, 'taken.p12'), 'mine');
  const over = await w.a([
    'export',
    cred.fingerprint,
    '--out',
    'taken.p12',
    '--passout',
    'file:p12pw',
    ...w.pw,
  ]);
  t.is(over.code, 1);
  t.regex(over.stderr, /already exists; add --force/);
});

test('a thumbprint prefix under 8 digits, or one that is not hex, is a usage error that says so; nothing is removed', async (t) => {
  const w = await twoEndpoints(t);
  const cred = await opensslP12(w.dir);
  await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw]);
  const short = cred.fingerprint.slice(0, 6);
  const remove = await w.a(['remove', short, '--json']);
  t.is(remove.code, 2, remove.stderr);
  t.is(
    remove.stderr,
    `credroam remove: thumbprint prefix ${short} is too short: give at least 8 hex digits (it matches 1 credential here), or the whole SHA-256 or SHA-1 thumbprint; see \`credroam remove --help\` [E_THUMBPRINT_TOO_SHORT]\n`,
  );
  t.like(JSON.parse(remove.stdout), {
    error: { code: 'E_THUMBPRINT_TOO_SHORT', ids: { thumbprint: short, matches: 1 } },
  });
  const exported = await w.a(['export', short, '--out', 'x.p12', '--passout', 'file:p12pw', ...w.pw]);
  t.is(exported.code, 2);
  t.regex(exported.stderr, /thumbprint prefix \w+ is too short/);
  const notHex = await w.a(['remove', 'alice-cert']);
  t.is(notHex.code, 2);
  t.regex(notHex.stderr, /'alice-cert' is not a thumbprint: give its SHA-256 or SHA-1 in hex/);
  t.false(await storeIsEmpty(w.dir), 'nothing was removed');
});

test('init refuses to overwrite a configuration and refuses non-URL directories', async (t) => {
  const w = await twoEndpoints(t);
  const again = await w.a(['init', '--directory', `file://${w.dir}/directory`]);
  t.is(again.code, 1);
  t.regex(again.stderr, /already exists; add --force/);
  const bad = await w.a(['init', '--directory', 'not a url', '--force']);
  t.is(bad.code, 2);
});

test('entries of the folder directory that are not base64 strings: logon and sync go on (exit 3, event 1030), never "unreachable"', async (t) => {
  const w = await twoEndpoints(t);
  const cred = await opensslP12(w.dir);
  await w.a(['logon', ...w.pw]);
  await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw]);
  t.is((await w.a(['sync', ...w.pw])).code, 0);
  const { readFile } = await import('node:fs/promises');
  const values = path.join(w.dir, 'directory', 'alice', 'values');
  const entry = JSON.parse(await readFile(values, 'utf8')) as { tokens: unknown[]; keys: unknown[] };
  entry.tokens.push(42, { evil: true }, null);
  entry.keys.push(7);
  await writeFile(values, JSON.stringify(entry));
  const logon = await w.b(['logon', ...w.pw, '--json']);
  t.is(logon.code, 3, logon.stderr);
  t.like(JSON.parse(logon.stdout), { counts: { downloaded: 2 } });
  t.notRegex(logon.stderr, /unreachable/);
  const events = logon.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { event: number; message: string });
  t.deepEqual(
    events.filter((e) => e.event === 1030).map((e) => e.message.split(' (')[0]),
    [
      'skipped directory value: tokens[2]: a number, not a base64 string',
      'skipped directory value: tokens[3]: an object, not a base64 string',
      'skipped directory value: tokens[4]: null, not a base64 string',
      'skipped directory value: keys[1]: a number, not a base64 string',
    ],
  );
  const sync = await w.a(['sync', '--full', ...w.pw, '--json']);
  t.is(sync.code, 3, sync.stderr);
  t.is((JSON.parse(sync.stdout) as { skipped: unknown[] }).skipped.length, 4);
});

test('a link where the store keeps a folder: a download is not written through it; logon says so (exit 3) and roams the rest', async (t) => {
  const w = await twoEndpoints(t);
  const cred = await opensslP12(w.dir);
  await w.a(['logon', ...w.pw]);
  await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw]);
  t.is((await w.a(['sync', ...w.pw])).code, 0);
  const { mkdir, symlink, rm, lstat } = await import('node:fs/promises');
  const elsewhere = path.join(w.dir, 'elsewhere');
  const certs = path.join(w.dir, 'b', 'store', 'certs');
  await mkdir(elsewhere);
  await mkdir(path.dirname(certs), { recursive: true, mode: 0o700 });
  await symlink(elsewhere, certs);
  const logon = await w.b(['logon', ...w.pw, '--json']);
  t.is(logon.code, 3, logon.stderr);
  t.like(JSON.parse(logon.stdout), { counts: { downloaded: 1 } }, 'the key still roams');
  t.deepEqual(await readdir(elsewhere), [], 'nothing was written through the link');
  t.true(logon.stderr.includes(`${certs} is a link`), logon.stderr);
  t.true(
    logon.stderr
      .split('\n')
      .some((l) => l.startsWith('{') && (JSON.parse(l) as { event: number }).event === 1032),
    'event 1032',
  );
  await rm(certs);
  const again = await w.b(['sync', ...w.pw, '--json']);
  t.is(again.code, 0, again.stderr);
  t.like(JSON.parse(again.stdout), { counts: { downloaded: 1 } });
  t.true((await lstat(certs)).isDirectory());
});

test('doctor reports store files and folders that others can use; the next sync makes them owner-only', async (t) => {
  const w = await twoEndpoints(t);
  const cred = await opensslP12(w.dir);
  await w.a(['logon', ...w.pw]);
  await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw]);
  const { chmod, lstat } = await import('node:fs/promises');
  const keys = path.join(w.dir, 'a', 'store', 'keys');
  const [keyFile] = await readdir(keys);
  await chmod(path.join(keys, keyFile!), 0o644);
  await chmod(path.join(w.dir, 'a', 'store'), 0o755);
  const doctor = await w.a(['doctor', '--json']);
  t.is(doctor.code, 1, doctor.stderr);
  const report = JSON.parse(doctor.stdout) as {
    checks: Array<{ check: string; ok: boolean; detail: string }>;
  };
  const store = report.checks.find((c) => c.check === 'store');
  t.false(store?.ok);
  t.true(store?.detail.includes(`${path.join(keys, keyFile!)}: mode 644`), store?.detail);
  t.true(store?.detail.includes(`${path.join(w.dir, 'a', 'store')}: mode 755`), store?.detail);
  // The primary is not listed while its check fails: listing it would repair the modes.
  t.regex(
    report.checks.find((c) => c.check === 'destination')?.detail ?? '',
    /not listed while the store check fails/,
  );
  t.is((await lstat(path.join(keys, keyFile!))).mode & 0o777, 0o644, 'doctor only reports');
  const sync = await w.a(['sync', ...w.pw, '--verbose']);
  t.is(sync.code, 0, sync.stderr);
  t.regex(sync.stderr, /"event":1033/);
  t.is((await lstat(path.join(keys, keyFile!))).mode & 0o777, 0o600);
  const healthy = await w.a(['doctor', '--json']);
  t.is(healthy.code, 0, healthy.stdout);
});

test('an empty roaming password is refused before anything is made; a first logon says it made the master key', async (t) => {
  const w = await twoEndpoints(t);
  for (const input of ['', '\n']) {
    const r = await w.a(['logon', '--password-stdin'], { input });
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, /the roaming password is empty/);
  }
  await writeFile(path.join(w.dir, 'empty'), '');
  t.is((await w.a(['logon', '--password-file', 'empty'])).code, 2);
  t.deepEqual(await readdir(path.join(w.dir, 'directory')).catch(() => []), [], 'no key was made');
  const first = await w.a(['logon', ...w.pw]);
  t.is(first.code, 0, first.stderr);
  t.regex(first.stdout, /first logon: created your master key/);
});

test('import opens the file once and checks what it opened: a FIFO, /dev/zero, a link and a file larger than its size says are refused at once, nothing written', async (t) => {
  const w = await twoEndpoints(t);
  await w.a(['logon', ...w.pw]);
  const { execFile } = await import('node:child_process');
  const { symlink } = await import('node:fs/promises');
  const fifo = path.join(w.dir, 'fifo.p12');
  await new Promise<void>((resolve, reject) =>
    execFile('mkfifo', [fifo], (error) => (error ? reject(error) : resolve())),
  );
  const good = await opensslP12(w.dir, 'good');
  await symlink(good.file, path.join(w.dir, 'link.p12'));
  const cases: Array<[string, RegExp]> = [
    [fifo, new RegExp(`cannot read ${fifo}: not a regular file`)],
    ['/dev/zero', /cannot read \/dev\/zero: not a regular file/],
    [path.join(w.dir, 'link.p12'), /link\.p12: a symbolic link: give the file it points to/],
    // procfs says 0 bytes and holds megabytes: the bound is on what is read, not on the size said.
    ['/proc/kallsyms', /cannot read \/proc\/kallsyms: larger than 1 MiB/],
  ];
  for (const [file, message] of cases) {
    const started = Date.now();
    const r = await w.a(['import', file, '--passin', 'file:p12pw', ...w.pw]);
    t.is(r.code, 1, `${file}: ${r.stderr}`);
    t.regex(r.stderr, message);
    t.regex(r.stderr, /\[E_IMPORT\]/);
    t.true(Date.now() - started < 10_000, `${file} took ${Date.now() - started} ms`);
  }
  t.true(await storeIsEmpty(w.dir));
});

test('import of a file that is not there names the full path it tried (pnpm runs the CLI from the checkout root)', async (t) => {
  const w = await twoEndpoints(t);
  const r = await w.a(['import', 'alice.crt']);
  t.is(r.code, 1);
  t.regex(
    r.stderr,
    new RegExp(`cannot read ${path.join(w.dir, 'alice.crt')}: no such file \\(ENOENT\\) \\[E_IMPORT\\]`),
  );
});

test('a password file is read to at most 64 KiB: a larger one, or /dev/zero, is a clear error at once (--passin file:, --password-file)', async (t) => {
  const w = await twoEndpoints(t);
  const cred = await opensslP12(w.dir);
  await writeFile(path.join(w.dir, 'big'), Buffer.alloc(64 * 1024 + 1, 'a'));
  for (const args of [
    ['import', cred.file, '--passin', `file:${path.join(w.dir, 'big')}`, ...w.pw],
    ['import', cred.file, '--passin', 'file:/dev/zero', ...w.pw],
    ['sync', '--password-file', path.join(w.dir, 'big')],
  ]) {
    const started = Date.now();
    const r = await w.a(args);
    t.is(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, /holds more than 64 KiB: not a password file \[E_SECRET\]/);
    t.true(Date.now() - started < 10_000, `${args.join(' ')} took ${Date.now() - started} ms`);
  }
  // Exactly at the bound, with its newline: still read (a wrong password, not a refused file).
  await writeFile(path.join(w.dir, 'edge'), `${'a'.repeat(64 * 1024 - 1)}\n`);
  const edge = await w.a(['import', cred.file, '--passin', `file:${path.join(w.dir, 'edge')}`, ...w.pw]);
  t.regex(edge.stderr, /wrong password for the PKCS#12 file/);
});
