import { readFile } from 'node:fs/promises';
import test from 'ava';
import { SCEP_SETTINGS_SCHEMA, scepSettings } from '../src/index.js';

test("the manifest declares the scep enroller's settings schema, the one the enroller checks", async (t) => {
  const manifest = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'));
  t.deepEqual(
    manifest.credroam.contributes.enrollers[0].configuration,
    JSON.parse(JSON.stringify(SCEP_SETTINGS_SCHEMA)),
  );
});

test('settings: defaults applied, unknown keys refused', (t) => {
  t.deepEqual(scepSettings(undefined), { timeoutSeconds: 30 });
  t.throws(() => scepSettings({ nope: 1 }), { code: 'E_CONFIG' } as never);
});
