import { randomBytes } from 'node:crypto';
import { chmod, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { BIN, twoEndpoints } from './support.js';

/**
 * The PAM path for real: a test PAM service (pam_exec with expose_authtok, then pam_permit) driven by
 * Debian's pamtester. Installing a PAM service needs root, as it does on a real endpoint.
 */
test('pamtester authenticates: the hook hands the password to a new agent (password changes: pam-password-change.test.ts)', async (t) => {
  if (process.getuid?.() !== 0) {
    t.fail('this test installs a PAM service in /etc/pam.d and needs root (CI runs as root)');
    return;
  }
  const w = await twoEndpoints(t);
  const hook = path.join(w.dir, 'hook');
  await writeFile(
    hook,
    `#!/bin/sh\nexec "${process.execPath}" "${BIN}" --config "${path.join(w.dir, 'a.json')}" logon --pam --password-stdin\n`,
  );
  await chmod(hook, 0o755);
  const service = `credroam-test-${randomBytes(4).toString('hex')}`;
  await writeFile(
    `/etc/pam.d/${service}`,
    `auth optional pam_exec.so expose_authtok quiet ${hook}\nauth required pam_permit.so\naccount required pam_permit.so\n`,
  );
  t.teardown(() => rm(`/etc/pam.d/${service}`, { force: true }));
  // The agent that the hook starts in the background is stopped by pid at teardown (see tempDir).
  const { execFile } = await import('node:child_process');
  const pamtester = (password: string) =>
    new Promise<{ code: number; out: string }>((resolve) => {
      const child = execFile('pamtester', [service, 'alice', 'authenticate'], (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, out: stdout + stderr }),
      );
      child.stdin!.end(`${password}\n`);
    });

  const first = await pamtester('alice roaming password');
  t.is(first.code, 0, first.out);
  const status = JSON.parse((await w.a(['status', '--json'])).stdout) as {
    agent: { running: boolean; unlocked: boolean };
  };
  t.like(status.agent, { running: true, unlocked: true }, 'the agent runs and holds the keys');
  const b = await w.b(['logon', '--password-stdin'], { input: 'alice roaming password\n' });
  t.is(b.code, 0, `the keys the agent made open on another endpoint: ${b.stderr}`);
});
