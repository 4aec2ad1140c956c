import test from 'ava';
import { squatAgentSocket, twoEndpoints } from '../support.js';

test('`credroam sync` facing an agent that does not answer names a way out that works without its answer (not `credroam trigger stop`, which asks the same socket)', async (t) => {
  const w = await twoEndpoints(t);
  const squatter = await squatAgentSocket(t, w.dir, 'a');

  const r = await w.a(['sync']);
  t.is(r.code, 1, r.stderr);
  t.notRegex(r.stderr, /trigger stop/, 'a request on the socket nobody answers on waits, then fails');
  t.regex(r.stderr, /give the roaming password/);
  t.true(r.stderr.includes(squatter.socket), `says which socket's process to end: ${r.stderr}`);
  t.regex(r.stderr, /credroam logon --start-agent/);
  t.false(r.stderr.includes('alice roaming password'));

  // The way out it names: the process on the socket ended, a logon starts an agent that takes it over.
  await squatter.close();
  const logon = await w.a(['logon', '--start-agent', ...w.pw]);
  t.is(logon.code, 0, logon.stderr);
  t.teardown(() => w.a(['trigger', 'stop']));
  const synced = await w.a(['sync', '--json']);
  t.is(synced.code, 0, synced.stderr);
});
