import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Enroller, EventLog, PluginHost } from '@credroam/core';
import test from 'ava';
import { CMP_SETTINGS_SCHEMA, CmpEnroller } from '../src/index.js';

const pkg = fileURLToPath(new URL('../../', import.meta.url));

test("the manifest declares the cmp enroller's settings schema, the one the enroller checks", async (t) => {
  const manifest = JSON.parse(await readFile(path.join(pkg, 'package.json'), 'utf8'));
  t.is(manifest.credroam.id, 'credroam.enroll-cmp');
  t.deepEqual(manifest.credroam.activationEvents, ['onEnroller:cmp']);
  t.deepEqual(
    manifest.credroam.contributes.enrollers[0].configuration,
    JSON.parse(JSON.stringify(CMP_SETTINGS_SCHEMA)),
  );
});

test('through the host: the enroller is made from good settings, bad ones are refused naming the place', async (t) => {
  const stateRoot = await mkdtemp(path.join(os.tmpdir(), 'credroam-cmp-manifest-'));
  t.teardown(() => rm(stateRoot, { recursive: true, force: true }));
  const host = new PluginHost({ stateRoot, log: new EventLog({ write: () => undefined }) });
  t.teardown(() => host.dispose());
  await host.load([{ from: pkg }]);
  const factory = await host.contribution(Enroller, 'cmp');
  const request = { user: 'alice', home: stateRoot, policy: {} };
  t.true((await factory({ ...request, settings: { reference: 'ref' } })) instanceof CmpEnroller);
  await t.throwsAsync(async () => factory({ ...request, settings: { reference: 'ref', insecure: true } }), {
    code: 'E_CONFIG',
    message: /must NOT have additional properties/,
  } as never);
  await t.throwsAsync(
    async () => factory({ ...request, settings: { reference: 'ref', recipient: 'CN=a;b' } }),
    {
      code: 'E_CONFIG',
      message: /recipient is not an RFC 4514 name: ';' must be escaped/,
    } as never,
  );
});
