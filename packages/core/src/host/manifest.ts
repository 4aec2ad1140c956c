import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import semver from 'semver';

/** The `credroam` section of a plugin's package.json, after validation. */
export interface PluginManifest {
  /** `publisher.name`, lower case: the id other plugins and the agent manifest use. */
  readonly id: string;
  /** The npm package's `version` (one source of truth). */
  readonly version: string;
  readonly packageName: string;
  readonly displayName?: string;
  readonly description?: string;
  readonly engines: { readonly credroam: string };
  /** Entry module, relative to the package folder, never outside it. */
  readonly main: string;
  readonly activationEvents: readonly string[];
  readonly contributes: Contributions;
  /** Ids of plugins this one depends on; their `activate` results reach it by `context.dependency(id)`. */
  readonly dependencies: readonly string[];
  /** A required plugin that fails stops the agent; an optional one is reported and skipped. */
  readonly required: boolean;
}

export interface ContributionDeclaration {
  readonly id: string;
  readonly title?: string;
  readonly description?: string;
  /** For directory stores: the URL schemes it serves (`file`, `ldap`, `ldaps`). */
  readonly schemes?: readonly string[];
  /** For triggers: the events it fires. */
  readonly events?: readonly string[];
}

export interface Contributions {
  readonly localStores?: readonly ContributionDeclaration[];
  readonly directoryStores?: readonly ContributionDeclaration[];
  readonly tokenProtectors?: readonly ContributionDeclaration[];
  readonly triggers?: readonly ContributionDeclaration[];
  readonly policySources?: readonly ContributionDeclaration[];
  readonly commands?: readonly ContributionDeclaration[];
  /** JSON Schema of the plugin's settings in the agent manifest. */
  readonly configuration?: Record<string, unknown>;
}

const ID = '^[a-z0-9][a-z0-9-]*(\\.[a-z0-9][a-z0-9-]*)+$';
const CONTRIBUTION_ID = '^[A-Za-z0-9][A-Za-z0-9._-]*$';
const EVENT =
  '^(\\*|onStartup|onLogon|onLogoff|onLock|onUnlock|onPolicyRefresh|' +
  '(onStoreChanged|onDirectory|onCommand|onLocalStore|onTokenProtector|onTrigger|onPolicySource):[A-Za-z0-9][A-Za-z0-9._-]*)$';

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
        localStores: contributionList,
        directoryStores: contributionList,
        tokenProtectors: contributionList,
        triggers: contributionList,
        policySources: contributionList,
        commands: contributionList,
        configuration: { type: 'object' },
      },
    },
    dependencies: { type: 'array', items: { type: 'string', pattern: ID }, uniqueItems: true, default: [] },
    required: { type: 'boolean', default: false },
  },
} as const;

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
let compiledManifestSchema: ValidateFunction | undefined;
/** Compiled on first use: a command that reads no manifest pays nothing. */
const validateSchema = (data: unknown): boolean => {
  compiledManifestSchema ??= ajv.compile(MANIFEST_SCHEMA);
  return compiledManifestSchema(data);
};

export type ManifestResult =
  | { readonly ok: true; readonly manifest: PluginManifest }
  | { readonly ok: false; readonly id: string; readonly problems: readonly string[] };

/** Formats ajv errors as `where: what`, with `where` a JSON pointer into the given root (`/` for its top). */
export function describeSchemaErrors(
  errors: readonly ErrorObject[] | null | undefined,
  root: string,
): string[] {
  return (errors ?? []).map((e) => {
    // The document's own top (an unknown member there) is `/`, never an empty place.
    const where = `${root}${e.instancePath}` || '/';
    const extra =
      e.keyword === 'additionalProperties'
        ? ` '${String((e.params as { additionalProperty: string }).additionalProperty)}'`
        : e.keyword === 'enum'
          ? ` (${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')})`
          : '';
    return `${where}: ${e.message ?? e.keyword}${extra}`;
  });
}

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
  if (typeof pkg.version !== 'string' || semver.valid(pkg.version) === null) {
    problems.push('/version: must be a semantic version');
  }
  if (section === undefined) {
    problems.push("/credroam: missing: a plugin's package.json must have a credroam section");
    return { ok: false, id, problems };
  }
  // Validate a copy: defaults are applied to it, the caller's object stays as read.
  const copy = structuredClone(section);
  if (!validateSchema(copy))
    problems.push(...describeSchemaErrors(compiledManifestSchema?.errors, '/credroam'));
  if (problems.length === 0) {
    const m = copy as Omit<PluginManifest, 'version' | 'packageName'>;
    if (semver.validRange(m.engines.credroam) === null) {
      problems.push(`/credroam/engines/credroam: '${m.engines.credroam}' is not a semver range`);
    }
    if (m.main.startsWith('/') || m.main.split(/[\\/]/).includes('..')) {
      problems.push(`/credroam/main: '${m.main}' must be a relative path inside the package`);
    }
    if (m.dependencies.includes(m.id))
      problems.push('/credroam/dependencies: a plugin cannot depend on itself');
    if (m.contributes.configuration !== undefined) {
      try {
        ajv.compile(m.contributes.configuration);
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

/**
 * Compiles a JSON Schema (a plugin's configuration, the agent manifest) and returns a validator
 * that applies defaults to a copy and reports problems as `where: what` lines under `root`.
 */
export function configurationValidator(
  schema: Record<string, unknown> | undefined,
  root = '/settings',
): (settings: unknown) => { ok: true; value: Record<string, unknown> } | { ok: false; problems: string[] } {
  let validate: ValidateFunction | undefined;
  return (settings) => {
    validate ??= ajv.compile(schema ?? { type: 'object' });
    const copy = structuredClone(settings ?? {});
    if (validate(copy)) return { ok: true, value: copy as Record<string, unknown> };
    return { ok: false, problems: describeSchemaErrors(validate.errors, root) };
  };
}
