import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DirectoryStore, EventLog, PluginHost, PolicySource } from '@credroam/core';
import test from 'ava';
import { LDAP_POLICY_SOURCE_SETTINGS_SCHEMA, LDAP_SETTINGS_SCHEMA } from '../src/index.js';

const pkg = fileURLToPath(new URL('../../', import.meta.url));
const json = (value: unknown) => JSON.parse(JSON.stringify(value));

test("the manifest declares the ldap contributions' settings schemas, the ones the plugin checks", async (t) => {
  const { contributes } = JSON.parse(await readFile(path.join(pkg, 'package.json'), 'utf8')).credroam;
  t.deepEqual(contributes.directoryStores[0].configuration, json(LDAP_SETTINGS_SCHEMA));
  t.deepEqual(contributes.policySources[0].configuration, json(LDAP_POLICY_SOURCE_SETTINGS_SCHEMA));
});

test('through the host, bad ldap settings are refused before any connection, naming the contribution and the place', async (t) => {
  const stateRoot = await mkdtemp(path.join(os.tmpdir(), 'credroam-ldap-manifest-'));
  t.teardown(() => rm(stateRoot, { recursive: true, force: true }));
  const host = new PluginHost({ stateRoot, log: new EventLog({ write: () => undefined }) });
  t.teardown(() => host.dispose());
  await host.load([{ from: pkg }]);
  const request = { user: 'alice', home: stateRoot, policy: {} };
  const directory = await host.contribution(DirectoryStore, 'ldap');
  await t.throwsAsync(
    async () =>
      directory({
        ...request,
        settings: { url: 'ldaps://ldap.example.org', caFile: '/ca.pem', bind: 'anonymous' },
      }),
    {
      code: 'E_CONFIG',
      message:
        "invalid settings for DirectoryStore 'ldap' (plugin 'credroam.ldap'): /settings/bind: must be equal to one of the allowed values (simple, external, gssapi)",
    } as never,
  );
  const source = await host.contribution(PolicySource, 'ldap');
  await t.throwsAsync(
    async () =>
      source({
        ...request,
        settings: { url: 'ldaps://ldap.example.org', caFile: '/ca.pem', policyDn: 'ou=x', rangeSize: 10 },
      }),
    {
      code: 'E_CONFIG',
      message: /PolicySource 'ldap'.*\/settings: must NOT have additional properties 'rangeSize'/,
    } as never,
  );
  // What the schema cannot say (userDn, or base and filter) the plugin still checks itself.
  await t.throwsAsync(
    async () => directory({ ...request, settings: { url: 'ldaps://ldap.example.org', caFile: '/ca.pem' } }),
    { code: 'E_CONFIG', message: 'the ldap directory needs userDn, or base and filter' } as never,
  );
});
