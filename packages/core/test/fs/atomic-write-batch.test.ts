import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { AtomicWriteBatch } from '../../src/fs/atomic-file.js';
import { tempDir } from '../support/temp.js';

test('a batch renames many targets at a time, and each target’s writes in the order written: the last one stands', async (t) => {
  const dir = await tempDir(t);
  const batch = new AtomicWriteBatch();
  const order: string[] = [];
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 40; i++) {
      await batch.write(path.join(dir, `f${i}`), `round ${round}`, {
        afterRename: async () => void order.push(`f${i} ${round}`),
      });
    }
  }
  await batch.commit();
  for (let i = 0; i < 40; i++) t.is(await readFile(path.join(dir, `f${i}`), 'utf8'), 'round 4', `f${i}`);
  for (let i = 0; i < 40; i++) {
    const rounds = order.filter((o) => o.startsWith(`f${i} `)).map((o) => Number(o.split(' ')[1]));
    t.deepEqual(rounds, [0, 1, 2, 3, 4], `f${i}: its renames in the order written`);
  }
  t.deepEqual(
    (await readdir(dir)).filter((n) => n.startsWith('.')),
    [],
    'no temporary file left',
  );
});

test('a rename that fails: nothing more is renamed, what was not renamed is dropped, and the error is thrown', async (t) => {
  const dir = await tempDir(t);
  const batch = new AtomicWriteBatch();
  await batch.write(path.join(dir, 'blocked'), 'new');
  for (let i = 0; i < 100; i++) await batch.write(path.join(dir, `f${i}`), 'new');
  await mkdir(path.join(dir, 'blocked')); // a folder cannot be replaced by a file: its rename fails
  await t.throwsAsync(batch.commit(), { code: 'EISDIR' });
  const names = await readdir(dir);
  t.deepEqual(
    names.filter((n) => n.startsWith('.')),
    [],
    'no temporary file left',
  );
  // Started before the failure, some renames landed: each of those holds the whole new content.
  const landed = names.filter((n) => n.startsWith('f'));
  t.true(landed.length < 100, `${landed.length} renamed before the failure stopped the rest`);
  for (const n of landed) t.is(await readFile(path.join(dir, n), 'utf8'), 'new');
});
