import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import test from 'ava';
import { loadConfig } from '../../src/config.js';
import { socketPath } from '../../src/daemon/ipc.js';
import { twoEndpoints } from '../support.js';

test('`credroam sync` facing an agent that does not answer names a way out that works without its answer (not `credroam trigger stop`, which asks the same socket)', async (t) => {
  const w = await twoEndpoints(t);
  const config = await loadConfig(path.join(w.dir, 'a.json'), {});
  await mkdir(path.dirname(socketPath(config)), { recursive: true, mode: 0o700 });
  const held: net.Socket[] = [];
  const squatter = net.createServer((socket) => {
    held.push(socket); // accepted, never answered: a hung or stopped agent
  });
  await new Promise<void>((resolve) => squatter.listen(socketPath(config), resolve));
  const closed = () => {
    for (const s of held) s.destroy();
    return new Promise<void>((resolve) => squatter.close(() => resolve()));
  };
  let open = true;
  t.teardown(() => (open ? closed() : undefined));

  const r = await w.a(['sync']);
  t.is(r.code, 1, r.stderr);
  t.notRegex(r.stderr, /trigger stop/, 'a request on the socket nobody answers on waits, then fails');
  t.regex(r.stderr, /give the roaming password/);
  t.true(r.stderr.includes(socketPath(config)), `says which socket's process to end: ${r.stderr}`);
  t.regex(r.stderr, /credroam logon --start-agent/);
  t.false(r.stderr.includes('alice roaming password'));

  // The way out it names: the process on the socket ended, a logon starts an agent that takes it over.
  await closed();
  open = false;
  const logon = await w.a(['logon', '--start-agent', ...w.pw]);
  t.is(logon.code, 0, logon.stderr);
  t.teardown(() => w.a(['trigger', 'stop']));
  const synced = await w.a(['sync', '--json']);
  t.is(synced.code, 0, synced.stderr);
});
