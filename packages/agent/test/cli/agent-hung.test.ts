import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import {
  eventually,
  opensslP12,
  processesUsing,
  squatAgentSocket,
  suspend,
  twoEndpoints,
} from '../support.js';

type Endpoints = Awaited<ReturnType<typeof twoEndpoints>>;

/** Endpoint A's agent, started as a user does (`logon --start-agent`), then stopped (SIGSTOP) as a hung one. */
async function hungAgent(t: ExecutionContext, w: Endpoints): Promise<{ pid: number; resume: () => void }> {
  const started = await w.a(['logon', '--start-agent', ...w.pw, '--json']);
  if (started.code !== 0) throw new Error(`logon --start-agent: ${started.stderr}`);
  const { pid } = JSON.parse(started.stdout) as { pid: number };
  return { pid, ...suspend(t, pid) };
}

test('`credroam logoff` (what the PAM close-session hook runs) facing a hung agent ends after the status ping with E_AGENT and a way out, not after the 2-minute request', async (t) => {
  t.timeout(90_000, 'logoff waited for the hung agent beyond the status ping (the 2-minute logoff request)');
  const w = await twoEndpoints(t);
  await hungAgent(t, w);
  const r = await w.a(['logoff', '--json']);
  t.is(r.code, 1, r.stderr);
  t.like(JSON.parse(r.stdout), { error: { code: 'E_AGENT' } });
  t.regex(r.stderr, /does not answer/);
  t.regex(r.stderr, /credroam logon --start-agent --password-file FILE/);
});

test('`credroam status` tells an agent that does not answer (stopped or hung) from none running', async (t) => {
  const w = await twoEndpoints(t);
  const none = await w.a(['status', '--json']);
  t.is(none.code, 0, none.stderr);
  t.like(JSON.parse(none.stdout), { agent: { running: false } });
  t.regex((await w.a(['status'])).stdout, /^agent: not running$/m);

  await hungAgent(t, w);
  const text = await w.a(['status']);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, /^agent: not answering on \S+agent\.sock \(stopped or hung\)/m);
  t.regex(text.stdout, /credroam logon --start-agent --password-file FILE/);
  const json = await w.a(['status', '--json']);
  t.like(JSON.parse(json.stdout), { agent: { running: true, answering: false } });
});

