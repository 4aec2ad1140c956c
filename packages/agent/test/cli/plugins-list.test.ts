import { cp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { credroam, tempDir } from '../support.js';

const coreFixtures = fileURLToPath(new URL('../../../../core/test/fixtures/plugins/', import.meta.url));
const fixtures = fileURLToPath(new URL('../../../test/fixtures/plugins/', import.meta.url));

test('plugins list --json lists the first-party plugins with their contributions', async (t) => {
  const home = await tempDir(t);
  const result = await credroam(['plugins', 'list', '--json'], {
    env: { XDG_CONFIG_HOME: home, XDG_DATA_HOME: home },
  });
  t.is(result.code, 0, result.stderr);
  const { plugins } = JSON.parse(result.stdout) as {
    plugins: Array<{ id: string; version: string; state: string; contributes: Record<string, string[]> }>;
  };
  t.deepEqual(
    plugins.map((p) => p.id),
    [
      'credroam.folder',
      'credroam.pkcs12',
      'credroam.nss',
      'credroam.ldap',
      'credroam.triggers',
      'credroam.policy-file',
      'credroam.policy-https',
      'credroam.enroll-cmp',
    ],
  );
  const byId = Object.fromEntries(plugins.map((p) => [p.id, p]));
  t.deepEqual(byId['credroam.folder']?.contributes, {
    directoryStores: ['folder'],
    policySources: ['folder'],
  });
  t.deepEqual(byId['credroam.policy-file']?.contributes, { policySources: ['file'] });
  t.deepEqual(byId['credroam.policy-https']?.contributes, { policySources: ['https'] });
  t.deepEqual(byId['credroam.ldap']?.contributes.directoryStores, ['ldap']);
  t.deepEqual(byId['credroam.pkcs12']?.contributes.localStores, ['pkcs12']);
  t.deepEqual(byId['credroam.pkcs12']?.contributes.tokenProtectors, ['pkcs12']);
  t.deepEqual(byId['credroam.triggers']?.contributes.triggers, [
    'store-watcher',
    'session',
    'policy-refresh',
  ]);
  for (const p of plugins) {
    t.is(p.version, '0.1.0');
    t.is(p.state, 'inactive', `${p.id} is activated lazily, not by listing`);
  }
});

test('plugins in the agent manifest are added to the built-ins: a path relative to the manifest, a package in node_modules beside it; a built-in turned off', async (t) => {
  const dir = await tempDir(t);
  await cp(path.join(fixtures, 'broken-trigger'), path.join(dir, 'plugins', 'broken'), { recursive: true });
  await cp(
    path.join(fixtures, 'hello-trigger'),
    path.join(dir, 'node_modules', '@example', 'credroam-hello'),
    {
      recursive: true,
    },
  );
  await writeFile(
    path.join(dir, 'agent.json'),
    JSON.stringify({
      plugins: [
        { from: './plugins/broken' },
        { from: '@example/credroam-hello' },
        { from: '@credroam/plugin-ldap', enabled: false },
      ],
    }),
  );
  // Run from elsewhere: the paths are relative to the manifest, not to the working folder.
  const result = await credroam(['--config', path.join(dir, 'agent.json'), 'plugins', 'list', '--json'], {
    env: { XDG_DATA_HOME: dir },
    cwd: '/',
  });
  t.is(result.code, 0, result.stderr);
  const { plugins } = JSON.parse(result.stdout) as {
    plugins: Array<{ id: string; from: string; state: string }>;
  };
  t.deepEqual(
    plugins.map((p) => [p.id, p.from, p.state]),
    [
      ['credroam.folder', '@credroam/core/builtin/folder', 'inactive'],
      ['credroam.pkcs12', '@credroam/plugin-pkcs12', 'inactive'],
      ['credroam.nss', '@credroam/plugin-nss', 'inactive'],
      ['credroam.triggers', '@credroam/plugin-triggers', 'inactive'],
      ['credroam.policy-file', '@credroam/core/builtin/policy-file', 'inactive'],
      ['credroam.policy-https', '@credroam/plugin-policy-https', 'inactive'],
      ['credroam.enroll-cmp', '@credroam/plugin-enroll-cmp', 'inactive'],
      ['test.broken-trigger', './plugins/broken', 'inactive'],
      ['example.hello', '@example/credroam-hello', 'inactive'],
    ],
  );
});

test('a plugin the manifest names that cannot be found is reported with where it was looked for', async (t) => {
  const dir = await tempDir(t);
  await writeFile(path.join(dir, 'agent.json'), JSON.stringify({ plugins: [{ from: '@example/absent' }] }));
  const result = await credroam(['--config', path.join(dir, 'agent.json'), 'plugins', 'list'], {
    env: { XDG_DATA_HOME: dir },
  });
  t.is(result.code, 3, result.stderr);
  t.regex(
    result.stdout,
    new RegExp(
      `@example/absent \\?  failed\n  reason: cannot find plugin '@example/absent': no @example/absent/package.json in .*/packages/agent/node_modules, .*, ${path.join(dir, 'node_modules')}\n`,
    ),
  );
});

test('a failed optional plugin is listed with its reason and exit code 3', async (t) => {
  const dir = await tempDir(t);
  const config = path.join(dir, 'agent.json');
  await writeFile(
    config,
    JSON.stringify({
      plugins: [{ from: path.join(coreFixtures, 'throws') }, { from: '@credroam/plugin-ldap' }],
    }),
  );
  const result = await credroam(['--config', config, 'plugins', 'list'], { env: { XDG_DATA_HOME: dir } });
  t.is(result.code, 3, result.stderr);
  t.regex(
    result.stdout,
    /test\.throws 1\.0\.0 {2}failed\n {2}reason: activation failed: the certificate store is on fire/,
  );
  t.regex(result.stdout, /credroam\.ldap 0\.1\.0 {2}inactive/);
  const events = result.stderr
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { event: number; plugin?: string });
  t.true(events.some((e) => e.event === 2003 && e.plugin === 'test.throws'));
});

