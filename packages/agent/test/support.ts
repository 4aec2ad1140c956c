import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ExecutionContext } from 'ava';
import { loadConfig } from '../src/config.js';
import { socketPath } from '../src/daemon/ipc.js';

export const BIN = fileURLToPath(new URL('../src/bin/credroam.js', import.meta.url));
const run = promisify(execFile);

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** It was still running after `timeoutMs`, and was stopped (SIGKILL). */
  readonly timedOut?: true;
}

type RunOptions = { env?: NodeJS.ProcessEnv; input?: string; cwd?: string; timeoutMs?: number };

/** Runs the real `credroam` executable in a child process. */
export function credroam(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return runProgram(process.execPath, [BIN, ...args], options);
}

/** Runs a program with only PATH (and `env`) in its environment; its exit code, never a throw. */
export function runProgram(
  file: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      [...args],
      {
        env: { PATH: process.env.PATH, ...options.env },
        cwd: options.cwd,
        maxBuffer: 64 * 1024 * 1024,
        ...(options.timeoutMs ? { timeout: options.timeoutMs, killSignal: 'SIGKILL' as const } : {}),
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr, ...(error?.killed ? { timedOut: true as const } : {}) });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/**
 * A temporary folder for one test. At teardown, the processes still running from it (the agents that
 * `logon --start-agent` and the PAM hook start in the background, whose command line names their
 * configuration in it) are stopped by pid, then the folder is removed.
 */
