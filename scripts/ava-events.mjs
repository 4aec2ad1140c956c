// Loaded into ava's main process by scripts/run-tests.mjs (`node --import`): appends each test's
// declaration, selection and outcome, and each hook failure and crash, as ava's run status sees
// them, to the file named by CREDROAM_AVA_EVENTS (one JSON object a line). ava's TAP output names
// the tests that ran, not the ones that a failed hook or a crashed file kept from running: with these
// events run-tests.mjs names them all. Written against ava 7.0.0 (pinned); if ava's internals move,
// this fails loudly rather than counting wrong.
import { appendFileSync } from 'node:fs';

const file = process.env.CREDROAM_AVA_EVENTS;
// ava's workers inherit the environment and this module (process.execArgv): they stay out.
delete process.env.CREDROAM_AVA_EVENTS;

const KEPT = new Set([
  'declared-test',
  'selected-test',
  'test-passed',
  'test-failed',
  'hook-failed',
  'uncaught-exception',
  'unhandled-rejection',
  'worker-failed',
  'worker-finished',
  'process-exit',
  'internal-error',
  'missing-ava-import',
  'shared-worker-error',
  'timeout',
  'interrupt',
]);

if (file) {
  const runStatus = new URL('../lib/run-status.js', import.meta.resolve('ava'));
  const { default: RunStatus } = await import(runStatus.href);
  const emit = RunStatus?.prototype?.emitStateChange;
  if (typeof emit !== 'function') {
    throw new Error(`run-tests: ${runStatus.pathname} has no RunStatus.emitStateChange (did ava change?)`);
  }
  RunStatus.prototype.emitStateChange = function (event) {
    if (KEPT.has(event.type)) {
      const { type, testFile, title, skip, todo, nonZeroExitCode, signal } = event;
      const message = event.err?.message;
      const line = { type, testFile, title, skip, todo, message, nonZeroExitCode, signal };
      appendFileSync(file, `${JSON.stringify(line)}\n`);
    }
    return emit.call(this, event);
  };
}