test('a failed required plugin stops the agent with exit code 1 and names it', async (t) => {
  const dir = await tempDir(t);
  const config = path.join(dir, 'agent.json');
  await writeFile(
    config,
    JSON.stringify({ plugins: [{ from: path.join(coreFixtures, 'required-throws') }] }),
  );
  const result = await credroam(['--config', config, 'plugins', 'list', '--json'], {
    env: { XDG_DATA_HOME: dir },
  });
  t.is(result.code, 1);
  t.regex(
    result.stderr,
    /credroam plugins: required plugin failed: 'test\.required-throws' \(activation failed: no directory configured\) \[E_REQUIRED_PLUGIN\]/,
  );
});

test('a malformed agent manifest is a clear error naming the file and the place', async (t) => {
  const dir = await tempDir(t);
  const config = path.join(dir, 'agent.json');
  await writeFile(config, JSON.stringify({ plugins: [{ form: 'typo' }] }));
  const result = await credroam(['--config', config, 'plugins', 'list']);
  t.is(result.code, 1);
  t.true(result.stderr.includes(`${config}: /plugins/0: must have required property 'from'`), result.stderr);
});

test('usage errors exit 2; an explicitly named missing config is an error', async (t) => {
  t.is((await credroam(['plugins'])).code, 2);
  t.is((await credroam(['frobnicate'])).code, 2);
  t.is((await credroam(['--bogus'])).code, 2);
  const missing = await credroam(['plugins', 'list'], {
    env: { CREDROAM_CONFIG: '/nonexistent/credroam.json' },
  });
  t.is(missing.code, 1);
  t.regex(missing.stderr, /cannot read the agent manifest \/nonexistent\/credroam\.json/);
});
