/**
 * Whole-command benchmark (issue 16): each figure is a fresh `credroam` process, as a user runs
 * it, against a real slapd started here (loopback, TLS, stopped by its process id at the end and
 * on failure), with N credentials (certificate + EC key each; BENCH_N, default 2 000) and the
 * default key-derivation parameters. Each figure runs interleaved, round by round, with its
 * baselines, measured in the same run (BENCH_ROUNDS, default 5, at least 5):
 *
 *   syncNothingToDo   `sync`, nothing changed        vs `node -e 0`; a bare `ldapsearch` of the stamp
 *   logonNothingChanged `logon`, nothing changed     vs a process running the keyring's scrypt alone
 *   coldDownload      `sync` to an empty endpoint     vs `ldapsearch -tt` of the same values into one
 *                                                     file each, made durable once (`sync`); and with
 *                                                     an fsync of each file (`sync FILE…`); and the
 *                                                     first followed by the KDF alone (what no
 *                                                     end-to-end encrypted download avoids); each
 *                                                     run after an unmeasured `sync`, its files kept
 *                                                     until the end (see `flushDisk`, `coldDownload`)
 *   exportOne         `export` one credential         vs `openssl pkcs12 -export`
 *   importOne         `import` one PKCS#12            vs `openssl pkcs12` reading it
 *   listJson, status  `list --json`, `status`         vs a Node script that reads and parses the
 *                                                     same certificate files
 *   agent             a `credroam agent` process, started as `logon --start-agent` starts it, on
 *                     the endpoint with the N credentials: after its first sync, its RSS and CPU
 *                     while idle (from /proc/PID/status and /proc/PID/stat, over BENCH_IDLE_MS,
 *                     default 10 s, after a settle window of BENCH_SETTLE_MS, default 20 s), then
 *                     20 certificate files dropped one by one into the store's certs/ folder (as a
 *                     user or another program would), each timed from its write until slapd
 *                     logged the modify that carries it (its stats log: no polling process
 *                     competes with the agent), then checked with a bare ldapsearch; p50 and p90
 *                     beside the goal (issue 16). The agent is stopped by its process id at the
 *                     end and on failure. Before the changes, `credroam sync --json` with nothing to
 *                     do through it (no password: the agent syncs, decision 027), interleaved with
 *                     `node -e 0` and the ldapsearch of the stamp, with the directory operations one
 *                     makes. BENCH_AGENT_FLAGS adds node options (e.g. `--cpu-prof`);
 *                     BENCH_AGENT_LOG=FILE keeps a copy of its log (JSON lines, at info).
 *
 * BENCH_ONLY=agent runs the setup and the agent figures only.
 * Prints JSON: each figure's time (min / median / max), its peak RSS (`/usr/bin/time -f %M`), each
 * baseline's, and the ratio figure / baseline per round (min / median / max). Scaling: full sync
 * and cold download at 100, 1 000 and N tokens' worth of credentials (10 000 with
 * BENCH_SCALE_10K=1; or the sizes in BENCH_SCALES=100,1000): time and peak RSS. Leaves no process and no temporary folder behind.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopWithProcess } from '@credroam/core/testing';
import { startProviders, userDn } from '@credroam/plugin-ldap/testing';
import { DEFAULT_KDF } from '@credroam/plugin-pkcs12';
import { loadConfig } from '../src/config.js';
import { AGENT_EXEC_ARGV, askAgent } from '../src/daemon/ipc.js';
import { type BenchCredential, makeCredentials } from './certificates.js';
import { fillStore } from './fill-store.js';

const BIN = fileURLToPath(new URL('../src/bin/credroam.js', import.meta.url));
const PARSE = fileURLToPath(new URL('./parse-certificates.js', import.meta.url));
const N = Number(process.env.BENCH_N ?? 2000);
const ROUNDS = Math.max(5, Number(process.env.BENCH_ROUNDS ?? 5));
const SCALES = (
  process.env.BENCH_SCALES?.split(',').map(Number) ?? [
    100,
    1000,
    N,
    ...(process.env.BENCH_SCALE_10K === '1' ? [10_000] : []),
  ]
).filter((s, i, all) => all.indexOf(s) === i);
const ONLY_AGENT = process.env.BENCH_ONLY === 'agent';
/** Store changes the agent figure times. */
const AGENT_CHANGES = 20;

