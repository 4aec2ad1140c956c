import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { pamProofProblem } from '../src/daemon/pam-proof.js';
import { BIN, runProgram } from './support.js';

/**
 * The password-change channel for real: the project's PAM hook (packaging/pam/credroam-pam-hook),
 * run by pam_exec as root under Debian's pamtester, hands passwords to an agent running as an
 * unprivileged user (`nobody`); another program of that user tries to set a password of its own.
 */
const HOOK = fileURLToPath(new URL('../../../../packaging/pam/credroam-pam-hook', import.meta.url));
const NOBODY = 65534;

const run = (cmd: string, args: readonly string[], input?: string) =>
  runProgram(cmd, args, input === undefined ? {} : { input });

test('only a password that came through PAM re-wraps the keys; another program of the user cannot set its own', async (t) => {
  if (process.getuid?.() !== 0) {
    t.fail('this test installs a PAM service and runs an agent as nobody: it needs root (CI runs as root)');
    return;
  }
  const dir = await mkdtemp('/tmp/credroam-pam-');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await chown(dir, NOBODY, NOBODY);
  const asNobody = (args: readonly string[], input?: string) =>
    run(
      'setpriv',
      [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', process.execPath, BIN, ...args],
      input,
    );
  for (const e of ['a', 'b']) {
    const r = await asNobody([
      'init',
      '--config',
      path.join(dir, `${e}.json`),
      '--directory',
      `file://${dir}/directory`,
      '--home',
      path.join(dir, e),
      '--user',
      'alice',
    ]);
    t.is(r.code, 0, r.stderr);
  }
  await asNobody(['--config', path.join(dir, 'a.json'), 'status']); // (makes nothing; checks the config reads)
  const [a, b] = ['a', 'b'].map(
    (e) => (args: readonly string[], input?: string) =>
      asNobody(['--config', path.join(dir, `${e}.json`), ...args], input),
  ) as [typeof asNobody, typeof asNobody];
  t.teardown(async () => void (await a(['trigger', 'stop'])));

  // The hook as installed, pointed at this checkout's credroam (as /usr/bin/credroam would be).
  const wrapper = path.join(dir, 'credroam');
  await writeFile(wrapper, `#!/bin/sh\nexec "${process.execPath}" "${BIN}" --config "${dir}/a.json" "$@"\n`);
  const hook = path.join(dir, 'hook');
  await writeFile(hook, (await readFile(HOOK, 'utf8')).replace(/^CREDROAM=.*$/m, `CREDROAM="${wrapper}"`));
  await Promise.all([chmod(wrapper, 0o755), chmod(hook, 0o755)]);
  const service = `credroam-test-${randomBytes(4).toString('hex')}`;
  await writeFile(
    `/etc/pam.d/${service}`,
    `auth optional pam_exec.so expose_authtok quiet ${hook} logon\nauth required pam_permit.so\naccount required pam_permit.so\n`,
  );
  t.teardown(() => rm(`/etc/pam.d/${service}`, { force: true }));
  const pam = (password: string) => run('pamtester', [service, 'nobody', 'authenticate'], `${password}\n`);

  t.is((await pam('first password')).code, 0);
  const status = JSON.parse((await a(['status', '--json'])).stdout) as {
    agent: { running: boolean; unlocked: boolean };
  };
  t.like(status.agent, { running: true, unlocked: true }, 'the hook started the agent, which holds the keys');
  const { stat } = await import('node:fs/promises');
  for (const d of ['/run/credroam', '/run/credroam/pam', `/run/credroam/pam/${NOBODY}`]) {
    const st = await stat(d);
    t.is(st.mode & 0o777, 0o711, `${d}: the user can reach a proof by its name, never list the tokens`);
    t.is(st.uid, 0);
  }

  // Another program of the user, straight to the agent: no proof, then a proof it made itself.
  const plain = await a(['logon', '--pam', '--password-stdin'], 'attacker password\n');
  t.is(plain.code, 1);
  t.regex(plain.stderr, /did not come through the system logon/);
  const token = randomBytes(16).toString('hex');
  const forged = path.join('/run/credroam/pam', String(NOBODY), token);
  await mkdir(path.dirname(forged), { recursive: true, mode: 0o755 });
  await writeFile(forged, '');
  await chown(forged, NOBODY, NOBODY); // what a user can make: a file of its own
  t.teardown(() => rm(forged, { force: true }));
  const withForged = await a(
    ['logon', '--pam', '--password-stdin'],
    `credroam-pam-proof ${token}\nattacker password\n`,
  );
  t.is(withForged.code, 1);
  t.regex(await readFile(path.join(dir, 'a', 'agent.log'), 'utf8'), /"event":1023.*not root's/);
  const passwd = await a(['passwd', '--new-password-file', wrapper]);
  t.is(passwd.code, 2, 'passwd without the old password is refused');

  t.is(
    (await b(['logon', '--password-stdin'], 'attacker password\n')).code,
    1,
    'the attacker’s password opens nothing',
  );
  t.is((await b(['logon', '--password-stdin'], 'first password\n')).code, 0, 'the real one still does');

  // The system password changes: the next PAM authentication carries it, with the hook's proof.
  const changed = await pam('changed by passwd');
  t.is(changed.code, 0, changed.stdout + changed.stderr);
  const c = await a(['status', '--json']);
  t.is(c.code, 0);
  await rm(path.join(dir, 'b', 'keys.json'));
  const fresh = await b(['logon', '--password-stdin'], 'changed by passwd\n');
  t.is(fresh.code, 0, `the keys were re-wrapped for the password that came through PAM: ${fresh.stderr}`);
});

test('a PAM proof holds only as a fresh, unused, root-owned file in folders only root can write', async (t) => {
  if (process.getuid?.() !== 0) {
    t.fail('making root-owned and user-owned proof files needs root (CI runs as root)');
    return;
  }
  await mkdir('/run', { recursive: true });
  const root = await mkdtemp('/run/credroam-proof-test-');
  t.teardown(() => rm(root, { recursive: true, force: true }));
  await chmod(root, 0o755);
  const uid = 1234;
  const token = randomBytes(16).toString('hex');
  const file = path.join(root, String(uid), token);
  await mkdir(path.dirname(file), { mode: 0o755 });
  await writeFile(file, '');
  t.is(await pamProofProblem(token, { uid, root }), undefined);
  t.regex((await pamProofProblem(undefined, { uid, root })) ?? '', /no proof/);
  t.regex((await pamProofProblem('../../etc/passwd', { uid, root })) ?? '', /malformed/);
  t.regex((await pamProofProblem(token, { uid, root, used: new Set([token]) })) ?? '', /used before/);
  t.regex((await pamProofProblem(token, { uid, root, now: Date.now() + 600_000 })) ?? '', /stale/);
  t.regex((await pamProofProblem(token, { uid: 99, root })) ?? '', /no proof file/);
  await chmod(path.dirname(file), 0o777);
  t.regex((await pamProofProblem(token, { uid, root })) ?? '', /only root can write/);
  await chmod(path.dirname(file), 0o755);
  await chown(path.dirname(file), uid, uid);
  t.regex((await pamProofProblem(token, { uid, root })) ?? '', /only root can write/);
  await chown(path.dirname(file), 0, 0);
  await chown(file, uid, uid);
  t.regex((await pamProofProblem(token, { uid, root })) ?? '', /not root's/);
});
