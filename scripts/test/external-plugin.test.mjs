import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';

/**
 * The plugin author's path outside this repository (issue 13): scripts/check-external-plugin.mjs
 * packs the workspace, installs an agent from the tarballs with npm, writes a plugin with
 * `credroam plugin new`, builds and tests it (and the checked-in example) with npm, tsc and
 * node --test from the registry, type-checks every other kind, and has the agent use the plugin on
 * a real folder directory. About 40 s on 2 cores.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const credroam = path.join(root, 'packages/agent/dist/src/bin/credroam.js');

const run = (file, args, options = {}) =>
  new Promise((resolve) => {
    execFile(file, args, { cwd: root, maxBuffer: 64 * 1024 * 1024, ...options }, (error, stdout, stderr) =>
      resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr }),
    );
  });

test('from plugin new to a plugin an agent uses on a folder directory, from the packed packages alone', async (t) => {
  t.timeout(600_000);
  const { code, stdout, stderr } = await run(process.execPath, ['scripts/check-external-plugin.mjs'], {
    timeout: 600_000,
  });
  t.is(code, 0, `${stdout.slice(-4000)}\n${stderr.slice(-4000)}`);
  t.regex(stdout, /ok: the credential imported into the plugin reached the second endpoint/);
  t.regex(stdout, /ok: example: npm test: \d+ passed, 0 failed/);
});

test('examples/credroam-folder-store is what credroam plugin new writes (no drift)', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'credroam-example-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const made = await run(process.execPath, [
    credroam,
    'plugin',
    'new',
    '@example/credroam-folder-store',
    '--kind',
    'local-store',
    '--dir',
    dir,
  ]);
  t.is(made.code, 0, made.stderr);
  const example = path.join(root, 'examples/credroam-folder-store');
  const files = async (d) =>
    (await readdir(d, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => path.relative(d, path.join(e.parentPath, e.name)))
      .filter((f) => !/^(node_modules|dist)\//.test(f) && f !== 'package-lock.json')
      .sort();
  t.deepEqual(await files(example), await files(dir));
  for (const f of await files(dir)) {
    t.is(await readFile(path.join(example, f), 'utf8'), await readFile(path.join(dir, f), 'utf8'), f);
  }
});

test('credroam plugin new refuses to overwrite what is there without --force, and replaces it with --force', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'credroam-new-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const args = [credroam, 'plugin', 'new', 'hello-trigger', '--kind', 'trigger', '--dir', dir];
  t.is((await run(process.execPath, args)).code, 0);
  const again = await run(process.execPath, args);
  t.is(again.code, 1);
  t.regex(again.stderr + again.stdout, /already exists; add --force/);
  t.is((await run(process.execPath, [...args, '--force'])).code, 0);
  const manifest = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8'));
  t.is(manifest.credroam.id, 'local.hello-trigger');
  t.deepEqual(manifest.credroam.activationEvents, ['onTrigger:hello-trigger']);
  const bad = await run(process.execPath, [
    credroam,
    'plugin',
    'new',
    'Bad Name',
    '--kind',
    'trigger',
    '--dir',
    dir,
  ]);
  t.is(bad.code, 2);
  const kind = await run(process.execPath, [credroam, 'plugin', 'new', 'x', '--kind', 'vault', '--dir', dir]);
  t.is(kind.code, 2);
  t.regex(kind.stderr + kind.stdout, /--kind must be one of trigger, local-store/);
});

test('a generated plugin builds with the compiler and Node types the workspace uses', async (t) => {
  const workspace = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8'));
  const { PLUGIN_TYPESCRIPT, PLUGIN_TYPES_NODE } = await import(
    path.join(root, 'packages/agent/dist/src/cli/commands/plugin-new.js')
  );
  t.is(PLUGIN_TYPESCRIPT, workspace.devDependencies.typescript);
  t.is(PLUGIN_TYPES_NODE, workspace.devDependencies['@types/node']);
});
