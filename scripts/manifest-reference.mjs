#!/usr/bin/env node
// docs/plugins/manifest.md, the manifest reference, generated from the manifest's JSON Schema
// (MANIFEST_SCHEMA in packages/core/src/host/manifest.ts, built: `pnpm exec tsc -b`) and the one
// table of extension points. Every field the schema has must have a line in MEANING below: a field
// added to the schema without one fails the generation, and a test fails when the checked-in page
// differs from a fresh one.
//
//   node scripts/manifest-reference.mjs          prints the page
//   node scripts/manifest-reference.mjs --write  writes docs/plugins/manifest.md
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
export const MANIFEST_PAGE = path.join(root, 'docs/plugins/manifest.md');
const dist = (f) => pathToFileURL(path.join(root, 'packages/core/dist/src', f)).href;

/** What each field means, by its path in the schema (`contributes.<point>[]` fields under `contribution.`). */
const MEANING = {
  id: 'The plugin id, `publisher.name` in lower case: what agent manifests, dependencies, allow-lists and logs name.',
  displayName: 'A name for people (`credroam plugins list`).',
  description: 'What the plugin does, one paragraph.',
  engines: 'What the plugin runs on.',
  'engines.credroam':
    'The semver range of plugin **API** versions it works with (`API_VERSION` of `@credroam/core/api`, not the agent version). Another API: not loaded (event 2005).',
  main: 'The entry module, relative to the package folder and inside it; one of the files the package ships (`files`).',
  activationEvents: 'When the host imports and activates the plugin (the list below).',
  permissions:
    'What a third-party plugin, run out of process, asks to be given: `network`, `read:<folder>`, `write:<folder>`, `localStore:read`, `directory:read`, `directory:write`, `password`; the site policy must grant each (docs/plugins/isolation.md).',
  contributes:
    'What the plugin provides: one list per extension point, `commands`, and the schema of its own settings.',
  'contributes.configuration':
    "The JSON Schema (draft 7) of the plugin's own settings (an agent manifest's `plugins[].settings`), checked at load with defaults applied; `context.configuration` in `activate`.",
  'contributes.commands': 'CLI subcommands the plugin provides (activation event `onCommand:<id>`).',
  dependencies:
    'Ids of plugins to activate first; `context.dependency(id)` returns what their `activate` returned.',
  required:
    'A required plugin that fails stops the agent (exit 1); an optional one is reported and skipped. The agent manifest may override it.',
  'contribution.id':
    'The contribution id: what an agent manifest selects (`directory.use`, `localStore.use`, a `triggers[].use`, …) and the activation event names.',
  'contribution.title': 'A title for people.',
  'contribution.description': 'What it does.',
  'contribution.schemes': 'URL schemes it serves (a directory store: `ldaps`, `file`, …).',
  'contribution.events': 'For a trigger: the event names it fires (`logon`, `unlock`, `storeChanged`, …).',
  'contribution.configuration':
    "The JSON Schema (draft 7) of this contribution's settings (`directory.settings`, a `triggers[]` entry's `settings`, …). The host validates them, defaults applied, before the plugin's factory is called; a bad value is `E_CONFIG` naming each place.",
};

function constraints(s) {
  const c = [];
  if (s.pattern) c.push(`pattern \`${s.pattern}\``);
  if (s.minLength === 1) c.push('not empty');
  else if (s.minLength !== undefined) c.push(`at least ${s.minLength} characters`);
  if (s.maxLength !== undefined) c.push(`at most ${s.maxLength} characters`);
  if (s.uniqueItems) c.push('no duplicates');
  if (s.additionalProperties === false) c.push('no other fields');
  if (s.items?.pattern) c.push(`each matches \`${s.items.pattern}\``);
  if (s.items?.maxLength) c.push(`each at most ${s.items.maxLength} characters`);
  return c.join('; ');
}
const type = (s) => (s.type === 'array' ? `array of ${s.items?.type ?? 'any'}` : (s.type ?? 'any'));
const cell = (v) => String(v).replaceAll('|', '\\|');

