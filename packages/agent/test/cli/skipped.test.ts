import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { opensslP12, twoEndpoints } from '../support.js';

interface SyncJson {
  outcome: string;
  skipped: Array<{ where: string; event: number; reason: string }>;
}
interface StatusJson {
  skipped: Array<{ where: string; event: number; reason: string }>;
  unreadable: Array<{ name: string; reason: string }>;
}

test('an unreadable file in the store: sync, status and list say so and exit 3 on every run until it is gone', async (t) => {
  const w = await twoEndpoints(t);
  const cred = await opensslP12(w.dir);
  await w.a(['logon', ...w.pw]);
  await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw]);
  t.is((await w.a(['sync', ...w.pw])).code, 0);
  const broken = path.join(w.dir, 'a', 'store', 'certs', 'broken.der');
  await writeFile(broken, 'not a certificate', { mode: 0o600 });

  const first = await w.a(['sync', ...w.pw, '--json']);
  t.is(first.code, 3, first.stderr);
  const found = (JSON.parse(first.stdout) as SyncJson).skipped;
  t.is(found.length, 1);
  t.like(found[0], { where: 'local', event: 1018 });
  t.regex(found[0]!.reason, /^certs\/broken\.der: /);

  // Nothing changed since: the sync reads only the stamp, and still reports what it skipped.
  const again = await w.a(['sync', ...w.pw, '--json']);
  t.is(again.code, 3, again.stderr);
  t.like(JSON.parse(again.stdout) as SyncJson, { outcome: 'unchanged', skipped: found });
  const text = await w.a(['sync', ...w.pw]);
  t.is(text.code, 3);
  t.regex(text.stdout, /still skipped \(1\), as found by the sync at /);
  t.regex(text.stdout, /^ {2}skipped local item \(event 1018\): certs\/broken\.der: /m);

  const status = await w.a(['status', '--json']);
  t.is(status.code, 3, status.stderr);
  const s = JSON.parse(status.stdout) as StatusJson;
  t.deepEqual(s.skipped, found);
  t.deepEqual(
    s.unreadable.map((u) => u.name),
    ['certs/broken.der'],
  );
  const statusText = await w.a(['status']);
  t.is(statusText.code, 3);
  t.regex(statusText.stdout, /^skipped at the last sync: 1/m);
  t.regex(statusText.stdout, /^unreadable here: certs\/broken\.der: /m);
  const list = await w.a(['list']);
  t.is(list.code, 3);
  t.regex(list.stdout, /^unreadable certs\/broken\.der: /m);

  await rm(broken);
  const fixed = await w.a(['sync', ...w.pw, '--json']);
  t.is(fixed.code, 0, fixed.stdout);
  t.deepEqual((JSON.parse(fixed.stdout) as SyncJson).skipped, []);
  t.is((await w.a(['sync', ...w.pw])).code, 0);
  t.is((await w.a(['status'])).code, 0);
  t.is((await w.a(['list'])).code, 0);
});

test('values the directory holds that no endpoint can read: later syncs with nothing to do still exit 3, and status says so', async (t) => {
  const w = await twoEndpoints(t);
  await w.a(['logon', ...w.pw]);
  const { readFile } = await import('node:fs/promises');
  const values = path.join(w.dir, 'directory', 'alice', 'values');
  const entry = JSON.parse(await readFile(values, 'utf8')) as { tokens: unknown[] };
  entry.tokens.push(42);
  await writeFile(values, JSON.stringify(entry));
  const full = await w.a(['sync', '--full', ...w.pw, '--json']);
  t.is(full.code, 3, full.stderr);
  const again = await w.a(['sync', ...w.pw, '--json']);
  t.is(again.code, 3, again.stderr);
  t.like(JSON.parse(again.stdout) as SyncJson, {
    outcome: 'unchanged',
    skipped: [{ where: 'directory', event: 1030 }],
  });
  const status = await w.a(['status', '--json']);
  t.is(status.code, 3);
  t.like(JSON.parse(status.stdout) as StatusJson, { skipped: [{ where: 'directory', event: 1030 }] });
  const list = await w.a(['list']);
  t.is(list.code, 3);
  t.regex(list.stdout, /1 item\(s\) skipped at the last sync: see `credroam status`/);
});
