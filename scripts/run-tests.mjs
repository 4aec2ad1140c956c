// Runs the whole ava suite (extra arguments go to ava) and ends with the plain summary line CI reads:
// `N passed, N failed` (', N skipped' when there are any). Above it, every failure by name:
//   - a test that failed;
//   - a test that did not run or did not finish (a failed `before` hook, a crashed test file, a
//     timeout), each one by name: a failed hook never hides the tests it kept from running;
//   - a failed hook, and a test file that crashed (once per file);
//   - a process the tests started that still runs after ava ends (stopped here, then counted).
// The run gets its own temporary folder (TMPDIR) and a marker in its environment; a process is the
// run's when its environment carries the marker, or its command line or working folder is in that
// folder, or its parent is such a process. ava's TAP output still goes to stdout as it comes.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

const runDir = mkdtempSync(path.join(os.tmpdir(), 'credroam-test-run-'));
const runId = path.basename(runDir);
const tmp = path.join(runDir, 'tmp');
mkdirSync(tmp);
const eventsFile = path.join(runDir, 'ava-events.jsonl');

const ava = spawn(
  process.execPath,
  [
    '--import',
    new URL('./ava-events.mjs', import.meta.url).href,
    'node_modules/ava/entrypoints/cli.mjs',
    '--tap',
    ...process.argv.slice(2),
  ],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, TMPDIR: tmp, CREDROAM_TEST_RUN: runId, CREDROAM_AVA_EVENTS: eventsFile },
  },
);
for await (const line of createInterface({ input: ava.stdout })) process.stdout.write(`${line}\n`);
const code = await new Promise((resolve) => ava.on('close', resolve));

const { passed, skipped, failures } = summarize(readEvents(eventsFile));
if (code !== 0 && failures.length === 0) {
  failures.push({ name: 'ava', reason: `exited with code ${code} outside any test` }); // never report green
}
for (const p of await stopLeftovers()) {
  failures.push({
    name: `leftover process ${p.pid}`,
    reason: `${p.cmdline} (still running after ava ended; stopped it)`,
  });
}
rmSync(runDir, { recursive: true, force: true });

if (failures.length > 0) {
  console.log(`\nFailed (${failures.length}):`);
  for (const f of failures) console.log(`  ${f.name}: ${f.reason}`);
}
console.log(`${passed} passed, ${failures.length} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exitCode = code === 0 && failures.length === 0 ? 0 : 1;

function readEvents(file) {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // ava ended before any test file started: its exit code tells
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** Counts ava's events: passes, skips, and every failure by name (see the top of this file). */
function summarize(events) {
  const files = new Map();
  const fileOf = (testFile) => {
    let f = files.get(testFile);
    if (!f) {
      f = {
        any: false,
        declared: [],
        selected: undefined,
        done: new Set(),
        stopped: undefined,
        crashed: false,
      };
      files.set(testFile, f);
    }
    return f;
  };
  const rel = (testFile) => path.relative(process.cwd(), testFile ?? '') || 'ava';
  let passed = 0;
  let skipped = 0;
  let stoppedAll;
  const failures = [];
  const crash = (e, reason) => {
    const f = fileOf(e.testFile);
    f.stopped ??= reason;
    if (f.crashed) return;
    f.crashed = true;
    failures.push({ name: rel(e.testFile), reason });
  };
  for (const e of events) {
    const f = e.testFile ? fileOf(e.testFile) : undefined;
    switch (e.type) {
      case 'declared-test':
        f.any = true;
        if (!e.todo) f.declared.push(e.title);
        break;
      case 'selected-test':
        f.selected ??= [];
        if (e.skip || e.todo) skipped++;
        else f.selected.push(e.title);
        break;
      case 'test-passed':
        passed++;
        f.done.add(e.title);
        break;
      case 'test-failed':
        f.done.add(e.title);
        failures.push({ name: `${rel(e.testFile)} › ${e.title}`, reason: e.message ?? 'failed' });
        break;
      case 'hook-failed':
        f.stopped ??= `${e.title} failed`;
        failures.push({ name: `${rel(e.testFile)} › ${e.title}`, reason: e.message ?? 'failed' });
        break;
      case 'uncaught-exception':
      case 'unhandled-rejection':
      case 'process-exit':
      case 'internal-error':
        if (f) crash(e, `crashed: ${e.type}${e.message ? `: ${e.message}` : ''}`);
        else failures.push({ name: 'ava', reason: `${e.type}${e.message ? `: ${e.message}` : ''}` });
        break;
      case 'missing-ava-import':
        crash(e, 'does not import ava');
        break;
      case 'worker-failed':
        crash(e, `its process exited (${e.nonZeroExitCode ? `code ${e.nonZeroExitCode}` : e.signal})`);
        break;
      case 'worker-finished':
        if (!f.any) crash(e, 'declares no tests');
        break;
      case 'timeout':
        stoppedAll ??= 'ava timed out';
        break;
      case 'interrupt':
        stoppedAll ??= 'the run was interrupted';
        break;
      case 'shared-worker-error':
        failures.push({ name: 'ava', reason: `shared worker failed: ${e.message}` });
        break;
    }
  }
  for (const [testFile, f] of files) {
    for (const title of f.selected ?? f.declared) {
      if (f.done.has(title)) continue;
      const why = f.stopped ?? stoppedAll ?? 'its test file ended before it';
      failures.push({ name: `${rel(testFile)} › ${title}`, reason: `did not run to the end (${why})` });
    }
  }
  failures.sort((a, b) => a.name.localeCompare(b.name));
  return { passed, skipped, failures };
}

/** The processes of this run still alive (zombies are dead), by pid. */
function leftovers() {
  const all = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z' || state === 'X') continue;
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      const environ = readFileSync(`/proc/${name}/environ`, 'utf8').split('\0');
      let cwd = '';
      try {
        cwd = readlinkSync(`/proc/${name}/cwd`);
      } catch {
        // a process of another user, or one exiting
      }
      const ours =
        environ.includes(`CREDROAM_TEST_RUN=${runId}`) ||
        cmdline.includes(runDir) ||
        cwd === runDir ||
        cwd.startsWith(`${runDir}/`);
      all.set(Number(name), { pid: Number(name), ppid: Number(ppid), cmdline, ours });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  // Children of the run's processes are the run's too (whatever environment they were given).
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all.values()) {
      if (!p.ours && all.get(p.ppid)?.ours) {
        p.ours = true;
        grew = true;
      }
    }
  }
  return [...all.values()].filter((p) => p.ours);
}

/** Waits a little for the run's processes to end by themselves, then stops the rest by pid. */
async function stopLeftovers() {
  const waitFor = async (ms) => {
    const deadline = Date.now() + ms;
    let left = leftovers();
    while (left.length > 0 && Date.now() < deadline) {
      await sleep(200);
      left = leftovers();
    }
    return left;
  };
  const kill = (pids, signal) => {
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
  };
  const left = await waitFor(5_000);
  kill(
    left.map((p) => p.pid),
    'SIGTERM',
  );
  kill(
    (await waitFor(3_000)).map((p) => p.pid),
    'SIGKILL',
  );
  return left;
}
