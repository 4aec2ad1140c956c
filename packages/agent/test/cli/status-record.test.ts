import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
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
