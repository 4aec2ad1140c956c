import type { DirectoryStore } from './points/directory-store.js';

/** What a contribution factory is given when the agent selects that contribution. */
export interface ContributionRequest {
  /** The user being roamed (a login name or a DN, as the agent is configured). */
  readonly user: string;
  /**
   * The settings the agent manifest gives this contribution. When the manifest declares the
   * contribution's `configuration` schema, the host has validated them against it, defaults
   * applied, before calling the factory; otherwise they are as written and the plugin checks them.
   */
  readonly settings: Readonly<Record<string, unknown>>;
  /** This endpoint's data folder for the user (0700): local stores keep their files under it. */
  readonly home: string;
  /**
   * The site policy's section for this extension point (for protectors: `protection`; for directory
   * stores: `directory`, whose `trustWithPassword` says whether a bind may send the roaming
   * password). Read it when it matters, not once: the agent's policy refresh may change it.
   */
  readonly policy: Readonly<Record<string, unknown>>;
  /** The user's directory store: protectors keep wrapped keys on the user's entry. Not given to directory stores. */
  readonly directory?: DirectoryStore;
  /**
   * The user's roaming password, when the command at hand has it (a directory store binds with it
   * when the site uses one account password, as Windows does). Never logged, never stored.
   */
  readonly password?: () => Promise<string>;
}

export type ContributionFactory<T> = (request: ContributionRequest) => T | Promise<T>;
