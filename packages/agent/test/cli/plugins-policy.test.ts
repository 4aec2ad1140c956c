import { cp, realpath, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventLog, hashPluginFiles, type PluginInfo } from '@credroam/core';
import test from 'ava';
import { listPlugins } from '../../src/cli/commands/plugins.js';
import { createHost } from '../../src/cli/plugins.js';
import { FIRST_PARTY_PLUGINS, loadConfig } from '../../src/config.js';
import { credroam, tempDir } from '../support.js';

const coreFixtures = fileURLToPath(new URL('../../../../core/test/fixtures/plugins/', import.meta.url));
const builtinFolder = path.dirname(
  createRequire(import.meta.url).resolve('@credroam/core/builtin/folder/package.json'),
);

/** A CliIo that keeps what is printed on standard output. */
function capture() {
  const printed: string[] = [];
  const io = {
    stdout: (text: string) => {
      printed.push(text);
    },
    stderr: () => undefined,
    env: {},
    stdin: async () => '',
  };
  return { io, stdout: () => printed.join('') };
}

interface Listing {
  sitePolicy: { state: string; serial?: number; summary: string };
  plugins: PluginInfo[];
}

test('plugins list --json says, for each plugin, whether the site policy allows it and why not', async (t) => {
  const dir = await realpath(await tempDir(t));
  await cp(path.join(coreFixtures, 'policed'), path.join(dir, 'policed'), { recursive: true });
  const policed = await hashPluginFiles(path.join(dir, 'policed'));
  await writeFile(path.join(dir, 'policed', 'index.js'), 'globalThis.pwned = true;\n');
  await writeFile(path.join(dir, 'agent.json'), JSON.stringify({ plugins: [{ from: './policed' }] }));
  const config = await loadConfig(path.join(dir, 'agent.json'), { XDG_CONFIG_HOME: dir, XDG_DATA_HOME: dir });
  const allowList = [
    { id: 'credroam.folder', version: '^0.1.0', files: await hashPluginFiles(builtinFolder) },
    { id: 'credroam.pkcs12', version: '^9.0.0', files: {} },
    { id: 'test.policed', version: '^1.0.0', files: policed },
  ];
  const host = await createHost(config, new EventLog({ write: () => undefined }), {
    allowList,
    policySerial: 7,
  });
  const out = capture();
  const code = await listPlugins(host, { json: true, io: out.io });
  const stdout = out.stdout();
  t.is(code, 3, 'a refused plugin is a failed one: exit 3');
  const listing = JSON.parse(stdout) as Listing;
  t.deepEqual(listing.sitePolicy, {
    state: 'enforced',
    serial: 7,
    summary: `site policy (serial 7): only the plugins on its allow-list may load; 1 allowed, ${FIRST_PARTY_PLUGINS.length} refused`,
  });
  const byId = Object.fromEntries(listing.plugins.map((p) => [p.id, p]));
  t.is(byId['credroam.folder']?.policy, 'allowed');
  t.is(byId['credroam.folder']?.state, 'inactive');
  t.false('reason' in byId['credroam.folder']!);
  t.like(byId['credroam.pkcs12'], {
    policy: 'refused',
    state: 'failed',
    reason: 'not allowed by the site policy (serial 7): version 0.1.0 is outside the allowed ^9.0.0',
  });
  for (const id of ['credroam.ldap', 'credroam.triggers']) {
    t.like(byId[id], {
      policy: 'refused',
      state: 'failed',
      reason: 'not allowed by the site policy (serial 7): its id is not on the plugin allow-list',
    });
  }
  t.like(byId['test.policed'], {
    policy: 'refused',
    state: 'failed',
    reason:
      'not allowed by the site policy (serial 7): its files differ from the allowed ones: changed index.js',
  });
  t.is((globalThis as { pwned?: boolean }).pwned, undefined);
});

test('plugins list as text prints the policy line, and each plugin’s verdict with its reason', async (t) => {
  const dir = await realpath(await tempDir(t));
  const config = await loadConfig(undefined, { XDG_CONFIG_HOME: dir, XDG_DATA_HOME: dir });
  const host = await createHost(config, new EventLog({ write: () => undefined }), { allowList: [] });
  const out = capture();
  const code = await listPlugins(host, { json: false, io: out.io });
  const stdout = out.stdout();
  t.is(code, 3);
  t.true(
    stdout.startsWith(
      `site policy: only the plugins on its allow-list may load; 0 allowed, ${FIRST_PARTY_PLUGINS.length} refused\n`,
    ),
    stdout,
  );
  t.regex(
    stdout,
    /\ncredroam\.folder 0\.1\.0 {2}failed\n {2}site policy: refused\n {2}reason: not allowed by the site policy: its id is not on the plugin allow-list\n/,
  );
});

test('with no bundle installed, plugins list says once that every configured plugin may load', async (t) => {
  const home = await tempDir(t);
  const env = { XDG_CONFIG_HOME: home, XDG_DATA_HOME: home };
  const text = await credroam(['plugins', 'list'], { env });
  t.is(text.code, 0, text.stderr);
  t.true(text.stdout.startsWith('no site policy: every configured plugin may load\n'), text.stdout);
  t.is(text.stdout.split('no site policy').length, 2, 'said once');
  t.false(text.stdout.includes('\n  site policy: '), 'no per-plugin verdict without a policy');
  const json = await credroam(['plugins', 'list', '--json'], { env });
  t.is(json.code, 0, json.stderr);
  const listing = JSON.parse(json.stdout) as Listing;
  t.deepEqual(listing.sitePolicy, {
    state: 'none',
    summary: 'no site policy: every configured plugin may load',
  });
  t.true(listing.plugins.every((p) => p.policy === undefined));
});
