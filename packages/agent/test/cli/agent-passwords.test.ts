import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { BIN, twoEndpoints } from '../support.js';

interface Status {
  readonly agent: { readonly running: boolean; readonly unlocked?: boolean };
}

test('`logon --start-agent` (and `logon --pam`) with a wrong password says E_WRONG_PASSWORD, leaves no locked agent behind, and the agent log says why', async (t) => {
  const w = await twoEndpoints(t);
  t.is((await w.a(['logon', ...w.pw])).code, 0, 'the keys exist, wrapped by the right password');
  const wrong = path.join(w.dir, 'wrong');
  await writeFile(wrong, 'not the password\n');

  const started = await w.a(['logon', '--start-agent', '--password-file', wrong, '--json']);
  t.is(started.code, 1, started.stderr);
  t.like(JSON.parse(started.stdout), { error: { code: 'E_WRONG_PASSWORD' } });
  t.regex(started.stderr, /the agent started for this logon was stopped/);
  t.like(JSON.parse((await w.a(['status', '--json'])).stdout) as Status, { agent: { running: false } });
  const log = await readFile(path.join(w.dir, 'a', 'agent.log'), 'utf8');
  t.regex(log, /E_WRONG_PASSWORD/, `the agent's log says why it holds no keys: ${log}`);

  const pam = await w.a(['logon', '--pam', '--password-stdin', '--json'], { input: 'not the password\n' });
  t.is(pam.code, 1, pam.stderr);
  t.like(JSON.parse(pam.stdout), { error: { code: 'E_WRONG_PASSWORD' } });
  t.like(JSON.parse((await w.a(['status', '--json'])).stdout) as Status, { agent: { running: false } });

  // The right password starts one that holds the keys.
  const right = await w.a(['logon', '--start-agent', ...w.pw, '--json']);
  t.is(right.code, 0, right.stderr);
  t.like(JSON.parse(right.stdout), { unlocked: true, started: true });
  t.like(JSON.parse((await w.a(['status', '--json'])).stdout) as Status, {
    agent: { running: true, unlocked: true },
  });
});

test('a password source that was given but cannot be read is an error, even when the agent syncs; a password the sync did not need is said to be not checked', async (t) => {
  const w = await twoEndpoints(t);
  t.is((await w.a(['logon', '--start-agent', ...w.pw])).code, 0);
  const missing = path.join(w.dir, 'nonexistent');

  const flag = await w.a(['sync', '--password-file', missing, '--json']);
  t.is(flag.code, 1, flag.stderr);
  t.like(JSON.parse(flag.stdout), { error: { code: 'E_SECRET' } });
  const env = await w.a(['sync', '--json'], { env: { CREDROAM_PASSWORD_FILE: missing } });
  t.is(env.code, 1, env.stderr);
  t.like(JSON.parse(env.stdout), { error: { code: 'E_SECRET' } });
  const logoff = await w.a(['logoff', '--password-file', missing]);
  t.is(logoff.code, 1, logoff.stderr);
  t.regex(logoff.stderr, /\[E_SECRET\]/);
  t.like(
    JSON.parse((await w.a(['status', '--json'])).stdout) as Status,
    { agent: { unlocked: true } },
    'the agent was not logged off',
  );

  // A password that can be read but is wrong: the agent synced with its own keys and never saw it.
  const wrong = path.join(w.dir, 'wrong');
  await writeFile(wrong, 'not the password\n');
  const through = await w.a(['sync', '--password-file', wrong]);
  t.is(through.code, 0, through.stderr);
  t.regex(
    through.stdout,
    /the roaming password given was not checked: the agent synced with the keys it holds/,
  );
  const json = await w.a(['sync', '--password-file', wrong, '--json']);
  t.like(JSON.parse(json.stdout), { passwordChecked: false });
  const right = await w.a(['sync', ...w.pw]);
  t.regex(right.stdout, /not checked/, 'the agent never checks a password it is not given');

  // The agent locked, this process syncs; with nothing to do it needs no key, so no password check.
  t.is((await w.a(['trigger', 'logoff'])).code, 0);
  const here = await w.a(['sync', '--password-file', wrong]);
  t.is(here.code, 0, here.stderr);
  t.regex(here.stdout, /^nothing changed since the last sync/);
  t.regex(here.stdout, /the roaming password given was not checked: nothing needed the keys/);
});

