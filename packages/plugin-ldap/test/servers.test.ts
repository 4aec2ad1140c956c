import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import test from 'ava';

const testing = new URL('../src/testing/index.js', import.meta.url).href;
const packageDir = fileURLToPath(new URL('../..', import.meta.url));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Each prints the server's pid and its temporary folder (which the killed process cannot remove). */
const servers = {
  slapd: `const { servers } = await startProviders(1);
console.log(servers[0].pid, path.dirname(servers[0].dir));`,
  krb5kdc: `const kdc = await startKdc({ users: ['alice'] });
await kdc.kinit('alice');
console.log(kdc.pid, kdc.dir);`,
};

for (const [server, start] of Object.entries(servers))
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`a test process ended by ${signal} leaves no ${server} behind: the server is stopped by its pid`, async (t) => {
      const script = `import 'reflect-metadata';
const { startProviders, startKdc } = await import(${JSON.stringify(testing)});
const path = await import('node:path');
${start}
setInterval(() => {}, 1000);`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        cwd: packageDir,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, s) => r(s)));
      let pid = 0;
      t.teardown(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL'); // should this test fail
      });
      const first = await createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next();
      const [printedPid, dir] = String(first.value).split(' ');
      pid = Number(printedPid);
      if (dir?.startsWith(path.join(os.tmpdir(), 'credroam-')))
        t.teardown(() => rm(dir, { recursive: true, force: true }));
      t.true(Number.isInteger(pid) && alive(pid), `${server} runs (pid ${first.value})`);
      child.kill(signal);
      t.is(await exited, signal, 'the test process still ends by the signal');
      for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
      t.false(alive(pid), `${server} is gone`);
    });
  }
