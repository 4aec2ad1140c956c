import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Enroller, EventLog, PluginHost } from '@credroam/core';
import test from 'ava';
import { SCEP_SETTINGS_SCHEMA, ScepEnroller, scepSettings } from '../src/index.js';

const pkg = fileURLToPath(new URL('../../', import.meta.url));

test("the manifest declares the scep enroller's settings schema, the one the enroller checks", async (t) => {
  const manifest = JSON.parse(await readFile(path.join(pkg, 'package.json'), 'utf8'));
  t.is(manifest.credroam.id, 'credroam.enroll-scep');
  t.deepEqual(manifest.credroam.activationEvents, ['onEnroller:scep']);
  t.deepEqual(
    manifest.credroam.contributes.enrollers[0].configuration,
    JSON.parse(JSON.stringify(SCEP_SETTINGS_SCHEMA)),
  );
});

test('settings: none is the defaults; an unknown key is refused', (t) => {
  t.deepEqual(scepSettings(undefined), { timeoutSeconds: 30 });
  t.deepEqual(scepSettings({ caIdentifier: 'ca-1', timeoutSeconds: 5 }), {
    caIdentifier: 'ca-1',
    timeoutSeconds: 5,
  });
  t.throws(() => scepSettings({ challenge: 'x' }), { code: 'E_CONFIG' } as never);
});

test('through the host: the scep enroller, its settings checked against the manifest before it is made', async (t) => {
  const stateRoot = await mkdtemp(path.join(os.tmpdir(), 'credroam-scep-manifest-'));
  t.teardown(() => rm(stateRoot, { recursive: true, force: true }));
  const host = new PluginHost({ stateRoot, log: new EventLog({ write: () => undefined }) });
  t.teardown(() => host.dispose());
  await host.load([{ from: pkg }]);
  const factory = await host.contribution(Enroller, 'scep');
  const request = { user: 'alice', home: stateRoot, policy: {} };
  await t.throwsAsync(async () => factory({ ...request, settings: { timeoutSeconds: 0 } }), {
    code: 'E_CONFIG',
    message: /\/settings\/timeoutSeconds: must be >= 1/,
  } as never);
  t.true((await factory({ ...request, settings: {} })) instanceof ScepEnroller);
});
