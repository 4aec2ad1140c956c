import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopWithProcess } from './servers.js';

/** A server running in its own network namespace, reached through a bridge on this side's loopback. */
export interface NamespacedServer {
  /** `127.0.0.1` */
  readonly host: string;
  /** The port on this side's loopback that reaches the server's port. */
  readonly port: number;
  /** The launcher's process id (the server is its child, in the namespace). */
  readonly pid: number;
  /** What the server printed so far (stdout and stderr). */
  output(): string;
  /** Stops the server and the bridge, and waits until both are gone. */
  stop(): Promise<void>;
}

export interface NamespacedServerOptions {
  readonly command: string;
  readonly args: readonly string[];
  /** The port the server listens on inside its namespace. */
  readonly port: number;
  readonly readyTimeoutMs?: number;
}

const launcher = fileURLToPath(new URL('./netns-launcher.js', import.meta.url));

/**
 * Starts a server that binds every interface (Debian's `scepserver`, `openssl cmp`'s mock server)
 * where its only interface is a private loopback: `unshare --net` (as root; otherwise in a user
 * namespace too), with a bridge from a Unix socket in the namespace to a port on this side's
 * 127.0.0.1. Stopped by process id when the test ends, or when this process dies.
 */
export async function startInLoopbackNamespace(options: NamespacedServerOptions): Promise<NamespacedServer> {
  const dir = mkdtempSync(join(tmpdir(), 'credroam-netns-'));
  const socketPath = join(dir, 's');
  const asRoot = process.getuid?.() === 0;
  const child: ChildProcess = spawn(
    'unshare',
    [
      ...(asRoot ? [] : ['--user', '--map-root-user']),
      '--net',
      process.execPath,
      launcher,
      socketPath,
      String(options.port),
      options.command,
      ...options.args,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  stopWithProcess(child);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`${options.command} did not listen on port ${options.port} in time:\n${output}`)),
        options.readyTimeoutMs ?? 20_000,
      );
      const onData = (): void => {
        if (/^ready$/m.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${options.command} in its namespace exited (${signal ?? code}):\n${output}`));
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  } catch (error) {
    child.kill('SIGTERM');
    await exited;
    cleanup();
    throw error;
  }
  const open = new Set<Socket>();
  const bridge: Server = createServer((incoming) => {
    const outgoing = connect(socketPath);
    for (const s of [incoming, outgoing]) {
      open.add(s);
      s.once('close', () => open.delete(s));
    }
    incoming.on('error', () => outgoing.destroy());
    outgoing.on('error', () => incoming.destroy());
    incoming.pipe(outgoing).pipe(incoming);
  });
  await new Promise<void>((resolve) => bridge.listen(0, '127.0.0.1', resolve));
  const address = bridge.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    host: '127.0.0.1',
    port,
    pid: child.pid ?? 0,
    output: () => output,
    async stop() {
      const closed = new Promise<void>((resolve) => bridge.close(() => resolve()));
      for (const s of open) s.destroy();
      await closed;
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin?.end();
        child.kill('SIGTERM');
        await exited;
      }
      cleanup();
    },
  };
}
