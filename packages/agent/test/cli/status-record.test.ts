import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import type { LastSync } from '../../src/session.js';
import { twoEndpoints } from '../support.js';

// The last sync's record is written atomically but not forced to disk (a sync with nothing to do
// forces nothing: issue 16), so a power cut may leave it cut short: that is no record, not an error.
test('a status record cut short is read as none; the next sync writes a whole one', async (t) => {
  const w = await twoEndpoints(t);
  t.is((await w.a(['sync', ...w.pw])).code, 0);
  const record = path.join(w.dir, 'a', 'status.json');
  const whole = await readFile(record, 'utf8');
  await writeFile(record, whole.slice(0, 17));
  const status = await w.a(['status', '--json']);
  t.is(status.code, 0, status.stderr);
  t.is((JSON.parse(status.stdout) as { lastSync: unknown }).lastSync, null);
  t.is((await w.a(['sync', ...w.pw])).code, 0);
  const again = JSON.parse(await readFile(record, 'utf8')) as { lastSync: { outcome: string } };
  t.truthy(again.lastSync.outcome);
});

// Decision 030: a sync with nothing to do is told without the engine, and recorded as the
// engine's is; one that fails there (the stamp or the state unreadable) is recorded as failed, as
// the engine's sync records it, not left showing the last success.
test('a sync in its own process that fails before the engine loads is recorded as failed for status', async (t) => {
  const w = await twoEndpoints(t);
  // The first sync makes the master key, the second settles it, the third finds nothing to do.
  for (let i = 0; i < 3; i++) t.is((await w.a(['sync', ...w.pw])).code, 0);
  const record = async () =>
    (JSON.parse(await readFile(path.join(w.dir, 'a', 'status.json'), 'utf8')) as { lastSync: LastSync })
      .lastSync;
  t.is((await record()).outcome, 'unchanged');
  // The directory's stamp cannot be read (a folder where its file was).
  const stamp = (await readdir(path.join(w.dir, 'directory'), { recursive: true }))
    .map((f) => path.join(w.dir, 'directory', f))
    .find((f) => path.basename(f) === 'stamp')!;
  await rm(stamp);
  await mkdir(stamp);
  const unreadable = await w.a(['sync', ...w.pw]);
  t.is(unreadable.code, 1, unreadable.stderr);
  const status = JSON.parse((await w.a(['status', '--json'])).stdout) as { lastSync: LastSync };
  t.is(status.lastSync.outcome, 'failed');
  await rm(stamp, { recursive: true });
  t.is((await w.a(['sync', ...w.pw])).code, 0);
  // The sync state damaged.
  for (let i = 0; i < 2; i++) t.is((await w.a(['sync', ...w.pw])).code, 0);
  t.is((await record()).outcome, 'unchanged');
  await writeFile(path.join(w.dir, 'a', 'state', 'sync.json'), '{"version":1,');
  const failed = await w.a(['sync', ...w.pw, '--json']);
  t.is(failed.code, 1, failed.stderr);
  t.like(JSON.parse(failed.stdout), { error: { code: 'E_STATE' } });
  const last = await record();
  t.is(last.outcome, 'failed');
  t.regex(last.error ?? '', /not valid JSON/);
});