export async function tempDir(t: ExecutionContext, prefix = 'credroam-agent-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  t.teardown(async () => {
    await stopProcessesUsing(dir);
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

/** The pids of the live processes with `dir`, or a path in it, as an argument. */
export async function processesUsing(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const args = (await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (args.some((a) => a === dir || a.startsWith(`${dir}/`))) pids.push(Number(name));
  }
  return pids;
}

/** Stops the processes running from `dir` by pid: SIGTERM (the agent's clean stop), SIGKILL after 10 s. */
export async function stopProcessesUsing(dir: string): Promise<void> {
  const signal = (pids: readonly number[], name: NodeJS.Signals) => {
    for (const pid of pids) {
      try {
        process.kill(pid, name);
      } catch {
        // already gone
      }
    }
  };
  signal(await processesUsing(dir), 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while ((await processesUsing(dir)).length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  signal(await processesUsing(dir), 'SIGKILL');
}

/** Runs the real `openssl`; passwords go through files. */
export async function openssl(args: readonly string[], cwd: string): Promise<string> {
  const { stdout } = await run('openssl', [...args], { cwd, encoding: 'utf8' });
  return stdout;
}

export const fingerprintOf = (opensslOutput: string) =>
  opensslOutput.split('=')[1]!.trim().replace(/:/g, '').toLowerCase();

/** Sets the `roaming` section of the site policy `twoEndpoints` wrote (`DIR/policy.json`). */
export async function setRoamingPolicy(dir: string, roaming: Record<string, unknown>): Promise<void> {
  const file = path.join(dir, 'policy.json');
  const policy = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  await writeFile(file, JSON.stringify({ ...policy, roaming }));
}

/**
 * Two endpoints of alice on one machine, sharing an embedded folder directory, with a policy whose
 * key derivation is at its lowest bound (fast tests), each configured by `credroam init`.
 */
export async function twoEndpoints(t: ExecutionContext, policy: Record<string, unknown> = {}) {
  const dir = await tempDir(t);
  await writeFile(path.join(dir, 'pw'), 'alice roaming password\n', { mode: 0o600 });
  await writeFile(path.join(dir, 'p12pw'), 'p12 secret', { mode: 0o600 });
  await writeFile(
    path.join(dir, 'policy.json'),
    JSON.stringify({ protection: { kdf: { name: 'scrypt', N: 16384, r: 8, p: 1 }, ...policy } }),
  );
  const env = { XDG_CONFIG_HOME: path.join(dir, 'xdg'), XDG_DATA_HOME: path.join(dir, 'xdg') };
  for (const e of ['a', 'b']) {
    const r = await credroam(
      [
        'init',
        '--config',
        path.join(dir, `${e}.json`),
        '--directory',
        `file://${dir}/directory`,
        '--home',
        path.join(dir, e),
        '--user',
        'alice',
        '--policy',
        path.join(dir, 'policy.json'),
      ],
      { env },
    );
    if (r.code !== 0) throw new Error(r.stderr);
  }
  const on =
    (e: 'a' | 'b') =>
    (args: readonly string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}) =>
      credroam(['--config', path.join(dir, `${e}.json`), ...args], {
        cwd: dir,
        ...options,
        env: { ...env, ...options.env },
      });
  return { dir, a: on('a'), b: on('b'), pw: ['--password-file', path.join(dir, 'pw')] as const };
}

/** A self-signed P-256 certificate and its key, made by openssl: `<name>.cert.pem`, `<name>.key.pem` in `dir`. */
export async function opensslSelfSigned(dir: string, name: string): Promise<void> {
  await openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key.pem`,
      '-out',
      `${name}.cert.pem`,
      '-days',
      '30',
      '-subj',
      `/CN=${name}`,
    ],
    dir,
  );
}

/** A credential made and exported (PKCS#12, OpenSSL 3 defaults) by openssl in `dir`. */
export async function opensslP12(
  dir: string,
  name = 'alice',
  extra: readonly string[] = [],
): Promise<{ file: string; fingerprint: string }> {
  await opensslSelfSigned(dir, name);
  await openssl(
    [
      'pkcs12',
      '-export',
      '-in',
      `${name}.cert.pem`,
      '-inkey',
      `${name}.key.pem`,
      '-out',
      `${name}.p12`,
      '-passout',
      'file:p12pw',
      ...extra,
    ],
    dir,
  );
  return {
    file: path.join(dir, `${name}.p12`),
    fingerprint: fingerprintOf(
      await openssl(['x509', '-in', `${name}.cert.pem`, '-noout', '-fingerprint', '-sha256'], dir),
    ),
  };
}

/** Whether `credroam list --json` on an endpoint shows the credential with this SHA-256. */
export const holds = async (run: (a: readonly string[]) => Promise<{ stdout: string }>, sha256: string) =>
  (
    JSON.parse((await run(['list', '--json'])).stdout) as { credentials: Array<{ sha256: string }> }
  ).credentials.some((c) => c.sha256 === sha256);

/**
 * A program squatting on endpoint `e`'s agent socket: it accepts connections and never answers (as
 * a stopped or hung agent does), but for the first `statusAnswers` status requests, which it
 * answers as an agent of process id `pid` holding the keys (one that hangs after a command saw it
 * alive). `received` is what was sent to it; `unlisten` stops it taking connections but leaves
 * those it took open (the socket free for another); `close` ends it (also at teardown).
 */
export async function squatAgentSocket(
  t: ExecutionContext,
  dir: string,
  e: 'a' | 'b',
  options: { readonly statusAnswers?: number; readonly pid?: number } = {},
): Promise<{
  socket: string;
  received: () => string;
  unlisten: () => Promise<void>;
  close: () => Promise<void>;
}> {
  const socket = socketPath(await loadConfig(path.join(dir, `${e}.json`), {}));
  await mkdir(path.dirname(socket), { recursive: true, mode: 0o700 });
  const held: net.Socket[] = [];
  let received = '';
  let answers = options.statusAnswers ?? 0;
  const server = net.createServer((c) => {
    held.push(c); // accepted, never answered (but for the first status requests)
    c.on('data', (d: Buffer) => {
      received += d.toString('utf8');
      if (answers > 0 && d.toString('utf8').includes('"cmd":"status"')) {
        answers--;
        const status = { ok: true, unlocked: true, syncing: false, pid: options.pid ?? 4_000_000 };
        c.end(`${JSON.stringify(status)}\n`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  // Its listening socket closed (the path removed with it); `close` is called back only once
  // every connection it took has ended.
  const closed = new Promise<void>((resolve) => server.once('close', () => resolve()));
  const unlisten = async () => {
    if (server.listening) server.close();
    while (
      await stat(socket).then(
        () => true,
        () => false,
      )
    )
      await new Promise((r) => setTimeout(r, 10));
  };
  let open = true;
  const close = async () => {
    if (!open) return;
    open = false;
    for (const c of held) c.destroy();
    await unlisten();
    await closed;
  };
  t.teardown(close);
  return { socket, received: () => received, unlisten, close };
}

/**
 * Suspends process `pid` (SIGSTOP: an agent that is there but does not answer, as a hung one) and
 * resumes it at teardown, before the test's folder stops what runs from it. `resume` wakes it now.
 */
export function suspend(t: ExecutionContext, pid: number): { resume: () => void } {
  const resume = () => {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // already gone
    }
  };
  process.kill(pid, 'SIGSTOP');
  t.teardown(resume);
  return { resume };
}

/** Waits until `check` holds, for at most `ms` (a loaded machine is slow); whether it held. */
export async function eventually(check: () => Promise<boolean>, ms = 30_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}
