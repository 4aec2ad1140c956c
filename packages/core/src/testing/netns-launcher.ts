/**
 * Runs inside a private network namespace (`unshare --net`, started by `netns.ts`): brings up its
 * loopback, starts a server that binds every interface (there is only loopback here), and bridges
 * a Unix socket (file sockets are not in network namespaces) to the server's port, so the test
 * outside reaches it and nothing else can. Prints `ready` once the port answers. Stops the server
 * when stdin closes (the test process is gone) or on SIGTERM.
 *
 * Usage: node netns-launcher.js SOCKET PORT COMMAND [ARGS...]
 */
import { execFileSync, spawn } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';

const [socketPath, portText, command, ...args] = process.argv.slice(2);
if (!socketPath || !portText || !command) {
  process.stderr.write('usage: netns-launcher SOCKET PORT COMMAND [ARGS...]\n');
  process.exit(2);
}
const port = Number(portText);

execFileSync('ip', ['link', 'set', 'lo', 'up']);
const server = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });

let stopping = false;
function stop(code: number): void {
  if (stopping) return;
  stopping = true;
  if (server.exitCode === null && server.signalCode === null) {
    server.kill('SIGTERM');
    setTimeout(() => server.kill('SIGKILL'), 2000).unref();
    server.once('exit', () => process.exit(code));
  } else {
    process.exit(code);
  }
}
server.once('exit', (code, signal) => {
  if (!stopping) {
    process.stderr.write(`netns-launcher: ${command} exited (${signal ?? code}) before it was stopped\n`);
    stopping = true;
    process.exit(1);
  }
});
server.once('error', (error) => {
  process.stderr.write(`netns-launcher: ${command}: ${error.message}\n`);
  process.exit(1);
});
process.stdin.on('end', () => stop(0));
process.stdin.on('error', () => stop(0));
process.stdin.resume();
process.once('SIGTERM', () => stop(0));
process.once('SIGINT', () => stop(0));

const pipeBoth = (a: Socket, b: Socket): void => {
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
  a.pipe(b).pipe(a);
};
createServer((incoming) => pipeBoth(incoming, connect(port, '127.0.0.1'))).listen(socketPath, () => {
  const probe = (): void => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      process.stdout.write('ready\n');
    });
    s.once('error', () => setTimeout(probe, 50));
  };
  probe();
});
