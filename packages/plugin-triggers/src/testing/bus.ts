import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { stopWithProcess } from '@credroam/core/testing';

interface ExecutionContext {
  teardown(fn: () => unknown): void;
}

export const run = promisify(execFile);

export async function tempDir(t: ExecutionContext, prefix = 'credroam-triggers-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A private dbus-daemon on a socket in `dir` (Debian's dbus-daemon), stopped by its pid at teardown. */
export async function privateBus(t: ExecutionContext, dir: string): Promise<string> {
  const config = path.join(dir, 'bus.conf');
  await writeFile(
    config,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${dir}/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default"><allow send_destination="*"/><allow receive_sender="*"/><allow own="*"/></policy>
</busconfig>
`,
  );
  const child = spawn('dbus-daemon', ['--config-file', config, '--nofork', '--print-address'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  stopWithProcess(child);
  t.teardown(() => {
    if (child.exitCode === null) process.kill(child.pid!, 'SIGTERM');
  });
  const address = await new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
    child.once('exit', (code) => reject(new Error(`dbus-daemon exited with ${code}`)));
  });
  return address;
}

/** Sends a signal with the independent tool `dbus-send`. */
export async function dbusSend(
  address: string,
  objectPath: string,
  member: string,
  ...args: string[]
): Promise<void> {
  await run('dbus-send', [`--bus=${address}`, '--type=signal', objectPath, member, ...args]);
}

export function collector() {
  const events: string[] = [];
  let waiters: Array<() => void> = [];
  return {
    events,
    fire: (e: { name: string }) => {
      events.push(e.name);
      for (const w of waiters) w();
      waiters = [];
    },
    async until(count: number, ms = 5000): Promise<void> {
      const deadline = Date.now() + ms;
      while (events.length < count) {
        if (Date.now() > deadline) throw new Error(`only ${events.length} events: ${events.join(', ')}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
      }
    },
  };
}
