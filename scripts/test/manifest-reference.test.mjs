import { readFileSync } from 'node:fs';
import test from 'ava';
import { MANIFEST_PAGE, manifestReference } from '../manifest-reference.mjs';

test('docs/plugins/manifest.md is generated from the manifest schema as built (node scripts/manifest-reference.mjs --write)', async (t) => {
  const fresh = await manifestReference();
  t.is(
    readFileSync(MANIFEST_PAGE, 'utf8'),
    fresh,
    'docs/plugins/manifest.md differs from the schema: pnpm exec tsc -b && node scripts/manifest-reference.mjs --write',
  );
  t.regex(fresh, /\| `engines\.credroam` \| string \| yes \|/);
});
