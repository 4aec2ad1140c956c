import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { diffFiles } from '../../src/host/allow-list-check.js';
import { hashPluginFiles } from '../../src/policy/plugin-files.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

async function plugin(t: { teardown(f: () => Promise<void>): void }, files: Record<string, string>) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'credroam-plugin-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), content);
  }
  return dir;
}

test('the files npm pack ships are hashed: package.json and what its "files" names, sorted, nothing else', async (t) => {
  const pkg = JSON.stringify({ name: 'p', files: ['dist'] });
  const dir = await plugin(t, {
    'package.json': pkg,
    'dist/index.js': 'export const a = 1;',
    'dist/sub/b.js': 'b',
    'src/index.ts': 'not shipped',
    'node_modules/x/index.js': 'not shipped',
  });
  t.deepEqual(await hashPluginFiles(dir), {
    'dist/index.js': sha256('export const a = 1;'),
    'dist/sub/b.js': sha256('b'),
    'package.json': sha256(pkg),
  });
});

test('without a "files" field every file but node_modules is hashed', async (t) => {
  const dir = await plugin(t, { 'package.json': '{}', 'index.js': 'i', 'node_modules/x.js': 'x' });
  t.deepEqual(Object.keys(await hashPluginFiles(dir)), ['index.js', 'package.json']);
});

test('a link among the files, a "files" entry outside the package, or no package.json is refused', async (t) => {
  const linked = await plugin(t, { 'package.json': JSON.stringify({ files: ['dist'] }), 'dist/a.js': 'a' });
  await symlink('/etc/hostname', path.join(linked, 'dist', 'b.js'));
  await t.throwsAsync(hashPluginFiles(linked), {
    code: 'E_PLUGIN_FILES',
    message: /b\.js is a link/,
  } as never);
  const outside = await plugin(t, { 'package.json': JSON.stringify({ files: ['../x'] }) });
  await t.throwsAsync(hashPluginFiles(outside), {
    code: 'E_PLUGIN_FILES',
    message: /outside the package/,
  } as never);
  const none = await plugin(t, { 'index.js': 'i' });
  await t.throwsAsync(hashPluginFiles(none), {
    code: 'E_PLUGIN_FILES',
    message: /no readable package\.json/,
  } as never);
});

test('a link in the folders on the way to a file "files" names is refused too: what is hashed is then read through it', async (t) => {
  // "files" names dist/a.js; dist is a link to a folder elsewhere. lstat of dist/a.js alone would
  // follow it: the link, which can be re-pointed at any time, would be hashed through, unseen.
  const elsewhere = await plugin(t, { 'a.js': 'a' });
  const linked = await plugin(t, { 'package.json': JSON.stringify({ files: ['dist/a.js'] }) });
  await symlink(elsewhere, path.join(linked, 'dist'));
  await t.throwsAsync(hashPluginFiles(linked), {
    code: 'E_PLUGIN_FILES',
    message: /dist is a link/,
  } as never);
});

test('a file named __proto__ is hashed like any other: added beside pinned files, it refuses the plugin', async (t) => {
  // `hashes['__proto__'] = hex` would hit Object.prototype's setter and drop the file unseen; Node
  // imports such a file all the same (an extensionless module of a "type": "module" package).
  const pinned = await plugin(t, { 'package.json': JSON.stringify({ type: 'module' }), 'index.js': 'i' });
  const before = await hashPluginFiles(pinned);
  await writeFile(path.join(pinned, '__proto__'), 'globalThis.pwned = true;\n');
  const after = await hashPluginFiles(pinned);
  t.true(Object.hasOwn(after, '__proto__'), 'the file __proto__ was not hashed');
  t.is(Object.getOwnPropertyDescriptor(after, '__proto__')?.value, sha256('globalThis.pwned = true;\n'));
  t.deepEqual(diffFiles(before, after).added, ['__proto__']);
});
