import type { ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();
let installed = false;

function stopAll(): void {
  for (const child of children) {
    if (child.exitCode !== null || child.pid === undefined) continue;
    try {
      process.kill(child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
}

/**
 * Stops a test server (slapd, samba, dbus-daemon) by its process id when this process ends —
 * normally, or by SIGTERM, SIGINT or SIGHUP (a test run that is interrupted or times out), so that
 * no server outlives its tests. The test's own teardown stays the normal way to stop it.
 */
export function stopWithProcess(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (installed) return;
  installed = true;
  process.once('exit', stopAll);
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(signal, () => {
      stopAll();
      process.kill(process.pid, signal); // the handler is gone: the default action ends the process
    });
  }
}
