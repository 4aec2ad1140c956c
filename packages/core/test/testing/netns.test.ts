import { connect } from 'node:net';
import test from 'ava';
import { startInLoopbackNamespace } from '../../src/testing/netns.js';

const SERVER = "require('node:http').createServer((q, s) => s.end('from the namespace')).listen(18181)";

const refused = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('a server binding every interface runs on a private loopback, reached only through the bridge, and is gone after stop', async (t) => {
  const server = await startInLoopbackNamespace({
    command: process.execPath,
    args: ['-e', SERVER],
    port: 18181,
  });
  try {
    const body = await (await fetch(`http://${server.host}:${server.port}/`)).text();
    t.is(body, 'from the namespace');
    t.true(await refused(18181), 'the server port is not open on this side');
  } finally {
    await server.stop();
  }
  t.false(alive(server.pid), 'the launcher (and with it the server) is gone');
  t.true(await refused(server.port), 'the bridge is closed');
});

test('a server that exits before it listens is an error with its output, and leaves nothing', async (t) => {
  const error = await t.throwsAsync(
    startInLoopbackNamespace({
      command: process.execPath,
      args: ['-e', "console.error('no'); process.exit(3)"],
      port: 18182,
    }),
  );
  t.regex(error?.message ?? '', /exited[\s\S]*no/);
});