function rows(schema, prefix, meaningPrefix, skip = () => false) {
  const out = [];
  for (const [name, s] of Object.entries(schema.properties ?? {})) {
    const key = `${meaningPrefix}${name}`;
    if (skip(name)) continue;
    const meaning = MEANING[key];
    if (!meaning)
      throw new Error(
        `the manifest schema has a field without a meaning in scripts/manifest-reference.mjs: ${key}`,
      );
    const required = (schema.required ?? []).includes(name) ? 'yes' : 'no';
    const dflt = s.default === undefined ? '' : `\`${JSON.stringify(s.default)}\``;
    out.push(
      `| \`${prefix}${name}\` | ${type(s)} | ${required} | ${dflt} | ${cell(constraints(s))} | ${cell(meaning)} |`,
    );
    if (s.type === 'object' && s.properties && name !== 'contributes')
      out.push(...rows(s, `${prefix}${name}.`, `${key}.`));
  }
  return out;
}

export async function manifestReference() {
  const { MANIFEST_SCHEMA } = await import(dist('host/manifest.js'));
  const { EXTENSION_POINTS } = await import(dist('api/extension-points.js'));
  const { LIFECYCLE_ACTIVATION_EVENTS, OTHER_ACTIVATION_EVENT_PREFIXES } = await import(
    dist('api/manifest.js')
  );
  const header = '| field | type | required | default | constraints | meaning |\n|---|---|---|---|---|---|';
  const pointKeys = new Set(EXTENSION_POINTS.map((p) => p.manifestKey));
  const contributes = MANIFEST_SCHEMA.properties.contributes;
  const contribution = contributes.properties[EXTENSION_POINTS[0].manifestKey].items;
  for (const k of Object.keys(contributes.properties))
    if (!pointKeys.has(k) && !MEANING[`contributes.${k}`]) throw new Error(`contributes.${k} has no meaning`);
  return `# The plugin manifest: reference

<!-- Generated by scripts/manifest-reference.mjs from the manifest's JSON Schema (MANIFEST_SCHEMA,
packages/core/src/host/manifest.ts) and the table of extension points; do not edit by hand: run
\`pnpm exec tsc -b && node scripts/manifest-reference.mjs --write\`. A test fails when it differs. -->

A plugin's manifest is the \`credroam\` section of its \`package.json\`; the package's own \`name\` and
\`version\` are the plugin's. The host validates it against this schema (ajv, draft 7, defaults
applied) before importing any code; each problem is reported with the plugin id and a JSON pointer
(\`/credroam/activationEvents/0: must match pattern …\`). How to write one, with an example:
[authoring.md](authoring.md#the-manifest).

## Fields of \`credroam\`

${header}
${rows(MANIFEST_SCHEMA, '', '').join('\n')}

## \`contributes\`

| key | extension point | activation event | each entry |
|---|---|---|---|
${EXTENSION_POINTS.map((p) => `| \`contributes.${p.manifestKey}\` | \`${p.name}\` | \`${p.event}:<id>\` | a contribution (below) |`).join('\n')}
| \`contributes.commands\` | CLI subcommands | \`onCommand:<id>\` | a contribution (below) |
| \`contributes.configuration\` | | | ${cell(MEANING['contributes.configuration'])} |

### A contribution

${header}
${rows(contribution, '', 'contribution.').join('\n')}

## Activation events

- ${LIFECYCLE_ACTIVATION_EVENTS.map((e) => `\`${e}\``).join(', ')}: the agent's lifecycle;
- ${[...OTHER_ACTIVATION_EVENT_PREFIXES, ...EXTENSION_POINTS.map((p) => p.event)].map((e) => `\`${e}:<id>\``).join(', ')}: something about \`<id>\` happens (a contribution selected or used, a store changed, a command run; ids match \`${contribution.properties.id.pattern}\`);
- \`*\`: at start-up, always.

## The schema

\`\`\`json
${JSON.stringify(MANIFEST_SCHEMA, null, 2)}
\`\`\`
`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const page = await manifestReference();
  if (process.argv.includes('--write')) writeFileSync(MANIFEST_PAGE, page);
  else process.stdout.write(page);
}

export const currentPage = () => readFileSync(MANIFEST_PAGE, 'utf8');
