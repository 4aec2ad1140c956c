import type { ManifestContributionKey } from './extension-points.js';

/**
 * The types of a plugin manifest: the `credroam` section of its package.json, as the host hands it
 * around after validation. The host's validator (and the JSON Schema it checks) follow these and
 * the extension-point table; docs/plugins/authoring.md describes each field.
 */

/** A JSON Schema (draft 7, as ajv reads it), kept as data. */
export type JsonSchema = Readonly<Record<string, unknown>>;

/** The `credroam` section of a plugin's package.json, after validation. */
export interface PluginManifest {
  /** `publisher.name`, lower case: the id other plugins and the agent manifest use. */
  readonly id: string;
  /** The npm package's `version` (one source of truth). */
  readonly version: string;
  readonly packageName: string;
  readonly displayName?: string;
  readonly description?: string;
  /** `credroam`: the semver range of plugin API versions (`API_VERSION`) the plugin works with. */
  readonly engines: { readonly credroam: string };
  /** Entry module, relative to the package folder, never outside it. */
  readonly main: string;
  readonly activationEvents: readonly string[];
  readonly contributes: Contributions;
  /** Ids of plugins this one depends on; their `activate` results reach it by `context.dependency(id)`. */
  readonly dependencies: readonly string[];
  /** A required plugin that fails stops the agent; an optional one is reported and skipped. */
  readonly required: boolean;
  /**
   * What the plugin asks for when it runs out of process (`network`, `read:<folder>`,
   * `write:<folder>`, `directory:read`, `directory:write`, `password`): the site must grant every
   * one, or it is refused. Default: none. docs/plugins/isolation.md lists them.
   */
  readonly permissions: readonly string[];
}

/** One entry of `contributes.<point>[]`. */
export interface ContributionDeclaration {
  readonly id: string;
  readonly title?: string;
  readonly description?: string;
  /** For directory stores: the URL schemes it serves (`file`, `ldap`, `ldaps`). */
  readonly schemes?: readonly string[];
  /** For triggers: the events it fires. */
  readonly events?: readonly string[];
  /**
   * JSON Schema of this contribution's settings (what the agent manifest gives it: `directory.settings`,
   * a `policySources[]` entry's `settings`, ...). When present, the host validates the settings
   * against it, defaults applied, before calling the contribution's factory; a bad value is an
   * `E_CONFIG` error naming the contribution and the place. Without it, the settings reach the
   * factory as written.
   */
  readonly configuration?: JsonSchema;
}

/** `contributes`: one list per extension point (keys from `EXTENSION_POINTS`), commands, and the plugin's settings schema. */
export type Contributions = {
  readonly [K in ManifestContributionKey]?: readonly ContributionDeclaration[];
} & {
  readonly commands?: readonly ContributionDeclaration[];
  /** JSON Schema of the plugin's own settings (the agent manifest's `plugins[].settings`, `context.configuration`). */
  readonly configuration?: JsonSchema;
};

/** Activation events without an id. `*` (any event) is allowed too. */
export const LIFECYCLE_ACTIVATION_EVENTS = [
  'onStartup',
  'onLogon',
  'onLogoff',
  'onLock',
  'onUnlock',
  'onPolicyRefresh',
] as const;

/**
 * Activation events with an id that are not an extension point's: `onStoreChanged:<id>`,
 * `onCommand:<id>`. Each extension point adds its own (`EXTENSION_POINTS[].event`).
 */
export const OTHER_ACTIVATION_EVENT_PREFIXES = ['onStoreChanged', 'onCommand'] as const;