interface Run {
  readonly ms: number;
  readonly rssKb: number;
  readonly stdout: string;
}
type Stats = { min: number; median: number; max: number };
const r1 = (x: number) => Math.round(x * 10) / 10;
const r2 = (x: number) => Math.round(x * 100) / 100;
function stats(xs: readonly number[], digits = r1): Stats {
  const s = [...xs].sort((a, b) => a - b);
  return { min: digits(s[0]!), median: digits(s[Math.floor((s.length - 1) / 2)]!), max: digits(s.at(-1)!) };
}
const pem = (label: string, der: Uint8Array) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '')}\n-----END ${label}-----\n`;
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

const work = await mkdtemp(path.join(os.tmpdir(), 'credroam-commands-bench-'));
const users = ['main', 'imp', ...SCALES.filter((s) => s !== N).map((s) => `s${s}`)];
const { servers, stop } = await startProviders(1, { users });
const server = servers[0]!;
const ldapEnv = { ...process.env, LDAPTLS_CACERT: server.tls.ca, LDAPTLS_REQCERT: 'demand' };
const password = (uid: string) => `${uid} password`;

/** A bare `ldapsearch` of one attribute of `uid`'s entry, bound as `uid` (a baseline). */
const ldapsearchOf = (uid: string, attribute: string, extra: readonly string[] = []) =>
  [
    'ldapsearch',
    '-LLL',
    '-o',
    'ldif-wrap=no',
    '-H',
    server.ldapsUrl,
    '-x',
    '-D',
    `'${userDn(uid)}'`,
    '-y',
    path.join(work, `${uid}.pw`),
    '-b',
    `'${userDn(uid)}'`,
    '-s',
    'base',
    ...extra,
    attribute,
  ].join(' ');

/** A figure's runs beside its baselines' (one of each per round, in the same order): what the JSON shows. */
function summary(command: string, runs: readonly Run[], baselines: ReadonlyMap<string, readonly Run[]>) {
  return {
    command,
    ms: stats(runs.map((x) => x.ms)),
    peakRssMB: stats(runs.map((x) => x.rssKb / 1024)),
    baselines: Object.fromEntries(
      [...baselines].map(([b, xs]) => [
        b,
        {
          ms: stats(xs.map((x) => x.ms)),
          peakRssMB: stats(xs.map((x) => x.rssKb / 1024)),
          ratio: stats(
            xs.map((x, i) => runs[i]!.ms / x.ms),
            r2,
          ),
        },
      ]),
    ),
  };
}

/** Runs one process under `/usr/bin/time`: its wall time (from spawn to exit) and peak RSS. */
async function measure(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Run> {
  const rssFile = path.join(work, 'rss');
  const start = performance.now();
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
    (resolve, reject) => {
      const child = spawn('/usr/bin/time', ['-f', '%M', '-o', rssFile, command, ...args], {
        cwd: options.cwd ?? work,
        env: options.env ?? process.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
      });
      child.once('error', reject);
      child.once('close', (c) => resolve({ code: c, stdout: out, stderr: err }));
    },
  );
  const ms = performance.now() - start;
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${code}: ${stderr}${stdout}`);
  const rssKb = Number((await readFile(rssFile, 'utf8')).trim().split('\n').at(-1));
  return { ms, rssKb, stdout };
}

const credroam = (config: string, args: readonly string[]) =>
  measure(process.execPath, [BIN, '--config', config, ...args]);
const sh = (script: string) => measure('/bin/sh', ['-c', script], { env: ldapEnv });
/** `text` as one word of a `/bin/sh` script. */
const shellQuote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;

/** A new endpoint of `uid` (its manifest; its home under `work`). */
async function endpoint(name: string, uid: string): Promise<{ config: string; home: string; pw: string[] }> {
  const config = path.join(work, `${name}.json`);
  const home = path.join(work, name);
  await credroam(config, [
    'init',
    '--directory',
    server.ldapsUrl,
    '--ca-file',
    server.tls.ca,
    '--user-dn',
    userDn(uid),
    '--bind',
    'simple',
    '--home',
    home,
    '--user',
    uid,
    '--policy',
    path.join(work, 'policy.json'),
  ]);
  return { config, home, pw: ['--password-file', path.join(work, `${uid}.pw`)] };
}