test('import and export facing a hung agent say that it does not answer and how to get out (E_AGENT), not that no agent holds the keys', async (t) => {
  const w = await twoEndpoints(t);
  const held = await opensslP12(w.dir, 'held');
  t.is((await w.a(['import', held.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);
  const cred = await opensslP12(w.dir);
  await hungAgent(t, w);
  const imported = await w.a(['import', cred.file, '--passin', 'file:p12pw', '--json']);
  t.is(imported.code, 1, imported.stderr);
  t.like(JSON.parse(imported.stdout), { error: { code: 'E_AGENT' } });
  t.regex(
    imported.stderr,
    /does not answer .*credroam logon --start-agent --password-file FILE.*or give the roaming password/,
  );
  const exported = await w.a([
    'export',
    held.fingerprint,
    '--out',
    path.join(w.dir, 'out.p12'),
    '--passout',
    'file:p12pw',
  ]);
  t.is(exported.code, 1, exported.stderr);
  t.regex(exported.stderr, /does not answer .*\[E_AGENT\]/);
});

test('the way out the E_AGENT advice names works as written: a new agent takes the socket over, and the hung one stops by itself when it runs again', async (t) => {
  const w = await twoEndpoints(t);
  const hung = await hungAgent(t, w);
  const r = await w.a(['sync']);
  t.is(r.code, 1, r.stderr);
  t.notRegex(r.stderr, /does not answer \(.*did not answer/, 'says it once');
  const advice = /credroam (logon --start-agent --password-file FILE)/.exec(r.stderr);
  if (!advice) return t.fail(`no command in the advice: ${r.stderr}`);
  const command = advice[1]!.split(' ').map((a) => (a === 'FILE' ? path.join(w.dir, 'pw') : a));
  const logon = await w.a([...command, '--json']);
  t.is(logon.code, 0, logon.stderr);
  const { pid } = JSON.parse(logon.stdout) as { pid: number };
  t.not(pid, hung.pid);
  const synced = await w.a(['sync', '--json']);
  t.is(synced.code, 0, synced.stderr);

  hung.resume();
  t.true(
    await eventually(async () => !(await processesUsing(w.dir)).includes(hung.pid)),
    'the hung agent, running again, found its socket taken over and stopped',
  );
  const status = JSON.parse((await w.a(['status', '--json'])).stdout) as { agent: { pid: number } };
  t.is(status.agent.pid, pid, 'the new agent still answers');
});

test('an agent that stops answering while it syncs (alive at the status ping, hung after): `credroam sync` ends after the missed pings with E_AGENT and the ways out, not after 30 minutes; given the password, it syncs in its own process', async (t) => {
  t.timeout(90_000, 'sync waited for the hung agent beyond its missed status pings');
  const w = await twoEndpoints(t);
  const squatter = await squatAgentSocket(t, w.dir, 'a', { statusAnswers: 1 });
  const r = await w.a(['sync', '--json']);
  t.is(r.code, 1, r.stderr);
  t.like(JSON.parse(r.stdout), { error: { code: 'E_AGENT' } });
  t.regex(r.stderr, /stopped answering while it handled `sync` \(stopped or hung\)/);
  t.regex(r.stderr, /credroam logon --start-agent --password-file FILE.*or give the roaming password/);
  t.regex(squatter.received(), /"cmd":"sync"/, 'the sync was asked of the agent first');

  await squatter.close();
  const squatter2 = await squatAgentSocket(t, w.dir, 'a', { statusAnswers: 1 });
  const own = await w.a(['sync', ...w.pw, '--json']);
  t.is(own.code, 0, own.stderr);
  t.regex(squatter2.received(), /"cmd":"sync"/);
  t.like(JSON.parse(own.stdout), { outcome: 'synced' });
});

/**
 * `credroam sync` through an old agent that answers `answers` status requests (the command's, then
 * its pings), then hangs; once the command pinged it, a new agent of another process id takes the
 * socket over and answers every later ping. The command must end with E_AGENT all the same.
 */
async function syncThroughTakenOverAgent(t: ExecutionContext, answers: number): Promise<void> {
  t.timeout(90_000, 'sync waited on the old agent while the new one answered its status pings');
  const w = await twoEndpoints(t);
  const old = await squatAgentSocket(t, w.dir, 'a', { statusAnswers: answers, pid: 4_000_001 });
  const running = w.a(['sync', '--json']);
  const pinged = await eventually(async () => (old.received().match(/"cmd":"status"/g) ?? []).length >= 2);
  t.true(pinged, 'the command asked the old agent and pinged it');
  // The new agent takes the socket over; the old one still holds the command's connection.
  await old.unlisten();
  await squatAgentSocket(t, w.dir, 'a', { statusAnswers: 1_000, pid: 4_000_002 });
  const r = await running;
  t.is(r.code, 1, r.stderr);
  t.like(JSON.parse(r.stdout), { error: { code: 'E_AGENT' } });
  t.regex(r.stderr, /stopped answering while it handled `sync`/);
}

test('an agent that hangs while it syncs (after its first ping) and whose socket a new agent takes over meanwhile: the new one’s answers to the status pings are no sign of the old one, and `credroam sync` ends with E_AGENT', (t) =>
  syncThroughTakenOverAgent(t, 2));

test('an agent that hangs at once while it syncs (its first ping unanswered) and whose socket a new agent takes over before the next: the new one’s answer is no sign of the old one, and `credroam sync` ends with E_AGENT', (t) =>
  syncThroughTakenOverAgent(t, 1));
