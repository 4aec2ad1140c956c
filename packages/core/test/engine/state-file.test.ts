import { execFileSync } from 'node:child_process';
import { mkdir, symlink, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { CredroamError, FileSyncStateStore } from '../../src/index.js';
import { tempDir } from '../support/temp.js';

async function stateFile(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t);
  await mkdir(path.join(dir, 'state'));
  return path.join(dir, 'state', 'sync.json');
}

const refused = async (t: Parameters<typeof tempDir>[0], file: string, message: RegExp) => {
  const error = await t.throwsAsync(new FileSyncStateStore(file).load());
  t.true(error instanceof CredroamError);
  t.is((error as CredroamError).code, 'E_STATE');
  t.regex(error!.message, message);
};

test('a sync state saved is loaded as it was; none is undefined', async (t) => {
  const file = await stateFile(t);
  const store = new FileSyncStateStore(file);
  t.is(await store.load(), undefined);
  const state = {
    version: 1,
    user: 'alice',
    stamp: ['ab'],
    localRevision: null,
    nextDue: null,
    base: {},
  } as const;
  await store.save(state);
  t.deepEqual(await new FileSyncStateStore(file).load(), state);
});

test('a damaged sync state is E_STATE naming the file: not JSON, an unknown shape', async (t) => {
  const file = await stateFile(t);
  await writeFile(file, '{"version":1,');
  await refused(t, file, /not valid JSON/);
  await writeFile(file, '{"version":2}');
  await refused(t, file, /unknown shape/);
});

test('a sync state that is a link, a FIFO or larger than any credroam writes is refused before it is read', async (t) => {
  const file = await stateFile(t);
  await writeFile(`${file}.elsewhere`, '{}');
  await symlink(`${file}.elsewhere`, file);
  await refused(t, file, /is a link: not followed/);
  const fifo = await stateFile(t);
  execFileSync('mkfifo', [fifo]);
  await refused(t, fifo, /not a regular file/);
  const huge = await stateFile(t);
  await writeFile(huge, '');
  await truncate(huge, 129 * 1024 * 1024); // sparse: nothing is written
  await refused(t, huge, /more than the 134217728 allowed/);
});
