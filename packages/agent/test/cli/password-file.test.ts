import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { credroam, opensslP12, tempDir, twoEndpoints } from '../support.js';

/**
 * Files that hold a secret credroam reads (the roaming password, a file's --passin, an LDAP bind
 * password): one others may read is said, with the file and the fix, on every read and by doctor;
 * an error names the absolute path tried.
 */
const warning = (what: string, file: string, mode: string) =>
  `credroam: warning: the ${what} file ${file} can be read by group or others (mode ${mode}): keep it owner-only: chmod 600 ${file}\n`;

type Check = { check: string; ok: boolean; detail: string; warning?: string; fix?: string };
const checks = (stdout: string) => (JSON.parse(stdout) as { checks: Check[] }).checks;

test('a roaming-password file group or others can read: logon and sync warn naming it and the fix, doctor reports $CREDROAM_PASSWORD_FILE; an owner-only one is quiet', async (t) => {
  const w = await twoEndpoints(t);
  const file = path.join(w.dir, 'pw');
  await chmod(file, 0o644);
  const logon = await w.a(['logon', ...w.pw]);
  t.is(logon.code, 0, logon.stderr);
  t.true(logon.stderr.includes(warning('roaming password', file, '0644')), logon.stderr);
  const env = { CREDROAM_PASSWORD_FILE: file };
  const sync = await w.a(['sync'], { env });
  t.is(sync.code, 0, sync.stderr);
  t.true(sync.stderr.includes(warning('roaming password', file, '0644')), sync.stderr);

  const doctor = await w.a(['doctor', '--json'], { env });
  t.is(doctor.code, 0, doctor.stdout);
  t.like(
    checks(doctor.stdout).find((c) => c.check === 'password file'),
    {
      ok: true,
      detail: `${file} ($CREDROAM_PASSWORD_FILE): the roaming password`,
      warning:
        'can be read by group or others (mode 0644): if someone else may have read it, change the roaming password (credroam passwd)',
      fix: `chmod 600 ${file}`,
    },
  );
  const text = await w.a(['doctor'], { env });
  t.regex(
    text.stdout,
    new RegExp(
      `WARN password file: .*\\n.*warning: can be read by group or others.*\\n +fix: chmod 600 ${file}\\n`,
    ),
  );

  await chmod(file, 0o600);
  const quiet = await w.a(['sync', ...w.pw]);
  t.is(quiet.code, 0);
  t.notRegex(quiet.stderr, /warning/);
  t.like(
    checks((await w.a(['doctor', '--json'], { env })).stdout).find((c) => c.check === 'password file'),
    { ok: true, detail: `${file} ($CREDROAM_PASSWORD_FILE): the roaming password, owner-only (mode 0600)` },
  );
  t.is(
    checks((await w.a(['doctor', '--json'])).stdout).find((c) => c.check === 'password file'),
    undefined,
    'no file named, none checked',
  );
  const help = (await credroam(['logon', '--help'])).stdout;
  t.regex(
    help,
    /Keep the password file owner-only: \(umask 077; cat > ~\/\.credroam-password\), or chmod 600 it/,
  );
});

test('$CREDROAM_PASSWORD_FILE naming a file that is not there fails doctor', async (t) => {
  const w = await twoEndpoints(t);
  const file = path.join(w.dir, 'gone');
  const doctor = await w.a(['doctor', '--json'], { env: { CREDROAM_PASSWORD_FILE: file } });
  t.is(doctor.code, 1);
  t.like(
    checks(doctor.stdout).find((c) => c.check === 'password file'),
    { ok: false, detail: `${file} ($CREDROAM_PASSWORD_FILE): cannot be read (ENOENT)` },
  );
});

test("--passin file: and the new password's file warn the same way", async (t) => {
  const w = await twoEndpoints(t);
  await chmod(path.join(w.dir, 'pw'), 0o600);
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  const cred = await opensslP12(w.dir);
  const p12pw = path.join(w.dir, 'p12pw');
  await chmod(p12pw, 0o640);
  const imported = await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw]);
  t.is(imported.code, 0, imported.stderr);
  t.true(imported.stderr.includes(warning('--passin', p12pw, '0640')), imported.stderr);
  const next = path.join(w.dir, 'next');
  await writeFile(next, 'a new roaming password\n', { mode: 0o604 });
  await chmod(next, 0o604);
  const passwd = await w.a(['passwd', '--old-password-file', 'pw', '--new-password-file', 'next']);
  t.is(passwd.code, 0, passwd.stderr);
  t.true(passwd.stderr.includes(warning('new password', next, '0604')), passwd.stderr);
});

test('a secret file that cannot be read is named by its absolute path, whatever the working folder', async (t) => {
  const w = await twoEndpoints(t); // commands run with the test folder as their working folder
  const logon = await w.a(['logon', '--password-file', 'nope']);
  t.is(logon.code, 1);
  t.true(
    logon.stderr.includes(
      `cannot read the roaming password from ${path.join(w.dir, 'nope')}: ENOENT: there is no such file; give the path of the file that holds it [E_SECRET]`,
    ),
    logon.stderr,
  );
  const cred = await opensslP12(w.dir);
  const imported = await w.a(['import', cred.file, '--passin', 'file:elsewhere/p12pw', ...w.pw]);
  t.is(imported.code, 1);
  t.true(
    imported.stderr.includes(
      `cannot read the --passin from ${path.join(w.dir, 'elsewhere', 'p12pw')}: ENOENT`,
    ),
    imported.stderr,
  );
});

test('an LDAP bind password file others can read: init warns, doctor reports it with the fix', async (t) => {
  const dir = await tempDir(t);
  const bindPw = path.join(dir, 'bind.pw');
  await writeFile(bindPw, 'service secret\n');
  await chmod(bindPw, 0o644);
  await writeFile(path.join(dir, 'ca.pem'), '');
  const config = path.join(dir, 'c.json');
  const init = await credroam(
    [
      'init',
      '--config',
      config,
      '--home',
      path.join(dir, 'home'),
      '--user',
      'alice',
      '--directory',
      'ldaps://127.0.0.1:1',
      '--ca-file',
      path.join(dir, 'ca.pem'),
      '--user-dn',
      'uid=alice,dc=example,dc=org',
      '--bind',
      'simple',
      '--bind-dn',
      'cn=credroam,dc=example,dc=org',
      '--bind-password-file',
      bindPw,
    ],
    { cwd: dir },
  );
  t.is(init.code, 0, init.stderr);
  t.true(
    init.stdout.includes(
      `warning: the bind password file ${bindPw} can be read by group or others (mode 0644): keep it owner-only: chmod 600 ${bindPw}`,
    ),
    init.stdout,
  );
  const doctor = await credroam(['--config', config, 'doctor', '--json'], { cwd: dir });
  t.like(
    checks(doctor.stdout).find((c) => c.check === 'password file'),
    { ok: true, detail: `${bindPw} (bindPasswordFile): the bind password`, fix: `chmod 600 ${bindPw}` },
  );
});
