// The corpus (issue 11): files made in this run by OpenSSL 3, NSS, GnuTLS and keytool, each read
// with the plugin's `readCredentials` and put in the class it must fall in. Default: a subset of
// the tool variants; CREDROAM_INTEROP=full: all of them. See docs/plugins/pkcs12-interop.md.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { type CorpusContext, corpusSpecs, makeContext } from './corpus/index.js';
import { activatePlugin, judge, type Plugin } from './corpus/judge.js';
import { required, TOOLS } from './corpus/tools.js';

let root: string;
let context: (caseDir: string) => CorpusContext;
let plugin: Plugin;

test.before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'credroam-corpus-'));
  context = makeContext(root);
  plugin = await activatePlugin();
});
test.after.always(async () => {
  await plugin?.dispose();
  if (root) await rm(root, { recursive: true, force: true });
});

const specs = corpusSpecs();
for (const spec of specs) {
  // keytool's cases belong to the full mode (see `required`); a tool a run uses must be there.
  if (!required(spec.tool)) continue;
  test(`corpus: ${spec.name} → ${spec.outcome}`, async (t) => {
    if (!TOOLS[spec.tool]) t.fail(`${spec.tool} is not on this machine (scripts/setup.sh installs it)`);
    const dir = await mkdtemp(path.join(root, 'case-'));
    const c = await spec.make(context(dir));
    await judge(t, plugin, c);
  });
}
