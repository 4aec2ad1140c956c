import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { holds, opensslP12, twoEndpoints } from '../support.js';

interface Report {
  readonly outcome: string;
  readonly counts: { readonly downloaded: number };
  readonly directoryOps: { readonly readStamp: number; readonly read: number; readonly write: number };
}

test('`credroam sync` while the agent holds the keys: the agent syncs, no password is asked, and its report is printed', async (t) => {
  const w = await twoEndpoints(t);
  const cred = await opensslP12(w.dir);
  t.is((await w.b(['import', cred.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);
  t.is((await w.b(['sync', ...w.pw])).code, 0);

  // No agent and no password: the command says what it needs, and how to start an agent.
  const alone = await w.a(['sync']);
  t.is(alone.code, 2, alone.stderr);
  t.regex(alone.stderr, /no agent runs for .*: give the roaming password .*credroam logon --start-agent/);

  t.is((await w.a(['logon', '--start-agent', ...w.pw])).code, 0);
  const synced = await w.a(['sync', '--json']);
  t.is(synced.code, 0, synced.stderr);
  const report = JSON.parse(synced.stdout) as Report;
  t.true(['synced', 'unchanged'].includes(report.outcome), report.outcome);
  t.true(await holds(w.a, cred.fingerprint), 'what B uploaded is on A when the sync returns');

  // Nothing changed since: one read of the stamp, nothing written.
  const again = JSON.parse((await w.a(['sync', '--json'])).stdout) as Report;
  t.is(again.outcome, 'unchanged');
  t.deepEqual(again.directoryOps, { readStamp: 1, read: 0, write: 0 });
  const text = await w.a(['sync']);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, /^nothing changed since the last sync/);
  const log = await readFile(path.join(w.dir, 'a', 'agent.log'), 'utf8');
  t.regex(log, /sync \(CLI\)/, 'the agent ran the syncs');
});

test('`credroam sync` with a locked agent: without a password it says to log on; with one, this process syncs', async (t) => {
  const w = await twoEndpoints(t);
  t.is((await w.a(['logon', '--start-agent', ...w.pw])).code, 0);
  t.is((await w.a(['trigger', 'logoff'])).code, 0);

  const locked = await w.a(['sync', '--json']);
  t.is(locked.code, 1, locked.stderr);
  t.like(JSON.parse(locked.stdout), { error: { code: 'E_LOCKED' } });
  t.regex(locked.stderr, /the agent holds no keys: log on \(credroam logon --password-file FILE/);

  const cred = await opensslP12(w.dir);
  t.is((await w.b(['import', cred.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);
  t.is((await w.b(['sync', ...w.pw])).code, 0);
  const here = await w.a(['sync', '--json', ...w.pw]);
  t.is(here.code, 0, here.stderr);
  t.like(JSON.parse(here.stdout), { outcome: 'synced', counts: { downloaded: 2 } });
  t.true(await holds(w.a, cred.fingerprint));
});
