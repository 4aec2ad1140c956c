import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import test from 'ava';

/**
 * scripts/run-tests.mjs (what `pnpm test` runs) on fixture test files that fail on purpose, through
 * their own ava configuration: its closing line and its list of failures.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));

function runTests(...fixtures) {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [
        'scripts/run-tests.mjs',
        '--config',
        'scripts/test/fixtures/ava.config.js',
        ...fixtures.map((f) => `scripts/test/fixtures/${f}.fixture.mjs`),
      ],
      { cwd: root, timeout: 90_000 },
      (error, stdout, stderr) => {
        const lines = stdout.trimEnd().split('\n');
        resolve({ code: error ? error.code : 0, last: lines.at(-1), out: stdout, stderr });
      },
    );
  });
}

const running = (pid) => {
  try {
    return !/^\d+ \(.*\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

test('a green run ends with N passed, 0 failed and exits 0', async (t) => {
  const r = await runTests('passes');
  t.is(r.code, 0, r.out + r.stderr);
  t.is(r.last, '1 passed, 0 failed, 1 skipped');
});

test('a failed before hook counts each test it kept from running as failed, by name', async (t) => {
  const r = await runTests('passes', 'hook-fails');
  t.is(r.code, 1);
  t.is(r.last, '1 passed, 3 failed, 1 skipped', r.out);
  t.regex(r.out, /hook-fails\.fixture\.mjs › before hook: /);
  t.regex(r.out, /› first test kept from running by the hook: did not run to the end \(before hook failed\)/);
  t.regex(
    r.out,
    /› second test kept from running by the hook: did not run to the end \(before hook failed\)/,
  );
});

test('a test file that crashes counts the crash and each test it did not finish, by name', async (t) => {
  const r = await runTests('crashes');
  t.is(r.code, 1);
  t.is(r.last, '1 passed, 3 failed', r.out);
  t.regex(r.out, /crashes\.fixture\.mjs: crashed: uncaught-exception: crash outside any assertion/);
  t.regex(r.out, /› the test that crashes its file: did not run to the end \(crashed/);
  t.regex(r.out, /› a test after the crash: did not run to the end \(crashed/);
});

test('a process that a test leaves running fails the run, by pid and command line, and is stopped', async (t) => {
  const r = await runTests('leaks');
  t.is(r.code, 1);
  t.is(r.last, '1 passed, 1 failed', r.out);
  const leak = /leftover process (\d+): sleep 307 \(still running after ava ended; stopped it\)/.exec(r.out);
  t.truthy(leak, r.out);
  t.false(running(Number(leak?.[1])), 'the leftover process was stopped');
});
