/**
 * The plugin allow-list a signed policy bundle carries (issue 12): which plugins an endpoint may
 * load. A contract only: the bundle verifier produces it, the plugin host obeys it.
 */

/** One allowed plugin: its id, the versions allowed, and the SHA-256 of every file of its package. */
export interface AllowListEntry {
  /** The plugin's id (`credroam.id` in its package.json), e.g. `credroam.ldap`. */
  readonly id: string;
  /** A semver range its `version` must satisfy, e.g. `^0.1.0`. */
  readonly version: string;
  /**
   * Every file of the plugin's package folder, by path relative to it (`/`-separated, sorted),
   * with its SHA-256 in hex: a file added, removed or changed refuses the plugin. The manifest
   * `credroam policy hash-plugin DIR` prints.
   */
  readonly files: Readonly<Record<string, string>>;
}

/**
 * What the host is told: `undefined` when no bundle is installed (the built-in defaults: every
 * configured plugin loads, and `status`/`doctor` say so), else the entries of the bundle in force.
 */
export type PluginAllowList = readonly AllowListEntry[] | undefined;
