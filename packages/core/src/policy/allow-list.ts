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
  /**
   * The permissions the site grants a plugin that runs out of process (docs/plugins/isolation.md):
   * every permission its manifest asks for must be here, or it is refused. Absent: none.
   */
  readonly grants?: readonly string[];
  /**
   * A third-party plugin the site has vetted and signed may run inside the agent, as first-party
   * plugins do (with everything the agent can reach). Absent or false: it runs out of process.
   */
  readonly inProcess?: boolean;
}

/**
 * What the host is told: `undefined` when no bundle is installed (the built-in defaults: every
 * configured plugin loads, and `status`/`doctor` say so), else the entries of the bundle in force.
 */
export type PluginAllowList = readonly AllowListEntry[] | undefined;
