/**
 * Agent benchmark: prints JSON. Real agents (child processes, `credroam agent`) on the embedded
 * folder directory; a private dbus-daemon for the unlock signal (sent with dbus-send).
 *   storeChangeToDirectory: a certificate file copied into the store → the directory holds it
 *                           (goal: p50 ≤ 0.5 s).
 *   unlockToArrival:        logind Unlock on endpoint B → a credential A uploaded is in B's store.
 *   idle:                   RSS and CPU of an idle agent with 2 000 credentials in its store
 *                           (goal: ≤ 80 MB, ≤ 0.5 % CPU).
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
const tokensInDirectory = async () => {
  const values = await readFile(path.join(dir, 'directory', 'alice', 'values'), 'utf8').catch(
    () => '{"tokens":[]}',
  );
  return (JSON.parse(values) as { tokens: string[] }).tokens.length;
};
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

  const certs = await makeCertificates(2030);
  // --- store change → directory
  await agent('a');
  await mkdir(path.join(dir, 'a', 'store', 'certs'), { recursive: true });
  const latencies: number[] = [];
  for (let i = 0; i < 15; i++) {
    const before = await tokensInDirectory();
    await writeFile(path.join(dir, 'a', 'store', 'certs', `copied-${i}.der`), certs[2000 + i]!);
    latencies.push(await until(async () => (await tokensInDirectory()) > before));
  }
  // --- unlock → arrival on B
  await agent('b');
  const arrivals: number[] = [];
  for (let i = 0; i < 10; i++) {
    const cert = certs[2015 + i]!;
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
  for (const c of children.splice(2)) c.kill('SIGTERM');

  // --- idle agent with 2 000 credentials
  await mkdir(path.join(dir, 'c', 'store', 'certs'), { recursive: true });
  await credroam([
    'init',
    '--config',
    path.join(dir, 'c.json'),
    '--directory',
    `file://${dir}/directory-c`,
    '--home',
    path.join(dir, 'c'),
    '--user',
    'carol',
    '--policy',
    path.join(dir, 'policy.json'),
  ]);
  for (let i = 0; i < 2000; i++) {
    await writeFile(
      path.join(dir, 'c', 'store', 'certs', `${createHash('sha256').update(certs[i]!).digest('hex')}.der`),
      certs[i]!,
    );
  }
  const idle = await agent('c');
  await until(async () => (await tokensInDirectory2()) >= 2000);
  async function tokensInDirectory2() {
    const v = await readFile(path.join(dir, 'directory-c', 'carol', 'values'), 'utf8').catch(
      () => '{"tokens":[]}',
    );
    return (JSON.parse(v) as { tokens: string[] }).tokens.length;
  }
  await new Promise((r) => setTimeout(r, Number(process.env.IDLE_SETTLE_MS ?? 20_000))); // let the first sync and its settling sync finish
  const ticks = async () => {
    const stat = (await readFile(`/proc/${idle.pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
    return Number(stat[11]) + Number(stat[12]);
  };
  const hz = Number((await run('getconf', ['CLK_TCK'])).stdout.trim());
  const t0 = await ticks();
  const w0 = performance.now();
  await new Promise((r) => setTimeout(r, 10_000));
  const cpuPercent = (((await ticks()) - t0) / hz / ((performance.now() - w0) / 1000)) * 100;
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${idle.pid}/status`, 'utf8'))![1]);

  console.log(
    JSON.stringify(
      {
        storeChangeToDirectory: {
          samples: latencies.length,
          p50Ms: round(quantile(latencies, 0.5)),
          p90Ms: round(quantile(latencies, 0.9)),
          goalP50Ms: 500,
        },
        unlockToArrival: {
          samples: arrivals.length,
          p50Ms: round(quantile(arrivals, 0.5)),
          p90Ms: round(quantile(arrivals, 0.9)),
        },
        agentNodeOptions: AGENT_NODE_FLAGS,
        idleWith2000Credentials: {
          rssMB: round(rssKb / 1024),
          cpuPercent: Math.round(cpuPercent * 100) / 100,
          overSeconds: 10,
          goal: '≤ 80 MB, ≤ 0.5 % CPU',
        },
      },
      null,
      2,
    ),
  );
} catch (error) {
  for (const e of ['a', 'b', 'c']) {
    const text = await readFile(path.join(dir, `${e}-agent.log`), 'utf8').catch(() => '');
    if (text) console.error(`--- agent ${e}:\n${text.split('\n').slice(-15).join('\n')}`);
  }
  throw error;
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  await rm(dir, { recursive: true, force: true });
}
