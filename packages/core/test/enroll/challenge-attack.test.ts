import { execFile } from 'node:child_process';
import { chmod, chown, link, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { CredroamError } from '../../src/api/errors.js';
import { readChallenge } from '../../src/enroll/challenge.js';

const run = promisify(execFile);
const SECRET = 'the-challenge-itself';

async function folder(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'credroam-challenge-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const refused = async (t: import('ava').ExecutionContext, file: string, why: RegExp) => {
  const error = await t.throwsAsync(readChallenge(file));
  t.true(error instanceof CredroamError);
  t.is((error as CredroamError).code, 'E_ENROLL_CHALLENGE');
  t.regex(error!.message, why);
  t.false(error!.message.includes(SECRET), 'the refusal does not quote the file');
};

test('a good challenge file is read, one line, without its newline', async (t) => {
  const dir = await folder(t);
  await writeFile(path.join(dir, 'c'), `${SECRET}\n`, { mode: 0o600 });
  t.is(await readChallenge(path.join(dir, 'c')), SECRET);
});

test('a link, a FIFO, a folder, a group-readable file, a file of two lines, a huge file: refused, at once', async (t) => {
  const dir = await folder(t);
  const real = path.join(dir, 'real');
  await writeFile(real, SECRET, { mode: 0o600 });
  await symlink(real, path.join(dir, 'link'));
  await refused(t, path.join(dir, 'link'), /is a link/);
  await run('mkfifo', ['-m', '600', path.join(dir, 'fifo')]);
  await refused(t, path.join(dir, 'fifo'), /is not a file/);
  await refused(t, dir, /is not a file/);
  await writeFile(path.join(dir, 'group'), SECRET, { mode: 0o640 });
  await chmod(path.join(dir, 'group'), 0o640);
  await refused(t, path.join(dir, 'group'), /readable or writable by others/);
  await writeFile(path.join(dir, 'two'), `${SECRET}\nsecond\n`, { mode: 0o600 });
  await refused(t, path.join(dir, 'two'), /more than one line/);
  await writeFile(path.join(dir, 'huge'), 'x'.repeat(1 << 20), { mode: 0o600 });
  await refused(t, path.join(dir, 'huge'), /larger than 4 KiB/);
  await refused(t, 'relative/file', /absolute/);
  // A hard link is the same file: still this user's, still mode 600.
  await link(real, path.join(dir, 'hard'));
  t.is(await readChallenge(path.join(dir, 'hard')), SECRET);
});

test("a file of another user's is refused", async (t) => {
  if (process.getuid?.() !== 0) {
    t.pass('needs root to give a file away');
    return;
  }
  const dir = await folder(t);
  await writeFile(path.join(dir, 'theirs'), SECRET, { mode: 0o600 });
  await chown(path.join(dir, 'theirs'), 65534, 65534);
  await refused(t, path.join(dir, 'theirs'), /another user/);
});
