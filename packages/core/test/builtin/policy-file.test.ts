import { spawn } from 'node:child_process';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { FilePolicySource } from '../../src/builtin/policy-file/file-policy-source.js';
import { POLICY_BUNDLE_MAX_BYTES } from '../../src/index.js';

const dir = async (t: { teardown: (f: () => Promise<void>) => void }) => {
  const d = await mkdtemp(path.join(os.tmpdir(), 'credroam-policy-file-'));
  t.teardown(() => rm(d, { recursive: true, force: true }));
  return d;
};

test('the file source hands over the bytes as they are, and undefined when there is no file', async (t) => {
  const d = await dir(t);
  await writeFile(path.join(d, 'b.p7m'), Uint8Array.of(0x30, 1, 2));
  t.deepEqual(
    await new FilePolicySource(path.join(d, 'b.p7m'), POLICY_BUNDLE_MAX_BYTES).fetch(),
    Uint8Array.of(0x30, 1, 2),
  );
  t.is(await new FilePolicySource(path.join(d, 'none.p7m'), POLICY_BUNDLE_MAX_BYTES).fetch(), undefined);
});

test('the file source refuses a link, a folder and a file over the bound, reading none, with the codes every source uses', async (t) => {
  const d = await dir(t);
  await writeFile(path.join(d, 'real.p7m'), 'x');
  await symlink(path.join(d, 'real.p7m'), path.join(d, 'link.p7m'));
  const link = await t.throwsAsync(new FilePolicySource(path.join(d, 'link.p7m'), 100).fetch());
  t.is((link as { code?: string }).code, 'E_POLICY_SOURCE');
  t.regex(link!.message, /is a link/);
  const folder = await t.throwsAsync(new FilePolicySource(d, 100).fetch());
  t.is((folder as { code?: string }).code, 'E_POLICY_SOURCE');
  t.regex(folder!.message, /not a regular file/);
  await writeFile(path.join(d, 'big.p7m'), new Uint8Array(101));
  const big = await t.throwsAsync(new FilePolicySource(path.join(d, 'big.p7m'), 100).fetch());
  t.is((big as { code?: string }).code, 'E_POLICY_TOO_LARGE');
  t.regex(big!.message, /more than the 100 allowed/);
});

test('the file source never reads past the bound of a file whose size the file system does not tell (procfs, some network and FUSE file systems, a file grown after its stat)', async (t) => {
  // /proc/PID/environ is a regular file whose stat says 0 bytes: a bound that trusts the stat
  // reads it whole, however large. The environment of a child of ours makes its content.
  const child = spawn('sleep', ['60'], { env: { FILLER: 'x'.repeat(1000) }, stdio: 'ignore' });
  t.teardown(() => {
    child.kill();
  });
  const file = `/proc/${child.pid}/environ`;
  const got = await new FilePolicySource(file, 100).fetch().then(
    (bytes) => bytes,
    (error: Error) => error,
  );
  t.true(
    got instanceof Error,
    `read ${(got as Uint8Array | undefined)?.byteLength} bytes past a bound of 100`,
  );
  t.regex((got as Error).message, /more than the 100 allowed/);
});
