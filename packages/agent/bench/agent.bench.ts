/**
 * Agent benchmark: prints JSON. Real agents (child processes, `credroam agent`) on the embedded
 * folder directory; a private dbus-daemon for the unlock signal (sent with dbus-send).
 *   unlockToArrival: logind Unlock on endpoint B → a credential A uploaded is in B's store.
 * The agent's goals of issue 16 (store change → directory, idle RSS and CPU with 2 000
 * credentials) are measured on a real slapd by commands.bench.ts (its `agent` figures).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AGENT_EXEC_ARGV } from '../src/daemon/ipc.js';
import { makeCertificates } from './certificates.js';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../src/bin/credroam.js', import.meta.url));
const AGENT_NODE_FLAGS =
  process.env.AGENT_NODE_FLAGS === undefined
    ? [...AGENT_EXEC_ARGV]
    : process.env.AGENT_NODE_FLAGS.split(' ').filter(Boolean);
const round = (x: number) => Math.round(x * 10) / 10;
const quantile = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

const dir = await mkdtemp(path.join(os.tmpdir(), 'credroam-agent-bench-'));
const children: ChildProcess[] = [];
const credroam = (args: string[], input?: string) =>
  new Promise<string>((resolve, reject) => {
    const c = execFile(process.execPath, [BIN, ...args], { cwd: dir }, (e, out, err) =>
      e ? reject(new Error(err)) : resolve(out),
    );
    c.stdin!.end(input ?? '');
  });
async function agent(e: string): Promise<ChildProcess> {
  const log = await (await import('node:fs/promises')).open(path.join(dir, `${e}-agent.log`), 'a');
  const child = spawn(
    process.execPath,
    [
      ...AGENT_NODE_FLAGS,
      BIN,
      '--config',
      path.join(dir, `${e}.json`),
      'agent',
      '--password-stdin',
      '--verbose',
    ],
    {
      stdio: ['pipe', log.fd, log.fd],
    },
  );
  await log.close();
  child.stdin!.end('bench password\n');
  children.push(child);
  for (let i = 0; i < 200; i++) {
    try {
      const s = JSON.parse(await credroam(['--config', path.join(dir, `${e}.json`), 'status', '--json'])) as {
        agent: { unlocked: boolean };
        lastSync: unknown;
      };
      if (s.agent.unlocked && s.lastSync) return child;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('agent did not start');
}
const until = async (check: () => Promise<boolean>) => {
  const start = performance.now();
  while (!(await check())) {
    if (performance.now() - start > 30_000) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
  return performance.now() - start;
};

try {
  await writeFile(path.join(dir, 'pw'), 'bench password');
  await writeFile(
    path.join(dir, 'policy.json'),
    JSON.stringify({ protection: { kdf: { name: 'scrypt', N: 16384, r: 8, p: 1 } } }),
  );
  const bus = spawn(
    'dbus-daemon',
    ['--session', `--address=unix:path=${dir}/bus`, '--nofork', '--print-address'],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  children.push(bus);
  const address = await new Promise<string>((r) =>
    bus.stdout!.once('data', (d: Buffer) => r(d.toString().trim())),
  );
  for (const e of ['a', 'b']) {
    await credroam([
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
    ]);
  }
  const b = JSON.parse(await readFile(path.join(dir, 'b.json'), 'utf8')) as Record<string, unknown>;
  b.triggers = [
    { use: 'session', settings: { busAddress: address, sessionPath: '/org/freedesktop/login1/session/_31' } },
  ];
  await writeFile(path.join(dir, 'b.json'), JSON.stringify(b));
  await credroam(['--config', path.join(dir, 'a.json'), 'logon', '--password-file', path.join(dir, 'pw')]);

  const certs = await makeCertificates(10);
  await agent('a');
  await mkdir(path.join(dir, 'a', 'store', 'certs'), { recursive: true });
  // --- unlock → arrival on B
  await agent('b');
  const arrivals: number[] = [];
  for (let i = 0; i < 10; i++) {
    const cert = certs[i]!;
    const id = createHash('sha256').update(cert).digest('hex');
    await writeFile(path.join(dir, 'a', 'store', 'certs', `${id}.der`), cert);
    await until(
      async () => (await readFile(path.join(dir, 'directory', 'alice', 'values'), 'utf8')).length > 0,
    );
    await new Promise((r) => setTimeout(r, 400)); // A's agent uploads; B has not synced
    const start = performance.now();
    await run('dbus-send', [
      `--bus=${address}`,
      '--type=signal',
      '/org/freedesktop/login1/session/_31',
      'org.freedesktop.login1.Session.Unlock',
    ]);
    await until(async () =>
      (await readdir(path.join(dir, 'b', 'store', 'certs')).catch(() => [] as string[])).includes(
        `${id}.der`,
      ),
    );
    arrivals.push(performance.now() - start);
  }
  console.log(
    JSON.stringify(
      {
        unlockToArrival: {
          samples: arrivals.length,
          p50Ms: round(quantile(arrivals, 0.5)),
          p90Ms: round(quantile(arrivals, 0.9)),
        },
        agentNodeOptions: AGENT_NODE_FLAGS,
      },
      null,
      2,
    ),
  );
} catch (error) {
  for (const e of ['a', 'b']) {
    const text = await readFile(path.join(dir, `${e}-agent.log`), 'utf8').catch(() => '');
    if (text) console.error(`--- agent ${e}:\n${text.split('\n').slice(-15).join('\n')}`);
  }
  throw error;
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  await rm(dir, { recursive: true, force: true });
}
