import { readFileSync } from 'node:fs';
import test from 'ava';
import { COMPILED_VALIDATORS_FILE, compiledValidators } from '../compile-validators.mjs';

test('packages/agent/src/cli/compiled-validators.ts is generated from the first-party schemas as built (node scripts/compile-validators.mjs --write)', async (t) => {
  t.is(
    readFileSync(COMPILED_VALIDATORS_FILE, 'utf8'),
    await compiledValidators(),
    'a first-party JSON Schema changed: pnpm exec tsc -b && node scripts/compile-validators.mjs --write && pnpm exec tsc -b',
  );
});

test('a validator compiled at build time judges as ajv does at run time: same verdict, same problems, same defaults', async (t) => {
  const { COMPILED_VALIDATORS } = await import('../../packages/agent/dist/src/cli/compiled-validators.js');
  const { MANIFEST_SCHEMA, schemaKey, compileSchema } = await import('../../packages/core/dist/src/index.js');
  const ahead = COMPILED_VALIDATORS[schemaKey(MANIFEST_SCHEMA)];
  t.truthy(ahead);
  const now = compileSchema({ ...MANIFEST_SCHEMA, title: 'compiled at run time' });
  t.not(now, ahead);
  const samples = [
    { id: 'acme.badge', engines: { credroam: '^0.1.0' }, main: 'dist/index.js' },
    { id: 'Acme', engines: {}, main: '', activationEvents: ['onNothing:x'], extra: 1 },
    { id: 'acme.x', engines: { credroam: '1' }, main: 'm.js', contributes: { triggers: [{ id: 'a b' }] } },
  ];
  for (const sample of samples) {
    const [a, b] = [structuredClone(sample), structuredClone(sample)];
    t.is(ahead(a), now(b));
    t.deepEqual(ahead.errors, now.errors);
    t.deepEqual(a, b);
  }
});