/** Operations slapd logged on `uid`'s entry while `work` ran. */
async function operationsDuring<T>(uid: string, run: () => Promise<T>) {
  const before = (await readFile(server.log, 'utf8')).length;
  const result = await run();
  await new Promise((r) => setTimeout(r, 100)); // let slapd flush its log
  const lines = (await readFile(server.log, 'utf8')).slice(before).split('\n');
  return {
    result,
    searches: lines.filter((l) => l.includes(`SRCH base="${userDn(uid)}"`)).length,
    modifies: lines.filter((l) => l.includes(`MOD dn="${userDn(uid)}"`)).length,
  };
}

/** An endpoint of `uid` holding `credentials`, uploaded (its first sync's time is returned). */
async function populated(name: string, uid: string, credentials: readonly BenchCredential[]) {
  const e = await endpoint(name, uid);
  await fillStore(e.config, password(uid), credentials);
  const upload = await credroam(e.config, ['sync', ...e.pw, '--json']);
  const settle = JSON.parse((await credroam(e.config, ['sync', ...e.pw, '--json'])).stdout) as {
    outcome: string;
  };
  if (settle.outcome !== 'unchanged')
    throw new Error(`${name}: a second sync found work (${settle.outcome})`);
  return { ...e, upload };
}

/**
 * A cold download: a new endpoint of `uid`, its first sync timed. Its home stays until the bench
 * ends, as every folder of files a figure or a baseline writes does: ext4 allocates a new file's
 * inode slowly while thousands were deleted in the last 30 s (`recently_deleted`, the writeback
 * expiry), which made a round that followed another's removal 2 to 8 times slower, the baseline's
 * most of all.
 */
async function coldDownload(uid: string, round: number, expected: number): Promise<Run> {
  const e = await endpoint(`cold-${uid}-${round}`, uid);
  await flushDisk();
  const run = await credroam(e.config, ['sync', ...e.pw, '--json']);
  const downloaded = (JSON.parse(run.stdout) as { counts: { downloaded: number } }).counts.downloaded;
  if (downloaded !== expected) throw new Error(`cold download of ${uid}: ${downloaded} of ${expected}`);
  return run;
}

/**
 * Waits for every write pending on the machine to reach the disk, unmeasured, before a run that
 * writes thousands of files: `sync` (the baseline's, and the per-file fsyncs' journal commits)
 * waits for whatever earlier rounds or processes left pending, which counted against the next run
 * (one bench's `ldapsearch` + `sync` baseline took 0.14 s, the next one's 1.36 s).
 */
const flushDisk = () =>
  new Promise<void>((resolve, reject) => execFile('sync', (error) => (error ? reject(error) : resolve())));

/** A new folder for a cold-download baseline's files (kept until the bench ends, as `coldDownload` keeps its homes), the disk flushed first. */
async function floorFolder(): Promise<string> {
  const into = await mkdtemp(path.join(work, 'floor-'));
  await flushDisk();
  return into;
}

/** A started agent process; `stop` ends it by its process id (SIGTERM, then SIGKILL). */
interface AgentProcess {
  readonly pid: number;
  stop(): Promise<void>;
}
const agents: AgentProcess[] = [];

/**
 * Starts `credroam agent` on an endpoint with the node options and log level `credroam logon
 * --start-agent` uses (it hands the password over the socket; here it comes on stdin, the agent's
 * other way in); resolves after its first sync.
 */
