// Runs the whole ava suite and ends with the plain summary line CI reads: `N passed, N failed`
// (', N skipped' when there are any). ava's own summary omits the passed count on failure.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const ava = spawn(
  process.execPath,
  ['node_modules/ava/entrypoints/cli.mjs', '--tap', ...process.argv.slice(2)],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
let passed = 0;
let failed = 0;
let skipped = 0;
for await (const line of createInterface({ input: ava.stdout })) {
  process.stdout.write(`${line}\n`);
  if (/^ok \d+ .*# SKIP/.test(line) || /^ok \d+ .*# TODO/.test(line)) skipped++;
  else if (/^ok \d+/.test(line)) passed++;
  else if (/^not ok \d+/.test(line)) failed++;
}
const code = await new Promise((resolve) => ava.on('close', resolve));
if (code !== 0 && failed === 0) failed = 1; // ava failed outside a test (a crash, a timeout): never report green
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exitCode = code === 0 && failed === 0 ? 0 : 1;
