import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ContributionRequest } from '../api/contribution.js';
import type { LogRecord } from '../api/events.js';
import type { ExtensionPointToken } from '../api/points/extension-point.js';
import { EventLog } from '../events/event-log.js';
import { PluginHost, type PluginInfo } from '../host/plugin-host.js';

export interface ActivationOptions {
  /** The plugin's package folder (where its package.json is). */
  readonly dir: string;
  /** The plugin's settings, as an agent manifest's `plugins[].settings` gives them. */
  readonly settings?: Record<string, unknown>;
  /**
   * Folders of the plugins it depends on (its manifest's `dependencies`), loaded beside it, as an
   * agent manifest's `plugins` would list them.
   */
  readonly dependencies?: readonly string[];
  /** Where plugins' state folders go; default: a new temporary folder, removed by `dispose`. */
  readonly stateRoot?: string;
  /**
   * Run it out of process, sandboxed, as the agent runs a third-party plugin, with the permissions
   * `grants` gives by plugin id (docs/plugins/isolation.md); default: in this process, where a test
   * can reach it and its dependencies' APIs.
   */
  readonly isolated?: { readonly grants?: Readonly<Record<string, readonly string[]>> };
}

/** A plugin loaded and started by a real plugin host, as the agent does it. */
export interface ActivatedPlugin {
  /** What `credroam plugins list` would show of it. */
  info(): PluginInfo;
  /**
   * The contribution `id` to `point`, made as the agent makes it: the host activates the plugin
   * (its `activate` gets a context), validates `request.settings` against the contribution's
   * `configuration` schema, then calls the plugin's factory. The request defaults to user `alice`,
   * no settings, a temporary home folder, an empty policy section.
   */
  contribution<T>(
    point: ExtensionPointToken<T>,
    id: string,
    request?: Partial<ContributionRequest>,
  ): Promise<T>;
  /** Every event the host and the plugin logged so far. */
  readonly events: readonly LogRecord[];
  /** Deactivates the plugin (its `deactivate`, then its subscriptions) and removes the temporary folders. */
  dispose(): Promise<void>;
}

/**
 * Loads a plugin from its folder with credroam's own plugin host, in this process: the manifest is
 * read and validated before any code is imported, `engines.credroam` checked against the API
 * version, the settings validated against the manifest's schema. A plugin the host refuses or that
 * fails to load throws, with the host's reasons and problems; `activate` runs on the first
 * `contribution()` call, as in the agent (lazily, on its activation event).
 */
export async function activatePlugin(options: ActivationOptions): Promise<ActivatedPlugin> {
  const temp = await mkdtemp(path.join(os.tmpdir(), 'credroam-harness-'));
  const events: LogRecord[] = [];
  const log = new EventLog({ write: () => undefined, level: 'debug' });
  log.subscribe((r) => events.push(r));
  const from = path.resolve(options.dir);
  const host = new PluginHost({
    log,
    stateRoot: options.stateRoot ?? path.join(temp, 'state'),
    isolation: options.isolated ? {} : false,
    ...(options.isolated?.grants ? { grants: options.isolated.grants } : {}),
  });
  const cleanup = async () => {
    await host.dispose();
    await rm(temp, { recursive: true, force: true });
  };
  try {
    await host.load([
      { from, settings: options.settings, required: true },
      ...(options.dependencies ?? []).map((d) => ({ from: path.resolve(d), required: true })),
    ]);
    await host.start();
  } catch (error) {
    const info = host.list().find((p) => p.from === from);
    await cleanup();
    const why = info ? `${info.reason ?? ''} ${(info.problems ?? []).join('; ')}`.trim() : '';
    throw new Error(`the host did not load ${options.dir}: ${why || (error as Error).message}`, {
      cause: error,
    });
  }
  const info = () => {
    const found = host.list().find((p) => p.from === from);
    if (!found) throw new Error(`the host holds no plugin from ${from}`);
    return found;
  };
  if (info().state === 'failed') {
    const { reason, problems } = info();
    await cleanup();
    throw new Error(
      `the host did not load ${options.dir}: ${reason ?? ''} ${(problems ?? []).join('; ')}`.trim(),
    );
  }
  return {
    info,
    events,
    async contribution<T>(
      point: ExtensionPointToken<T>,
      id: string,
      request: Partial<ContributionRequest> = {},
    ) {
      const factory = await host.contribution(point, id);
      return factory({ user: 'alice', settings: {}, home: path.join(temp, 'home'), policy: {}, ...request });
    },
    dispose: cleanup,
  };
}
