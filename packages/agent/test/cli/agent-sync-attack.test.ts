import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import test from 'ava';
import type { AgentConfig } from '../../src/config.js';
import { askAgent, socketPath } from '../../src/daemon/ipc.js';
import { tempDir } from '../support.js';

test('an agent that closes the connection without answering (killed mid-sync) fails the request at once, not after the 30-minute wait', async (t) => {
  t.timeout(60_000); // a guard only: with the flaw the request waits for its own timeout below
  const home = await tempDir(t);
  const config = { home } as AgentConfig;
  await mkdir(path.join(home, 'run'), { mode: 0o700 });
  const server = net.createServer((socket) => {
    socket.once('data', () => socket.destroy()); // the request read, then the process is gone
  });
  await new Promise<void>((resolve) => server.listen(socketPath(config), resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const error = await t.throwsAsync(askAgent(config, { cmd: 'sync' }, 30 * 60_000));
  t.like(error, { code: 'E_AGENT' });
  t.regex(error?.message ?? '', /closed the connection without answering/);
});
