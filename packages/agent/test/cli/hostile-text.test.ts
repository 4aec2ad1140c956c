import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { twoEndpoints } from '../support.js';

// Text an attacker chooses, shown to the user: no terminal escape, no bidi reordering, no forged line.

/** A control, line-separator or bidi-control character: what a terminal or a log viewer acts on. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const UNPRINTABLE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

test('files another program put in the store, named with terminal escapes, line breaks and bidi controls: list, status and sync name each on its own line, printable', async (t) => {
  const w = await twoEndpoints(t);
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  const store = path.join(w.dir, 'a', 'store');
  await mkdir(path.join(store, 'certs'), { recursive: true });
  await mkdir(path.join(store, 'keys'), { recursive: true });
  // Clear the screen, then a fake line; set the terminal's title; reverse what follows.
  await writeFile(path.join(store, 'certs', 'x\u001b[2J\nOK all fine\u202eevil\u009b31m'), 'junk');
  await writeFile(path.join(store, 'keys', 'k\u001b]0;title\u0007\r\u2028OK'), 'junk');

  const list = await w.a(['list', ...w.pw]);
  const status = await w.a(['status']);
  const sync = await w.a(['sync', ...w.pw]);
  for (const [name, r] of [
    ['list', list],
    ['status', status],
    ['sync', sync],
  ] as const) {
    t.is(r.code, 3, `${name}: ${r.stderr}`);
    t.notRegex(r.stdout, UNPRINTABLE, name);
    t.false(/^OK/m.test(r.stdout), `${name}: no line of its own for text inside a name\n${r.stdout}`);
  }
  t.is(list.stdout.split('\n').filter((l) => l.startsWith('unreadable ')).length, 2, list.stdout);
  t.is(sync.stdout.split('\n').filter((l) => l.includes('skipped local item')).length, 2, sync.stdout);
  const json = JSON.parse((await w.a(['list', '--json', ...w.pw])).stdout) as {
    unreadable: Array<{ name: string; reason: string }>;
  };
  t.is(json.unreadable.length, 2);
  for (const u of json.unreadable) t.notRegex(`${u.name}: ${u.reason}`, UNPRINTABLE);
  // What the event log holds of them: printable too (each a JSON line of its own, as it was).
  for (const line of sync.stderr.trim().split('\n')) {
    const record = JSON.parse(line) as { event: number; message: string; reason?: string };
    if (record.event === 1018) t.notRegex(`${record.message} ${record.reason}`, UNPRINTABLE);
  }
});
