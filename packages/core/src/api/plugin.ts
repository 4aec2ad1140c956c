import type { ContributionFactory } from './contribution.js';
import type { Disposable, DisposableStore } from './disposable.js';
import type { Logger } from './events.js';
import type { ExtensionPointToken } from './points/extension-point.js';
import type { LocalItem } from './points/local-store.js';

/**
 * The user's local store as a plugin may read it with the `localStore:read` permission:
 * certificates only. Private keys (and attributes) never reach a plugin through it.
 */
export interface CertificateReader {
  /** Changes whenever the store's contents change. */
  revision(): Promise<string>;
  /** The store's certificates (`kind: 'cert'`), archived ones included. */
  certificates(): Promise<readonly LocalItem[]>;
}

/** What the host offers a plugin beyond its context, each only when its manifest asks for it and the site grants it. */
export interface PluginServices {
  /** `localStore:read`: the user's certificates. */
  readonly certificates?: CertificateReader;
}

/**
 * What the host hands a plugin's `activate`. Everything a plugin registers goes through here, so the
 * host can take it all back at deactivation. It exposes no dependency-injection container: a plugin
 * builds its objects as it likes (with or without a container of its own) and hands them over
 * through `contribute`, so the API needs neither tsyringe nor decorator metadata.
 */
export interface PluginContext {
  /** The plugin's id from its manifest. */
  readonly id: string;
  readonly version: string;
  /** Disposed by the host in reverse order of addition when the plugin is deactivated. */
  readonly subscriptions: DisposableStore;
  /** A logger that stamps this plugin's id on every record. */
  readonly logger: Logger;
  /** The plugin's settings from the agent manifest, validated against its configuration schema, defaults applied. */
  readonly configuration: Readonly<Record<string, unknown>>;
  /** A folder private to this plugin (mode 0700), created before `activate`. */
  readonly stateDir: string;
  /**
   * The host's services this plugin asked for in `credroam.permissions` and was granted
   * (docs/plugins/isolation.md); absent or empty when none.
   */
  readonly services?: PluginServices;
  /**
   * The API that a plugin this one depends on (manifest `dependencies`) returned from its `activate`.
   * Throws for an id not listed in the manifest.
   */
  dependency<T>(pluginId: string): T;
  /**
   * Provides the implementation of a contribution declared in the manifest's `contributes`. The
   * returned disposable is already in `subscriptions`.
   */
  contribute<T>(
    point: ExtensionPointToken<T>,
    contributionId: string,
    factory: ContributionFactory<T>,
  ): Disposable;
}

/** The shape of a plugin's entry module. `activate` may return an API for dependent plugins. */
export interface PluginModule {
  activate(context: PluginContext): unknown;
  deactivate?(): void | Promise<void>;
}
