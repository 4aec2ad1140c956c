import { chmod, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { twoEndpoints } from '../support.js';

const doc = fileURLToPath(new URL('../../../../../docs/admin/errors.md', import.meta.url));

test("errors.md's opening example is what credroam prints, code and all", async (t) => {
  const text = await readFile(doc, 'utf8');
  const block = /```text\n\$ credroam (.+)\n([\s\S]*?)```/.exec(text);
  t.truthy(block, 'errors.md opens with a ```text block: `$ credroam …` and its output');
  const [, command, output] = block!;
  t.regex(output!, /\[E_[A-Z_]+\]\n$/, 'the example shows the code');
  const w = await twoEndpoints(t);
  await chmod(path.join(w.dir, 'pw'), 0o600); // as deploying.md asks: owner-only, so no warning
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  const run = await w.a(command!.split(' '));
  t.is(run.code, 1);
  t.is(run.stderr, output!);
});
