import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import {
  EXTENSION_POINTS,
  LIFECYCLE_ACTIVATION_EVENTS,
  OTHER_ACTIVATION_EVENT_PREFIXES,
} from '../../src/api/index.js';
import { MANIFEST_SCHEMA, parseManifest } from '../../src/host/manifest.js';

const doc = fileURLToPath(new URL('../../../../../docs/plugins/authoring.md', import.meta.url));
const POINTS_HEADER = '| point | manifest key | activation event | contract |';

/** The rows of the extension-point table in docs/plugins/authoring.md: point, key, event. */
async function documentedPoints(): Promise<string[][]> {
  const lines = (await readFile(doc, 'utf8')).split('\n');
  const start = lines.indexOf(POINTS_HEADER);
  if (start < 0) return [];
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split('|').slice(1, 4);
    rows.push(cells.map((c) => c.trim().replaceAll('`', '')));
  }
  return rows;
}

test("docs/plugins/authoring.md's extension-point table is EXTENSION_POINTS, row for row", async (t) => {
  t.deepEqual(
    await documentedPoints(),
    EXTENSION_POINTS.map((p) => [p.name, `contributes.${p.manifestKey}`, `${p.event}:<id>`]),
    `write the table under "${POINTS_HEADER}" from EXTENSION_POINTS (packages/core/src/api/extension-points.ts)`,
  );
});

test("the doc's activationEvents row lists exactly the events the manifest accepts", async (t) => {
  const text = await readFile(doc, 'utf8');
  const row = text.split('\n').find((l) => l.startsWith('| `activationEvents` |')) ?? '';
  const documented = [...row.matchAll(/`([^`]+)`/g)].map((m) => m[1]!).slice(1);
  const expected = [
    ...LIFECYCLE_ACTIVATION_EVENTS,
    ...[...OTHER_ACTIVATION_EVENT_PREFIXES, ...EXTENSION_POINTS.map((p) => p.event)].map((e) => `${e}:<id>`),
    '*',
  ];
  t.deepEqual([...documented].sort(), [...expected].sort());
});

test('the manifest schema takes a contribution list for each extension point, and its activation event', (t) => {
  const keys = Object.keys(MANIFEST_SCHEMA.properties.contributes.properties).sort();
  t.deepEqual(keys, [...EXTENSION_POINTS.map((p) => p.manifestKey), 'commands', 'configuration'].sort());
  for (const p of EXTENSION_POINTS) {
    const result = parseManifest(
      {
        name: 'x',
        version: '1.0.0',
        credroam: {
          id: 'test.x',
          engines: { credroam: '*' },
          main: 'index.js',
          activationEvents: [`${p.event}:one`],
          contributes: { [p.manifestKey]: [{ id: 'one', configuration: { type: 'object' } }] },
        },
      },
      'x',
    );
    t.true(result.ok, `${p.name}: ${result.ok ? '' : result.problems.join('; ')}`);
  }
  const unknown = parseManifest(
    {
      name: 'x',
      version: '1.0.0',
      credroam: {
        id: 'test.x',
        engines: { credroam: '*' },
        main: 'i.js',
        activationEvents: ['onRenewer:one'],
      },
    },
    'x',
  );
  t.false(unknown.ok, 'an event of no extension point is refused');
});