async function startAgent(e: { config: string; home: string }, uid: string): Promise<AgentProcess> {
  const log = await open(path.join(work, `agent-${uid}.log`), 'a');
  const extra = process.env.BENCH_AGENT_FLAGS?.split(' ').filter(Boolean) ?? [];
  const child: ChildProcess = spawn(
    process.execPath,
    [...AGENT_EXEC_ARGV, ...extra, BIN, '--config', e.config, 'agent', '--password-stdin'],
    { cwd: work, stdio: ['pipe', log.fd, log.fd] },
  );
  await log.close();
  // Stopped by its process id with this process too, should the bench be interrupted.
  stopWithProcess(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid!;
  const agent: AgentProcess = {
    pid,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(pid, 'SIGTERM');
      const killed = setTimeout(() => process.kill(pid, 'SIGKILL'), 20_000);
      await exited;
      clearTimeout(killed);
    },
  };
  agents.push(agent);
  child.stdin!.end(`${password(uid)}\n`);
  const config = await loadConfig(e.config, {});
  const started = performance.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the agent exited with ${child.exitCode}`);
    if (performance.now() - started > 300_000) throw new Error('the agent did not finish its first sync');
    const answer = await askAgent(config, { cmd: 'status' }, 10_000).catch(() => undefined);
    if (answer?.ok && answer.unlocked && answer.lastSync && !answer.syncing) return agent;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Resolves when the agent says no sync runs, twice 100 ms apart. */
async function agentIdle(config: Awaited<ReturnType<typeof loadConfig>>): Promise<void> {
  let quiet = 0;
  while (quiet < 2) {
    await new Promise((r) => setTimeout(r, 100));
    const answer = await askAgent(config, { cmd: 'status' }, 10_000);
    quiet = answer?.ok && !answer.syncing ? quiet + 1 : 0;
  }
}

/** The agent's CPU time so far (user + system), in seconds. */
async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
const CLOCK_TICKS = await new Promise<number>((resolve, reject) =>
  execFile('getconf', ['CLK_TCK'], (error, out) => (error ? reject(error) : resolve(Number(out.trim())))),
);
const rssMB = async (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/**
 * Resolves when slapd has logged a successful modify of `uid`'s entry after `from` (an offset in
 * its log) and returns the log's length then. slapd writes its stats log as it works (stderr, a
 * pipe into the file): reading the file's new bytes every 5 ms costs the agent nothing.
 */
async function nextModify(
  uid: string,
  from: number,
  timeoutMs = 60_000,
): Promise<{ at: number; to: number }> {
  const dn = `MOD dn="${userDn(uid)}"`;
  const started = performance.now();
  const file = await open(server.log, 'r');
  try {
    let offset = from;
    let text = '';
    const ops = new Set<string>();
    for (;;) {
      const { size } = await file.stat();
      if (size > offset) {
        const chunk = Buffer.alloc(size - offset);
        await file.read(chunk, 0, chunk.length, offset);
        offset = size;
        text += chunk.toString('latin1');
        const lines = text.split('\n');
        text = lines.pop()!;
        for (const line of lines) {
          const op = /(conn=\d+ op=\d+) /.exec(line)?.[1];
          if (op === undefined) continue;
          if (line.includes(dn)) ops.add(op);
          else if (ops.has(op) && line.includes('RESULT tag=103 err=0'))
            return { at: performance.now(), to: offset - Buffer.byteLength(text, 'latin1') };
        }
      }
      if (performance.now() - started > timeoutMs)
        throw new Error(`no modify of ${uid} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    await file.close();
  }
}

/** The ids (SHA-256, hex) of the token values in `uid`'s entry, read with a bare ldapsearch. */
async function tokenIdsInDirectory(uid: string): Promise<Set<string>> {
  const { stdout } = await sh(
    [
      'ldapsearch -LLL -o ldif-wrap=no',
      `-H ${server.ldapsUrl} -x -D '${userDn(uid)}' -y ${path.join(work, `${uid}.pw`)}`,
      `-b '${userDn(uid)}' -s base credroamToken`,
    ].join(' '),
  );
  const ids = new Set<string>();
  for (const m of stdout.matchAll(/^credroamToken:: (\S+)$/gm)) {
    // The token header: the id is bytes 14..46 (core/src/engine/codec.ts).
    ids.add(Buffer.from(m[1]!, 'base64').subarray(14, 46).toString('hex'));
  }
  return ids;
}

/**
 * The agent figures (issue 16) on an uploaded endpoint of `uid`: idle RSS and CPU after its first
 * sync, then store change → directory for `AGENT_CHANGES` certificate files dropped into certs/.
 */
