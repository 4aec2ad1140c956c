import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventLog, PluginHost, PolicySource } from '@credroam/core';
import test from 'ava';
import { HTTPS_POLICY_SETTINGS_SCHEMA } from '../src/index.js';

const pkg = fileURLToPath(new URL('../../', import.meta.url));

test("the manifest declares the https policy source's settings schema, the one the source checks", async (t) => {
  const manifest = JSON.parse(await readFile(path.join(pkg, 'package.json'), 'utf8'));
  t.deepEqual(
    manifest.credroam.contributes.policySources[0].configuration,
    JSON.parse(JSON.stringify(HTTPS_POLICY_SETTINGS_SCHEMA)),
  );
});

test('through the host, a bad setting is refused before the source is made, naming the contribution and the place', async (t) => {
  const stateRoot = await mkdtemp(path.join(os.tmpdir(), 'credroam-https-manifest-'));
  t.teardown(() => rm(stateRoot, { recursive: true, force: true }));
  const host = new PluginHost({ stateRoot, log: new EventLog({ write: () => undefined }) });
  t.teardown(() => host.dispose());
  await host.load([{ from: pkg }]);
  const factory = await host.contribution(PolicySource, 'https');
  const request = { user: 'alice', home: stateRoot, policy: {} };
  await t.throwsAsync(
    async () =>
      factory({
        ...request,
        settings: { url: 'https://policy.example.org/p', caFile: '/ca.pem', timeoutSeconds: 0 },
      }),
    {
      code: 'E_CONFIG',
      message:
        "invalid settings for PolicySource 'https' (plugin 'credroam.policy-https'): /settings/timeoutSeconds: must be >= 1",
    } as never,
  );
  // Good settings reach the plugin, which still refuses what the schema cannot say (plain HTTP).
  await t.throwsAsync(
    async () => factory({ ...request, settings: { url: 'http://policy.example.org/p', caFile: '/ca.pem' } }),
    { code: 'E_CONFIG', message: /must be https:, not http:/ } as never,
  );
  t.truthy(
    await factory({ ...request, settings: { url: 'https://policy.example.org/p', caFile: '/ca.pem' } }),
  );
});
