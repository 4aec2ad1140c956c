import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { type AgentConfig, DEFAULT_TRIGGERS, FIRST_PARTY_PLUGINS, loadConfig } from '../src/config.js';
import { tempDir } from './support.js';

/** Loads an agent manifest with the given fields. */
async function load(t: ExecutionContext, manifest: Record<string, unknown>): Promise<AgentConfig> {
  const dir = await tempDir(t);
  const file = path.join(dir, 'agent.json');
  await writeFile(file, JSON.stringify(manifest));
  return loadConfig(file, {});
}

const froms = (c: AgentConfig) => c.plugins.map((p) => p.from);
const uses = (c: AgentConfig) => c.triggers.map((x) => x.use);
const BUILTIN = FIRST_PARTY_PLUGINS.map((p) => p.from);

test('a manifest without plugins or triggers gets the four built-in plugins and the two default triggers', async (t) => {
  const c = await load(t, {});
  t.deepEqual(froms(c), BUILTIN);
  t.deepEqual(c.triggers, DEFAULT_TRIGGERS);
  t.deepEqual(uses(c), ['store-watcher', 'policy-refresh']);
});

test('a third-party plugin in plugins comes after the built-ins, which stay', async (t) => {
  const c = await load(t, { plugins: [{ from: './vault', settings: { mount: 'kv' }, required: true }] });
  t.deepEqual(froms(c), [...BUILTIN, './vault']);
  t.deepEqual(c.plugins.at(-1), { from: './vault', settings: { mount: 'kv' }, required: true });
});

test('a built-in listed with "enabled": false is not loaded; listed with settings or required, only those change', async (t) => {
  const c = await load(t, {
    plugins: [
      { from: '@example/credroam-vault' },
      { from: '@credroam/plugin-ldap', enabled: false },
      { from: '@credroam/plugin-pkcs12', required: true },
    ],
  });
  t.deepEqual(froms(c), [
    '@credroam/core/builtin/folder',
    '@credroam/plugin-pkcs12',
    '@credroam/plugin-nss',
    '@credroam/plugin-triggers',
    '@credroam/core/builtin/policy-file',
    '@credroam/plugin-policy-https',
    '@credroam/plugin-enroll-cmp',
    '@credroam/plugin-enroll-scep',
    '@example/credroam-vault',
  ]);
  t.deepEqual(c.plugins[1], { from: '@credroam/plugin-pkcs12', required: true });
});

test('a third-party entry with "enabled": false is left out', async (t) => {
  t.deepEqual(froms(await load(t, { plugins: [{ from: './vault', enabled: false }] })), BUILTIN);
});

test('listing one trigger keeps the store watcher and the refresh timer', async (t) => {
  const c = await load(t, { triggers: [{ use: 'session', settings: { sessionId: '3' } }] });
  t.deepEqual(uses(c), ['store-watcher', 'policy-refresh', 'session']);
  t.deepEqual(c.triggers[2], { use: 'session', settings: { sessionId: '3' } });
});

test('a default trigger is turned off with "enabled": false, or given settings in place', async (t) => {
  const c = await load(t, {
    triggers: [
      { use: 'policy-refresh', enabled: false },
      { use: 'store-watcher', settings: { debounceMs: 1000 } },
    ],
  });
  t.deepEqual(c.triggers, [{ use: 'store-watcher', settings: { debounceMs: 1000 } }]);
});

test('a plugin or trigger listed twice is an error naming it and the file', async (t) => {
  const twice = { plugins: [{ from: './vault' }, { from: './vault', required: true }] };
  const error = await t.throwsAsync(load(t, twice));
  t.regex(error?.message ?? '', /agent\.json: \/plugins lists '\.\/vault' twice/);
  await t.throwsAsync(load(t, { triggers: [{ use: 'session' }, { use: 'session' }] }), {
    message: /\/triggers lists 'session' twice/,
  });
});

test('"enabled" must be a boolean', async (t) => {
  await t.throwsAsync(load(t, { plugins: [{ from: './vault', enabled: 'no' }] }), {
    message: /\/plugins\/0\/enabled: must be boolean/,
  });
});