async function agentFigures(e: { config: string; home: string }, uid: string) {
  const settleMs = Number(process.env.BENCH_SETTLE_MS ?? 20_000);
  const idleMs = Number(process.env.BENCH_IDLE_MS ?? 10_000);
  const startedAt = performance.now();
  const agent = await startAgent(e, uid);
  const firstSyncMs = performance.now() - startedAt;
  try {
    const rssAfterFirstSync = await rssMB(agent.pid);
    await new Promise((r) => setTimeout(r, settleMs));
    const cpu0 = await cpuSeconds(agent.pid);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, idleMs));
    const cpuPercent = (((await cpuSeconds(agent.pid)) - cpu0) / ((performance.now() - t0) / 1000)) * 100;
    const idleRss = await rssMB(agent.pid);

    // `credroam sync` with nothing to do, through this agent (decision 027): no password, no session.
    const throughAgent = () => credroam(e.config, ['sync', '--json']);
    const directoryOps = await operationsDuring(uid, throughAgent);
    const agentRuns: Run[] = [];
    const agentBaselines = new Map<string, Run[]>([
      ['node -e 0', []],
      ['ldapsearch of the stamp', []],
    ]);
    const baselineRuns: Record<string, () => Promise<Run>> = {
      'node -e 0': () => measure(process.execPath, ['-e', '0']),
      'ldapsearch of the stamp': () => sh(`${ldapsearchOf(uid, 'credroamStamp')} >/dev/null`),
    };
    for (let round = 0; round < ROUNDS; round++) {
      if (round % 2 === 1)
        for (const [b, run] of Object.entries(baselineRuns)) agentBaselines.get(b)!.push(await run());
      const run = await throughAgent();
      if ((JSON.parse(run.stdout) as { outcome: string }).outcome !== 'unchanged')
        throw new Error(`a sync through the agent found work: ${run.stdout}`);
      agentRuns.push(run);
      if (round % 2 === 0)
        for (const [b, run] of Object.entries(baselineRuns)) agentBaselines.get(b)!.push(await run());
    }

    const dropped = await makeCredentials(AGENT_CHANGES, 'dropped');
    const config = await loadConfig(e.config, {});
    const latencies: number[] = [];
    const cpuBefore = await cpuSeconds(agent.pid);
    for (const [i, c] of dropped.entries()) {
      const id = sha256(c.cert);
      let from = (await stat(server.log)).size;
      const written = performance.now();
      await writeFile(path.join(e.home, 'store', 'certs', `dropped-${i}.der`), c.cert);
      for (;;) {
        const mod = await nextModify(uid, from);
        // Checked after the time is taken: the modify seen is the one that carries this certificate.
        if ((await tokenIdsInDirectory(uid)).has(id)) {
          latencies.push(mod.at - written);
          break;
        }
        from = mod.to;
      }
      // The next change comes once the agent is idle again (any settling sync done).
      await agentIdle(config);
    }
    const changesCpuSeconds = (await cpuSeconds(agent.pid)) - cpuBefore;
    const quantile = (q: number) =>
      [...latencies].sort((a, b) => a - b)[
        Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)
      ]!;
    return {
      command: `credroam agent --password-stdin (node ${[...AGENT_EXEC_ARGV].join(' ')})`,
      startToFirstSyncMs: r1(firstSyncMs),
      syncThroughAgent: {
        ...summary('credroam sync --json (the agent holds the keys; no password)', agentRuns, agentBaselines),
        directoryOperations: { searches: directoryOps.searches, modifies: directoryOps.modifies },
        goal: { 'node -e 0': 2 },
      },
      storeChangeToDirectory: {
        change: "a certificate file (DER) written into the store's certs/ folder",
        until: 'slapd logged the modify that carries it',
        samples: latencies.length,
        p50Ms: r1(quantile(0.5)),
        p90Ms: r1(quantile(0.9)),
        maxMs: r1(Math.max(...latencies)),
        agentCpuSeconds: r2(changesCpuSeconds),
        goal: { p50Ms: 500, p90Ms: 1000 },
      },
      idle: {
        credentials: N,
        settleMs,
        overMs: idleMs,
        rssMB: r1(idleRss),
        rssAfterFirstSyncMB: r1(rssAfterFirstSync),
        cpuPercent: r2(cpuPercent),
        rssAfterChangesMB: r1(await rssMB(agent.pid)),
        goal: { rssMB: 80, cpuPercent: 0.5 },
      },
    };
  } finally {
    await agent.stop();
    if (process.env.BENCH_AGENT_LOG)
      await copyFile(path.join(work, `agent-${uid}.log`), process.env.BENCH_AGENT_LOG).catch(() => undefined);
  }
}

