import path from 'node:path';
import test from 'ava';
import { squatAgentSocket, twoEndpoints } from '../support.js';

test('`credroam sync` facing an agent that does not answer names a way out that works without its answer (not `credroam trigger stop`, which asks the same socket)', async (t) => {
  const w = await twoEndpoints(t);
  const squatter = await squatAgentSocket(t, w.dir, 'a');

  const r = await w.a(['sync']);
  t.is(r.code, 1, r.stderr);
  t.notRegex(r.stderr, /trigger stop/, 'a request on the socket nobody answers on waits, then fails');
  t.regex(r.stderr, /give the roaming password/);
  t.true(r.stderr.includes(squatter.socket), `says which socket does not answer: ${r.stderr}`);
  t.false(r.stderr.includes('alice roaming password'));

  // The way out it names, as written (FILE: the password's file), with the squatter still there:
  // the agent it starts takes the socket over.
  const advice = /credroam (logon --start-agent --password-file FILE)/.exec(r.stderr);
  if (!advice) return t.fail(`no command in the advice: ${r.stderr}`);
  const command = advice[1]?.split(' ').map((a) => (a === 'FILE' ? path.join(w.dir, 'pw') : a)) ?? [];
  const logon = await w.a(command);
  t.is(logon.code, 0, logon.stderr);
  t.false(squatter.received().includes('alice roaming password'), 'the password never went to the squatter');
  const synced = await w.a(['sync', '--json']);
  t.is(synced.code, 0, synced.stderr);
});

test('`credroam trigger` with no agent running says how to start one, and that command works as written', async (t) => {
  const w = await twoEndpoints(t);
  const r = await w.a(['trigger', 'logon']);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /no agent is running for .*\[E_NO_AGENT\]/);
  const advice = /start one with credroam (logon --start-agent --password-file FILE)/.exec(r.stderr);
  if (!advice) return t.fail(`no command in the advice: ${r.stderr}`);
  const command = advice[1]?.split(' ').map((a) => (a === 'FILE' ? path.join(w.dir, 'pw') : a)) ?? [];
  t.is((await w.a(command)).code, 0);
  const again = await w.a(['trigger', 'logon']);
  t.is(again.code, 0, again.stderr);
  t.is((await w.a(['trigger', 'stop'])).code, 0);
});
