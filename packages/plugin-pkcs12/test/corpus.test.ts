// The corpus (issue 11): files made in this run by OpenSSL 3, NSS, GnuTLS and keytool, each read
// with the plugin's `readCredentials` and put in the class it must fall in. Default: a subset of
// the tool variants; CREDROAM_INTEROP=full: all of them. See docs/plugins/pkcs12-interop.md.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { type CorpusContext, corpusSpecs, makeContext } from './corpus/index.js';
import { activatePlugin, judge, type Plugin } from './corpus/judge.js';
import { required, TOOLS, type ToolName } from './corpus/tools.js';

let root: string;
let context: (caseDir: string) => CorpusContext;
let plugin: Plugin;

test.before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'credroam-corpus-'));
  context = makeContext(root);
  plugin = await activatePlugin();
});
test.after.always(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

const specs = corpusSpecs();
const notRun = new Map<ToolName, number>();
for (const spec of specs) {
  if (!TOOLS[spec.tool] && !required(spec.tool)) {
    notRun.set(spec.tool, (notRun.get(spec.tool) ?? 0) + 1);
    continue;
  }
  test(`corpus: ${spec.name} → ${spec.outcome}`, async (t) => {
    if (!TOOLS[spec.tool]) t.fail(`${spec.tool} is not on this machine (scripts/setup.sh installs it)`);
    const dir = await mkdtemp(path.join(root, 'case-'));
    const c = await spec.make(context(dir));
    await judge(t, plugin, c);
  });
}
for (const [tool, count] of notRun) {
  test(`corpus: NOT RUN — ${count} ${tool} case(s): ${tool} is not on this machine (CREDROAM_INTEROP_REQUIRE=${tool} makes this fail)`, (t) => {
    t.log(`${tool} absent; the ${count} case(s) that need it did not run`);
    t.pass();
  });
}
