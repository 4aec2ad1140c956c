import semverValid from 'semver/functions/valid.js';
import semverValidRange from 'semver/ranges/valid.js';
import { EXTENSION_POINTS } from '../api/extension-points.js';
import {
  type ContributionDeclaration,
  LIFECYCLE_ACTIVATION_EVENTS,
  OTHER_ACTIVATION_EVENT_PREFIXES,
  type PluginManifest,
} from '../api/manifest.js';
import { PERMISSION_PATTERN } from './isolation/permissions.js';
import {
  compileSchema,
  configurationValidator,
  describeSchemaErrors,
  NO_CONFIGURATION_SCHEMA,
} from './schema-validators.js';

export type { ContributionDeclaration, Contributions, PluginManifest } from '../api/manifest.js';
// Where they were first: a composition root's configuration check now lives with the validators
// (`@credroam/core/schemas`), which a command loads without the plugin host.
export { configurationValidator, describeSchemaErrors, NO_CONFIGURATION_SCHEMA };

const ID = '^[a-z0-9][a-z0-9-]*(\\.[a-z0-9][a-z0-9-]*)+$';
const CONTRIBUTION_ID = '^[A-Za-z0-9][A-Za-z0-9._-]*$';
/** Activation events: from the manifest types' lists and the extension-point table, nowhere else. */
const EVENT =
  `^(\\*|${LIFECYCLE_ACTIVATION_EVENTS.join('|')}|` +
  `(${[...OTHER_ACTIVATION_EVENT_PREFIXES, ...EXTENSION_POINTS.map((p) => p.event)].join('|')}):${CONTRIBUTION_ID.slice(1, -1)})$`;

const contributionList = {
  type: 'array',
  items: {
    type: 'object',
    required: ['id'],
    additionalProperties: false,
    properties: {
      id: { type: 'string', pattern: CONTRIBUTION_ID, maxLength: 64 },
      title: { type: 'string', maxLength: 200 },
      description: { type: 'string', maxLength: 2000 },
      schemes: { type: 'array', items: { type: 'string', pattern: '^[a-z][a-z0-9+.-]*$' } },
      events: { type: 'array', items: { type: 'string', maxLength: 64 } },
      configuration: { type: 'object' },
    },
  },
} as const;

/** The JSON Schema of the manifest; documented in docs/plugins/authoring.md. */
export const MANIFEST_SCHEMA = {
  type: 'object',
  required: ['id', 'engines', 'main'],
  additionalProperties: false,
  properties: {
    id: { type: 'string', pattern: ID, maxLength: 128 },
    displayName: { type: 'string', maxLength: 200 },
    description: { type: 'string', maxLength: 2000 },
    engines: {
      type: 'object',
      required: ['credroam'],
      additionalProperties: false,
      properties: { credroam: { type: 'string', minLength: 1, maxLength: 100 } },
    },
    main: { type: 'string', minLength: 1, maxLength: 500 },
    activationEvents: { type: 'array', items: { type: 'string', pattern: EVENT }, default: [] },
    contributes: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        ...Object.fromEntries(EXTENSION_POINTS.map((p) => [p.manifestKey, contributionList])),
        commands: contributionList,
        configuration: { type: 'object' },
      },
    },
    dependencies: { type: 'array', items: { type: 'string', pattern: ID }, uniqueItems: true, default: [] },
    required: { type: 'boolean', default: false },
    permissions: {
      type: 'array',
      items: { type: 'string', pattern: PERMISSION_PATTERN, maxLength: 1024 },
      uniqueItems: true,
      maxItems: 64,
      default: [],
    },
  },
} as const;

export type ManifestResult =
  | { readonly ok: true; readonly manifest: PluginManifest }
  | { readonly ok: false; readonly id: string; readonly problems: readonly string[] };

/**
 * Validates a plugin's package.json before any of its code is loaded. Every problem is reported,
 * with where in the package.json it is. `fallbackId` names the plugin when its id is unusable.
 */
export function parseManifest(packageJson: unknown, fallbackId: string): ManifestResult {
  if (typeof packageJson !== 'object' || packageJson === null || Array.isArray(packageJson)) {
    return { ok: false, id: fallbackId, problems: ['/: package.json is not a JSON object'] };
  }
  const pkg = packageJson as Record<string, unknown>;
  const section = pkg.credroam;
  const rawId = (section as { id?: unknown } | undefined)?.id;
  const id = typeof rawId === 'string' && rawId.length > 0 ? rawId : fallbackId;
  const problems: string[] = [];
  if (typeof pkg.name !== 'string' || pkg.name.length === 0) problems.push('/name: must be a package name');
  if (typeof pkg.version !== 'string' || semverValid(pkg.version) === null) {
    problems.push('/version: must be a semantic version');
  }
  if (section === undefined) {
    problems.push("/credroam: missing: a plugin's package.json must have a credroam section");
    return { ok: false, id, problems };
  }
  // Validate a copy: defaults are applied to it, the caller's object stays as read.
  const copy = structuredClone(section);
  const validateManifest = compileSchema(MANIFEST_SCHEMA);
  if (!validateManifest(copy)) problems.push(...describeSchemaErrors(validateManifest.errors, '/credroam'));
  if (problems.length === 0) {
    const m = copy as Omit<PluginManifest, 'version' | 'packageName'>;
    if (semverValidRange(m.engines.credroam) === null) {
      problems.push(`/credroam/engines/credroam: '${m.engines.credroam}' is not a semver range`);
    }
    if (m.main.startsWith('/') || m.main.split(/[\\/]/).includes('..')) {
      problems.push(`/credroam/main: '${m.main}' must be a relative path inside the package`);
    }
    if (m.dependencies.includes(m.id))
      problems.push('/credroam/dependencies: a plugin cannot depend on itself');
    // Each configuration schema is checked here, at load, before any plugin code runs: compiled
    // (found compiled ahead of time when it is a first-party one), and kept for its settings.
    if (m.contributes.configuration !== undefined) {
      try {
        compileSchema(m.contributes.configuration);
      } catch (error) {
        problems.push(
          `/credroam/contributes/configuration: not a usable JSON Schema: ${(error as Error).message}`,
        );
      }
    }
    for (const [key, list] of Object.entries(m.contributes)) {
      if (!Array.isArray(list)) continue;
      const seen = new Set<string>();
      list.forEach((c: ContributionDeclaration, i: number) => {
        if (seen.has(c.id))
          problems.push(`/credroam/contributes/${key}/${i}/id: '${c.id}' is declared twice`);
        seen.add(c.id);
        if (c.configuration !== undefined) {
          try {
            compileSchema(c.configuration);
          } catch (error) {
            problems.push(
              `/credroam/contributes/${key}/${i}/configuration: not a usable JSON Schema: ${(error as Error).message}`,
            );
          }
        }
      });
    }
    if (problems.length === 0) {
      return {
        ok: true,
        manifest: { ...m, version: pkg.version as string, packageName: pkg.name as string },
      };
    }
  }
  return { ok: false, id, problems };
}
