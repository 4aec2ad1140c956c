import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, symlink, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { type PluginContext, POLICY_BUNDLE_MAX_BYTES, PolicySource } from '../../src/api/index.js';
import { activate } from '../../src/builtin/folder/plugin.js';
import { FOLDER_POLICY_FILE, FolderPolicySource } from '../../src/index.js';
import { tempDir } from '../support/temp.js';

const run = promisify(execFile);

/** The folder plugin's `folder` policy source, made as the agent makes it (its contribution factory). */
async function contributed(root: string): Promise<PolicySource> {
  let factory: ((request: unknown) => unknown) | undefined;
  activate({
    contribute: (point: symbol, id: string, f: (request: unknown) => unknown) => {
      if (point === PolicySource && id === 'folder') factory = f;
      return { dispose() {} };
    },
  } as unknown as PluginContext);
  return (await factory!({
    user: 'alice',
    home: root,
    settings: { url: pathToFileURL(root).href },
    policy: {},
  })) as PolicySource;
}

test('the bundle in the root (policy.p7b) comes back byte for byte, through the plugin contribution', async (t) => {
  const root = await tempDir(t);
  const bundle = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(30_000)]);
  await writeFile(path.join(root, FOLDER_POLICY_FILE), bundle);
  const fetched = await (await contributed(root)).fetch();
  t.true(fetched instanceof Uint8Array);
  t.true(Buffer.from(fetched!).equals(bundle));
});

test('no file: no bundle (undefined); no root: the share is not mounted (E_UNREACHABLE)', async (t) => {
  const root = await tempDir(t);
  t.is(await new FolderPolicySource(root).fetch(), undefined);
  await t.throwsAsync(new FolderPolicySource(path.join(root, 'unmounted')).fetch(), {
    code: 'E_UNREACHABLE',
    message: /is the share mounted/,
  } as never);
});

test('attacker: a link at policy.p7b is not followed, even to a real bundle', async (t) => {
  const root = await tempDir(t);
  await writeFile(path.join(root, 'elsewhere.p7b'), 'a bundle');
  await symlink(path.join(root, 'elsewhere.p7b'), path.join(root, FOLDER_POLICY_FILE));
  await t.throwsAsync(new FolderPolicySource(root).fetch(), {
    code: 'E_POLICY_SOURCE',
    message: /is a link: the folder directory never follows links/,
  } as never);
});

test('attacker: a FIFO or a folder at policy.p7b is refused without blocking or reading', async (t) => {
  const fifoRoot = await tempDir(t);
  await run('mkfifo', [path.join(fifoRoot, FOLDER_POLICY_FILE)]);
  await t.throwsAsync(new FolderPolicySource(fifoRoot).fetch(), {
    code: 'E_POLICY_SOURCE',
    message: /is not a regular file/,
  } as never);
  const dirRoot = await tempDir(t);
  await mkdir(path.join(dirRoot, FOLDER_POLICY_FILE));
  await t.throwsAsync(new FolderPolicySource(dirRoot).fetch(), {
    code: 'E_POLICY_SOURCE',
    message: /is a folder/,
  } as never);
});

test('exactly the bound is read; one byte more is refused; a 64 GiB (sparse) file is refused before it is read', async (t) => {
  const root = await tempDir(t);
  const file = path.join(root, FOLDER_POLICY_FILE);
  const exact = randomBytes(POLICY_BUNDLE_MAX_BYTES);
  await writeFile(file, exact);
  t.true(Buffer.from((await new FolderPolicySource(root).fetch())!).equals(exact));
  await writeFile(file, randomBytes(POLICY_BUNDLE_MAX_BYTES + 1));
  await t.throwsAsync(new FolderPolicySource(root).fetch(), {
    code: 'E_POLICY_TOO_LARGE',
    message: new RegExp(
      `holds ${POLICY_BUNDLE_MAX_BYTES + 1} bytes, more than the ${POLICY_BUNDLE_MAX_BYTES}`,
    ),
  } as never);
  // Reading 64 GiB of zeros would take minutes and the memory to match: the size is checked first.
  await truncate(file, 64 * 2 ** 30);
  await t.throwsAsync(new FolderPolicySource(root).fetch(), {
    code: 'E_POLICY_TOO_LARGE',
    message: /holds 68719476736 bytes/,
  } as never);
});

test('settings: a url that is not a file: URL is refused', async (t) => {
  let factory: ((request: unknown) => unknown) | undefined;
  activate({
    contribute: (point: symbol, id: string, f: (request: unknown) => unknown) => {
      if (point === PolicySource && id === 'folder') factory = f;
      return { dispose() {} };
    },
  } as unknown as PluginContext);
  t.throws(
    () => factory!({ user: 'alice', home: '/', settings: { url: 'https://example.org/' }, policy: {} }),
    {
      code: 'E_CONFIG',
    } as never,
  );
});
