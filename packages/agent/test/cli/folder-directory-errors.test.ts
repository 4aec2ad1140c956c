import { execFile } from 'node:child_process';
import { chown, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';
import { BIN, openssl, opensslSelfSigned, runProgram, stopProcessesUsing } from '../support.js';

/**
 * The embedded folder directory as a site deploys it (docs/admin/deploying.md, "The directory"): a
 * root only root may write, one folder per user made by the administrator. credroam runs as an
 * unprivileged user (`nobody`), as root is never denied a folder: what that user meets when their
 * folder is missing, not theirs, or the root is not there is an error with a code and the command
 * that fixes it (the one `credroam doctor` prints), never a raw `EACCES`.
 */
const NOBODY = 65534;
const sh = promisify(execFile);

type Run = (args: readonly string[]) => Promise<{ code: number; stdout: string; stderr: string }>;

async function site(t: ExecutionContext, user: string, directory = 'share') {
  if (process.getuid?.() !== 0) {
    t.fail(
      'this test runs credroam as nobody next to a share only root may write: it needs root (CI runs as root)',
    );
    throw new Error('not root');
  }
  const dir = await mkdtemp('/tmp/credroam-folder-');
  t.teardown(async () => {
    await stopProcessesUsing(dir);
    await rm(dir, { recursive: true, force: true });
  });
  await chown(dir, NOBODY, NOBODY);
  const share = path.join(dir, 'share');
  await mkdir(share, { mode: 0o755 }); // root's: users may not write it
  const pw = path.join(dir, 'pw');
  await writeFile(pw, `${user} roaming password\n`, { mode: 0o600 });
  await chown(pw, NOBODY, NOBODY);
  await writeFile(
    path.join(dir, 'policy.json'),
    JSON.stringify({ protection: { kdf: { name: 'scrypt', N: 16384, r: 8, p: 1 } } }),
  );
  const asNobody: Run = (args) =>
    runProgram(
      'setpriv',
      [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', process.execPath, BIN, ...args],
      { env: { HOME: dir }, cwd: dir },
    );
  const config = path.join(dir, 'c.json');
  const init = await asNobody([
    'init',
    '--config',
    config,
    '--directory',
    `file://${path.join(dir, directory)}`,
    '--home',
    path.join(dir, 'home'),
    '--user',
    user,
    '--policy',
    path.join(dir, 'policy.json'),
  ]);
  t.is(init.code, 0, init.stderr);
  const run: Run = (args) => asNobody(['--config', config, ...args]);
  return { dir, share, init, run, pw: ['--password-file', pw] as const };
}

/** The failing check of `credroam doctor --json`, and its fix. */
async function doctorFix(t: ExecutionContext, run: Run): Promise<{ check: string; fix: string }> {
  const doctor = await run(['doctor', '--json']);
  t.is(doctor.code, 1, doctor.stdout + doctor.stderr);
  const failing = (
    JSON.parse(doctor.stdout) as { checks: Array<{ check: string; ok: boolean; fix?: string }> }
  ).checks.filter((c) => !c.ok);
  t.is(failing.length, 1, doctor.stdout);
  return { check: failing[0]!.check, fix: failing[0]!.fix ?? '' };
}

/** Runs, as root, the command a fix names after its colon (`create the user's folder: install …`). */
async function apply(fix: string): Promise<void> {
  const command = fix.slice(fix.indexOf(': ') + 2);
  await sh('sh', ['-c', command]);
}

test("a user whose folder is missing in a share only root may write: E_UNREACHABLE with doctor's fix; nothing is made in the share", async (t) => {
  const { share, run, pw } = await site(t, 'bob');
  const logon = await run(['logon', ...pw]);
  t.is(logon.code, 1, logon.stderr);
  t.notRegex(logon.stderr, /EACCES: permission denied|mkdir '/);
  const { check, fix } = await doctorFix(t, run);
  t.is(check, 'write');
  t.is(fix, `create the user's folder: install -d -m 0700 -o nobody ${path.join(share, 'bob')}`);
  t.true(logon.stderr.endsWith(`nothing was read or written; fix: ${fix} [E_UNREACHABLE]\n`), logon.stderr);
  t.deepEqual(await readdir(share), [], 'nothing was made in the share');

  const sync = await run(['sync', ...pw]);
  t.is(sync.code, 1);
  t.true(sync.stderr.includes(`fix: ${fix} [E_UNREACHABLE]`), sync.stderr);

  await apply(fix);
  const again = await run(['logon', ...pw]);
  t.is(again.code, 0, again.stderr);
  t.is((await run(['doctor'])).code, 0);
});

test("a user's folder made without -o (root's, 0700) is E_UNREACHABLE with doctor's fix, never a raw EACCES", async (t) => {
  const { share, run, pw } = await site(t, 'carol');
  const folder = path.join(share, 'carol');
  await mkdir(folder, { mode: 0o700 }); // install -d -m 0700 without -o carol
  const logon = await run(['logon', ...pw]);
  t.is(logon.code, 1, logon.stderr);
  t.notRegex(logon.stderr, /EACCES: permission denied/);
  const { check, fix } = await doctorFix(t, run);
  t.is(check, 'write');
  t.is(fix, `give the user their folder: chown -R nobody ${folder} && chmod 0700 ${folder}`);
  t.true(logon.stderr.includes(`fix: ${fix} [E_UNREACHABLE]`), logon.stderr);
  await apply(fix);
  t.is((await run(['logon', ...pw])).code, 0);
  t.is((await stat(folder)).uid, NOBODY);
});

test('a folder taken from its user: logon opens the keys from this endpoint, the sync fails with the fix, and nothing local or in the directory is lost', async (t) => {
  const { dir, share, run, pw } = await site(t, 'dave');
  const folder = path.join(share, 'dave');
  await sh('install', ['-d', '-m', '0700', '-o', String(NOBODY), folder]);
  t.is((await run(['logon', ...pw])).code, 0);
  const importCert = async (name: string) => {
    await opensslSelfSigned(dir, name);
    await chown(path.join(dir, `${name}.cert.pem`), NOBODY, NOBODY);
    t.is((await run(['import', path.join(dir, `${name}.cert.pem`), ...pw])).code, 0);
    const fingerprint = await openssl(
      ['x509', '-in', `${name}.cert.pem`, '-noout', '-fingerprint', '-sha256'],
      dir,
    );
    return fingerprint.split('=')[1]!.trim().replace(/:/g, '').toLowerCase();
  };
  const first = await importCert('first');
  t.is((await run(['sync', ...pw])).code, 0);
  const values = await readFile(path.join(folder, 'values'));

  // An administrator's mistake: the folder is root's now, 0700. The user cannot read it: as with a
  // server that does not answer, logon opens the keys from this endpoint's copy.
  await chown(folder, 0, 0);
  const listed = (await run(['list', '--json'])).stdout;
  t.regex(listed, new RegExp(first));
  t.is((await run(['logon', ...pw])).code, 0);
  const unreadable = await run(['sync', ...pw, '--full']);
  t.is(unreadable.code, 1);
  t.notRegex(unreadable.stderr, /EACCES: permission denied/);
  const taken = await doctorFix(t, run);
  t.true(unreadable.stderr.includes(`fix: ${taken.fix} [E_UNREACHABLE]`), unreadable.stderr);
  t.is((await run(['list', '--json'])).stdout, listed, 'the local store is untouched');

  // Readable but not writable (root's, 0755): what this endpoint has does not roam, and stays.
  await sh('chmod', ['-R', 'a+rX', folder]);
  const second = await importCert('second');
  const unwritable = await run(['sync', ...pw]);
  t.is(unwritable.code, 1);
  const readOnly = await doctorFix(t, run);
  t.is(readOnly.fix, taken.fix);
  t.true(
    unwritable.stderr.includes(`nothing was written; fix: ${readOnly.fix} [E_ACCESS]`),
    unwritable.stderr,
  );
  const kept = (await run(['list', '--json'])).stdout;
  t.true(kept.includes(first) && kept.includes(second), 'both credentials stay on this endpoint');
  t.deepEqual(await readFile(path.join(folder, 'values')), values, 'the directory is untouched');

  await apply(readOnly.fix);
  const after = await run(['sync', ...pw, '--json']);
  t.is(after.code, 0, after.stderr);
  t.like(JSON.parse(after.stdout), { counts: { uploaded: 1 } });
  t.is((await run(['doctor'])).code, 0);
});

test("init with a directory folder the user may not make writes the manifest and says what to run; logon then gives E_UNREACHABLE with doctor's fix", async (t) => {
  const { share, init, run, pw } = await site(t, 'erin', 'share/credroam');
  const root = path.join(share, 'credroam');
  t.regex(init.stdout, /^wrote /);
  const { check, fix } = await doctorFix(t, run);
  t.is(check, 'reachability');
  t.is(fix, `mount the share, or make the folder: install -d -m 0755 ${root}`);
  t.true(init.stdout.includes(fix), init.stdout);
  t.notRegex(init.stdout + init.stderr, /EACCES: permission denied/);
  t.deepEqual(await readdir(share), [], 'init made nothing in the share');
  const logon = await run(['logon', ...pw]);
  t.is(logon.code, 1);
  t.true(logon.stderr.includes(`fix: ${fix} [E_UNREACHABLE]`), logon.stderr);
  t.deepEqual(await readdir(share), []);
});