test('`sync` with neither an agent nor a password says that no agent runs and how to start one; `logoff` that no keys are held and that a final sync needs the password (E_KEYS_NEEDED)', async (t) => {
  const w = await twoEndpoints(t);
  const sync = await w.a(['sync', '--json']);
  t.is(sync.code, 2, sync.stderr);
  t.like(JSON.parse(sync.stdout), { error: { code: 'E_KEYS_NEEDED' } });
  t.regex(
    sync.stderr,
    /no agent runs for \S+: give the roaming password \(--password-stdin, --password-file FILE or \$CREDROAM_PASSWORD_FILE\), or start an agent that holds the keys: credroam logon --start-agent --password-file FILE/,
  );
  // Logging on to log off would be odd: there is nothing to forget without an agent.
  const logoff = await w.a(['logoff', '--json']);
  t.is(logoff.code, 2, logoff.stderr);
  t.like(JSON.parse(logoff.stdout), { error: { code: 'E_KEYS_NEEDED' } });
  t.regex(
    logoff.stderr,
    /no agent runs for \S+, so no keys are held to forget; for a final sync, give the roaming password \(--password-stdin/,
  );
  t.notRegex(logoff.stderr, /start-agent/);
  // The code is named in the text as well, as every failure but a command line credroam does not take.
  t.regex(sync.stderr, /; see `credroam sync --help` \[E_KEYS_NEEDED\]\n$/);
  const usage = await w.a(['sync', '--no-such-flag']);
  t.regex(usage.stderr, /see `credroam sync --help`\n$/, 'E_USAGE points to the help alone');
});

test('both --password-file and --password-stdin is a usage error that says to give one', async (t) => {
  const w = await twoEndpoints(t);
  for (const command of ['sync', 'logon']) {
    const r = await w.a([command, ...w.pw, '--password-stdin', '--json'], {
      input: 'alice roaming password\n',
    });
    t.is(r.code, 2, r.stderr);
    t.like(JSON.parse(r.stdout), { error: { code: 'E_USAGE' } });
    t.regex(r.stderr, /give one of --password-stdin, --password-file FILE/);
  }
});

test('`sync --dry-run` beside a running agent says that it plans in this process, with the roaming password', async (t) => {
  const w = await twoEndpoints(t);
  t.is((await w.a(['logon', '--start-agent', ...w.pw])).code, 0);
  const r = await w.a(['sync', '--dry-run']);
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /--dry-run plans in this process/);
  t.regex(r.stderr, /--password-file FILE/);
  const planned = await w.a(['sync', '--dry-run', ...w.pw, '--json']);
  t.is(planned.code, 0, planned.stderr);
});

test('a `logon --start-agent` that fails ends as soon as it has said why: nothing it started holds it (PAM waits for it)', async (t) => {
  const w = await twoEndpoints(t);
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  const wrong = path.join(w.dir, 'wrong');
  await writeFile(wrong, 'not the password\n', { mode: 0o600 });
  const child = spawn(
    process.execPath,
    [BIN, '--config', path.join(w.dir, 'a.json'), 'logon', '--start-agent', '--password-file', wrong],
    {
      cwd: w.dir,
      env: { PATH: process.env.PATH, XDG_CONFIG_HOME: path.join(w.dir, 'xdg') },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  // Said: then the process must end, not wait out the 10 s it gives the agent it stops.
  const said = new Promise<void>((resolve) => {
    child.stderr.on('data', () => {
      if (/E_WRONG_PASSWORD/.test(stderr)) resolve();
    });
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  await Promise.race([said, exited]);
  const ended = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 5_000))]);
  if (ended === 'still running') child.kill('SIGKILL');
  t.is(ended, 1, `the command ended with its error once it had said it: ${stderr}`);
});

test('a logon through the agent whose logon sync failed says so in words (the keys are open: exit 0)', async (t) => {
  const w = await twoEndpoints(t);
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  // A sync state that is another user's: every sync of this endpoint fails (E_STATE) until it is fixed.
  const state = path.join(w.dir, 'a', 'state', 'sync.json');
  const mine = JSON.parse(await readFile(state, 'utf8')) as Record<string, unknown>;
  await writeFile(state, JSON.stringify({ ...mine, user: 'mallory' }));
  const started = await w.a(['logon', '--start-agent', ...w.pw]);
  t.is(started.code, 0, started.stderr);
  t.regex(started.stdout, /started the agent .*\nbut its logon sync failed: .*mallory/);
  t.regex(started.stdout, /credroam status/);
  const again = await w.a(['logon', ...w.pw]);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stdout, /logged on through the agent\nbut its logon sync failed/);
});