try {
  // Two tokens per credential (a certificate and its key): the directory must take them all (the
  // main endpoint's N as well as each scale's, and the agent's changes).
  const maxTokens = Math.min(100_000, 2 * Math.max(N, ...SCALES) + 2 * ROUNDS + AGENT_CHANGES + 100);
  await writeFile(
    path.join(work, 'policy.json'),
    JSON.stringify({ directory: { trustWithPassword: true }, roaming: { maxTokens } }),
  );
  for (const u of users) await writeFile(path.join(work, `${u}.pw`), password(u), { mode: 0o600 });
  await writeFile(path.join(work, 'p12pw'), 'p12 secret', { mode: 0o600 });

  // --- setup (not measured)
  const credentials = await makeCredentials(N);
  const main = await populated('a', 'main', credentials);
  const first = credentials[0]!;
  await writeFile(path.join(work, 'first.crt'), pem('CERTIFICATE', first.cert));
  await writeFile(path.join(work, 'first.key'), pem('PRIVATE KEY', first.key));
  const imp = await endpoint('i', 'imp');
  await credroam(imp.config, ['logon', ...imp.pw]);
  const toImport = await makeCredentials(ROUNDS, 'import');
  for (const [i, c] of toImport.entries()) {
    await writeFile(path.join(work, `imp-${i}.crt`), pem('CERTIFICATE', c.cert));
    await writeFile(path.join(work, `imp-${i}.key`), pem('PRIVATE KEY', c.key));
    await measure('openssl', [
      'pkcs12',
      '-export',
      '-in',
      `imp-${i}.crt`,
      '-inkey',
      `imp-${i}.key`,
      '-out',
      `imp-${i}.p12`,
      '-passout',
      'file:p12pw',
    ]);
  }
  const ldapsearch = (attribute: string, extra: readonly string[] = []) =>
    ldapsearchOf('main', attribute, extra);
  const scrypt = `require('node:crypto').scrypt('main password', require('node:crypto').randomBytes(16), 32, { N: ${DEFAULT_KDF.name === 'scrypt' ? DEFAULT_KDF.N : 0}, r: ${DEFAULT_KDF.name === 'scrypt' ? DEFAULT_KDF.r : 0}, p: ${DEFAULT_KDF.name === 'scrypt' ? DEFAULT_KDF.p : 0}, maxmem: 1 << 30 }, (e) => { if (e) throw e; })`;
  const certs = path.join(main.home, 'store', 'certs');

  /** Each figure and its baselines: one run each per round. */
  const figures: Record<
    string,
    { command: string; run: (round: number) => Promise<Run>; baselines: Record<string, () => Promise<Run>> }
  > = {
    syncNothingToDo: {
      command: 'credroam sync --password-file FILE',
      run: () => credroam(main.config, ['sync', ...main.pw]),
      baselines: {
        'node -e 0': () => measure(process.execPath, ['-e', '0']),
        'ldapsearch of the stamp': () => sh(`${ldapsearch('credroamStamp')} >/dev/null`),
      },
    },
    logonNothingChanged: {
      command: 'credroam logon --password-file FILE',
      run: () => credroam(main.config, ['logon', ...main.pw]),
      baselines: { 'the same scrypt alone in a process': () => measure(process.execPath, ['-e', scrypt]) },
    },
    coldDownload: {
      command: 'credroam sync --password-file FILE (a new endpoint)',
      run: (round) => coldDownload('main', round, 2 * N),
      baselines: {
        'ldapsearch -tt to one file per value, then sync': async () => {
          const into = await floorFolder();
          return sh(`${ldapsearch('credroamToken', ['-tt', '-T', into])} >/dev/null && sync`);
        },
        'ldapsearch -tt to one file per value, fsync of each': async () => {
          const into = await floorFolder();
          return sh(
            `${ldapsearch('credroamToken', ['-tt', '-T', into])} >/dev/null && find ${into} -type f -exec sync {} +`,
          );
        },
        // What no end-to-end encrypted download avoids, in sequence: the values, made durable once,
        // and the roaming password's key derivation (which opens them).
        'ldapsearch -tt to one file per value, then sync, then the same scrypt alone in a process':
          async () => {
            const into = await floorFolder();
            return sh(
              `${ldapsearch('credroamToken', ['-tt', '-T', into])} >/dev/null && sync && ${JSON.stringify(process.execPath)} -e ${shellQuote(scrypt)}`,
            );
          },
      },
    },
    exportOne: {
      command: 'credroam export THUMBPRINT --out FILE --passout SPEC --force --password-file FILE',
      run: () =>
        credroam(main.config, [
          'export',
          sha256(first.cert),
          '--out',
          path.join(work, 'out.p12'),
          '--passout',
          'file:p12pw',
          '--force',
          ...main.pw,
        ]),
      baselines: {
        'openssl pkcs12 -export': () =>
          measure('openssl', [
            'pkcs12',
            '-export',
            '-in',
            'first.crt',
            '-inkey',
            'first.key',
            '-out',
            'base.p12',
            '-passout',
            'file:p12pw',
          ]),
      },
    },
    importOne: {
      command: 'credroam import FILE.p12 --passin SPEC --password-file FILE',
      run: (round) =>
        credroam(imp.config, [
          'import',
          path.join(work, `imp-${round}.p12`),
          '--passin',
          'file:p12pw',
          ...imp.pw,
        ]),
      baselines: {
        'openssl pkcs12 reading it': () =>
          measure('openssl', [
            'pkcs12',
            '-in',
            'imp-0.p12',
            '-passin',
            'file:p12pw',
            '-nodes',
            '-out',
            '/dev/null',
          ]),
      },
    },
    listJson: {
      command: 'credroam list --json',
      run: () => credroam(main.config, ['list', '--json']),
      baselines: {
        'a Node script reading and parsing the certificates': () => measure(process.execPath, [PARSE, certs]),
      },
    },
    status: {
      command: 'credroam status --json',
      run: () => credroam(main.config, ['status', '--json']),
      baselines: {
        'a Node script reading and parsing the certificates': () => measure(process.execPath, [PARSE, certs]),
      },
    },
  };

  const runs = new Map<string, { runs: Run[]; baselines: Map<string, Run[]> }>();
  for (const name of Object.keys(figures))
    runs.set(name, {
      runs: [],
      baselines: new Map(Object.keys(figures[name]!.baselines).map((b) => [b, []])),
    });
  const syncOps = await operationsDuring('main', () => credroam(main.config, ['sync', ...main.pw, '--json']));
  for (let round = 0; round < (ONLY_AGENT ? 0 : ROUNDS); round++) {
    for (const [name, f] of Object.entries(figures)) {
      const into = runs.get(name)!;
      const runFigure = async () => into.runs.push(await f.run(round));
      const runBaselines = async () => {
        for (const [b, run] of Object.entries(f.baselines)) into.baselines.get(b)!.push(await run());
      };
      // Interleaved, and in turn first: neither side always runs on a warmer machine.
      if (round % 2 === 0) {
        await runFigure();
        await runBaselines();
      } else {
        await runBaselines();
        await runFigure();
      }
    }
  }

  // --- scaling: full sync and cold download, time and peak RSS
  const scaling = [];
  for (const size of ONLY_AGENT ? [] : SCALES) {
    const uid = size === N ? 'main' : `s${size}`;
    const e = size === N ? main : await populated(`scale-${size}`, uid, await makeCredentials(size, uid));
    const full = await credroam(e.config, ['sync', '--full', ...e.pw]);
    const cold = await coldDownload(uid, -1, 2 * size);
    scaling.push({
      credentials: size,
      tokens: 2 * size,
      fullSync: { ms: r1(full.ms), peakRssMB: r1(full.rssKb / 1024) },
      coldDownload: { ms: r1(cold.ms), peakRssMB: r1(cold.rssKb / 1024) },
    });
  }

  // --- the agent (last: the changes it uploads would show in the figures above)
  const agent = await agentFigures(main, 'main');

  const report: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(ONLY_AGENT ? {} : figures)) {
    const r = runs.get(name)!;
    report[name] = summary(f.command, r.runs, r.baselines);
  }
  console.log(
    JSON.stringify(
      {
        measured: 'whole credroam processes (node dist/src/bin/credroam.js), each fresh',
        server: 'slapd (Debian), back-mdb, LDAPS on loopback',
        credentials: N,
        tokens: 2 * N,
        rounds: ROUNDS,
        kdf: DEFAULT_KDF,
        firstUpload: { ms: r1(main.upload.ms), peakRssMB: r1(main.upload.rssKb / 1024) },
        syncNothingToDoDirectoryOperations: { searches: syncOps.searches, modifies: syncOps.modifies },
        ...report,
        scaling,
        agent,
      },
      null,
      2,
    ),
  );
} finally {
  for (const a of agents) await a.stop().catch(() => undefined);
  await stop();
  await rm(work, { recursive: true, force: true });
}
