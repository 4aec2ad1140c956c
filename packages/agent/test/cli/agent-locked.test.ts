import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { opensslP12, twoEndpoints } from '../support.js';

/** `credroam logon --password-file FILE` as an error's advice writes it, with FILE the test's password file. */
function adviceCommand(stderr: string, file: string): string[] | undefined {
  const advice = /credroam (logon --password-file FILE)/.exec(stderr);
  return advice?.[1]?.split(' ').map((a) => (a === 'FILE' ? file : a));
}

test('a locked agent: sync, export and `trigger logon` each say so (not success), with a logon command that works as written', async (t) => {
  const w = await twoEndpoints(t);
  t.is((await w.a(['logon', '--start-agent', ...w.pw])).code, 0);
  const cred = await opensslP12(w.dir);
  t.is((await w.a(['import', cred.file, '--passin', 'file:p12pw'])).code, 0, 'through the agent');
  t.is((await w.a(['trigger', 'logoff'])).code, 0);
  const pw = path.join(w.dir, 'pw');

  const sync = await w.a(['sync', '--json']);
  t.is(sync.code, 1, sync.stderr);
  t.like(JSON.parse(sync.stdout), { error: { code: 'E_LOCKED' } });
  t.truthy(adviceCommand(sync.stderr, pw), sync.stderr);
  t.regex(sync.stderr, /or give the roaming password/);

  const exported = await w.a(['export', cred.fingerprint, '--out', 'out.p12', '--passout', 'file:p12pw']);
  t.is(exported.code, 2, exported.stderr);
  t.truthy(adviceCommand(exported.stderr, pw), exported.stderr);

  const trigger = await w.a(['trigger', 'logon', '--json']);
  t.is(trigger.code, 1, trigger.stderr);
  t.like(JSON.parse(trigger.stdout), { error: { code: 'E_LOCKED' } });
  t.notRegex(trigger.stderr, /took/);
  const logon = adviceCommand(trigger.stderr, pw);
  if (!logon) return t.fail(trigger.stderr);

  const r = await w.a(logon);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /logged on through the agent/);
  t.like(JSON.parse((await w.a(['status', '--json'])).stdout), { agent: { unlocked: true } });
  t.is((await w.a(['trigger', 'logon'])).code, 0, 'with its keys, the agent takes it');
});

test('`credroam list` while the agent holds the keys does not call the keys locked: it says the key was not checked, and how to check it', async (t) => {
  const w = await twoEndpoints(t);
  t.is((await w.a(['logon', '--start-agent', ...w.pw])).code, 0);
  const cred = await opensslP12(w.dir);
  t.is((await w.a(['import', cred.file, '--passin', 'file:p12pw'])).code, 0);
  const r = await w.a(['list']);
  t.is(r.code, 0, r.stderr);
  t.notRegex(r.stdout, /locked/);
  t.regex(r.stdout, /key yes \(not checked: give --password-file FILE to check that it opens\)/);
  const checked = await w.a(['list', ...w.pw]);
  t.regex(checked.stdout, /key yes\b(?! \()/);
});

test('`credroam status` says why the last sync failed', async (t) => {
  const w = await twoEndpoints(t);
  t.is((await w.a(['sync', ...w.pw])).code, 0);
  // The directory gone (an unmounted share): the next sync fails.
  await rm(path.join(w.dir, 'directory'), { recursive: true, force: true });
  await writeFile(path.join(w.dir, 'directory'), 'not a folder');
  const failed = await w.a(['sync', '--full', ...w.pw]);
  t.is(failed.code, 1, failed.stderr);
  const reason = /^credroam sync: (.*?)(?: \[E_\w+\])?$/m.exec(failed.stderr)?.[1];
  if (!reason) return t.fail(failed.stderr);
  const status = await w.a(['status']);
  t.is(status.code, 0, status.stderr);
  const line = /^last sync: .* failed: (.*)$/m.exec(status.stdout);
  t.truthy(line, status.stdout);
  t.true(line?.[1]?.includes(reason.slice(0, 40)), `${line?.[1]} / ${reason}`);
});

test('the agent log that `logon --start-agent` leaves is JSON lines at info and above, as agent.md says', async (t) => {
  const w = await twoEndpoints(t);
  t.is((await w.a(['logon', '--start-agent', ...w.pw])).code, 0);
  t.is((await w.a(['sync'])).code, 0);
  t.is((await w.a(['trigger', 'stop'])).code, 0);
  const lines = (await readFile(path.join(w.dir, 'a', 'agent.log'), 'utf8')).split('\n').filter(Boolean);
  t.true(lines.length > 0);
  for (const line of lines) {
    let record: { level?: string; event?: number };
    try {
      record = JSON.parse(line) as { level?: string; event?: number };
    } catch {
      t.fail(`not a JSON line: ${line}`);
      continue;
    }
    t.not(record.level, 'debug', line);
    t.is(typeof record.event, 'number', line);
  }
});
