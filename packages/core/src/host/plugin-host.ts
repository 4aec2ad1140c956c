import { existsSync, realpathSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import semverSatisfies from 'semver/functions/satisfies.js';
import { type Disposable, DisposableStore, toDisposable } from '../api/disposable.js';
import { CredroamError, errorMessage } from '../api/errors.js';
import { EventId } from '../api/events.js';
import {
  type ContributionFactory,
  EXTENSION_POINTS,
  type ExtensionPointToken,
  extensionPointInfo,
} from '../api/extension-points.js';
import type { ContributionDeclaration } from '../api/manifest.js';
import type { PluginContext, PluginModule, PluginServices } from '../api/plugin.js';
import type { LocalStore } from '../api/points/local-store.js';
import { API_VERSION } from '../api/version.js';
import { EventLog } from '../events/event-log.js';
import type { AllowListEntry, PluginAllowList } from '../policy/allow-list.js';
import { resolveDependencies } from './dependencies.js';
import { certificateReader, missingGrants } from './isolation/permissions.js';
import { hostReads, isFirstParty, restartDelay } from './isolation/placement.js';
import type { PluginProcess } from './isolation/plugin-process.js';
import { configurationValidator, type PluginManifest, parseManifest } from './manifest.js';
import { importPluginModule } from './module-import.js';
import { withTimeout } from './timebox.js';

/** How the agent manifest names a plugin to load. */
export interface PluginSpec {
  /**
   * A path to the plugin's folder or its package.json (starting with `.` or `/`; relative to
   * `baseDir`), or a package name, looked up as `<folder>/<name>/package.json` in each of the
   * host's `nodeModules` folders in turn.
   */
  readonly from: string;
  /** Settings, validated against the plugin's `contributes.configuration` schema. */
  readonly settings?: Record<string, unknown>;
  /** Overrides the manifest's `required`. */
  readonly required?: boolean;
}

export type PluginState = 'inactive' | 'activating' | 'active' | 'failed';

/** What `plugins list` shows of a plugin. */
export interface PluginInfo {
  readonly id: string;
  readonly version: string | undefined;
  readonly from: string;
  readonly state: PluginState;
  readonly required: boolean;
  readonly reason?: string;
  readonly problems?: readonly string[];
  readonly activationEvents: readonly string[];
  readonly contributes: Record<string, readonly string[]>;
  readonly dependencies: readonly string[];
  /**
   * What the site policy's allow-list made of it: absent when no policy is in force (or the plugin
   * failed before it could be checked), `allowed`, or `refused` (`reason` says why).
   */
  readonly policy?: 'allowed' | 'refused';
  /** Present when it runs out of process (docs/plugins/isolation.md): the permissions it was given. */
  readonly isolated?: { readonly granted: readonly string[] };
}

/** Whether a site policy's plugin allow-list is in force, and which (its serial, when known). */
export type AllowListState =
  | { readonly state: 'none' }
  | { readonly state: 'enforced'; readonly serial: number | undefined };

export interface PluginHostOptions {
  readonly log?: EventLog;
  /** Where plugins' private state folders go (`<stateRoot>/<plugin id>`). */
  readonly stateRoot: string;
  /**
   * The node_modules folders a package name is looked up in, in order; the first that holds it
   * wins. Default: `nodeModulesAbove(this module)`.
   */
  readonly nodeModules?: readonly string[];
  /** Paths in specs are relative to this folder (the agent manifest's). */
  readonly baseDir?: string;
  /** The plugin API version that manifests' `engines.credroam` must accept; default `API_VERSION`. */
  readonly apiVersion?: string;
  readonly activateTimeoutMs?: number;
  readonly deactivateTimeoutMs?: number;
  /**
   * The plugin allow-list of the site policy in force (issue 12): `undefined`, no policy, every
   * configured plugin may load; else only those it allows, each checked before its code is imported.
   */
  readonly allowList?: PluginAllowList;
  /** The serial of the policy bundle the allow-list comes from, named in the reasons. */
  readonly policySerial?: number;
  /**
   * Third-party plugins out of process (docs/plugins/isolation.md): a plugin that is not
   * first-party (an `@credroam/` package installed beside core) and that the site's allow-list does
   * not keep `inProcess` runs in a sandboxed process of its own. Default: on, with the default
   * options. `false`: every plugin runs in process (tests of in-process behaviour, a diagnosis).
   */
  readonly isolation?: IsolationOptions | false;
  /**
   * The permissions granted to each isolated plugin (by id) when no site policy is in force (with
   * one, its allow-list entry's `grants` say). Absent: none.
   */
  readonly grants?: Readonly<Record<string, readonly string[]>>;
  /**
   * The host's services a plugin may be granted (`PluginContext.services`): `localStore` gives the
   * user's local store, of which a plugin with `localStore:read` sees the certificates only.
   */
  readonly services?: { readonly localStore?: () => LocalStore | Promise<LocalStore> };
}

/** How isolated plugins' processes are watched and restarted. */
export interface IsolationOptions {
  /** How many times a lost process is started again before the plugin is failed; default 3. */
  readonly restarts?: number;
  /** The delay before the first restart, doubled each time up to `maxRestartDelayMs`; default 1 s, 30 s. */
  readonly restartDelayMs?: number;
  readonly maxRestartDelayMs?: number;
  /** How often the host checks that the process answers, and how long it waits; default 5 s and 10 s. */
  readonly pingIntervalMs?: number;
  readonly pingTimeoutMs?: number;
}

interface PluginRecord {
  readonly spec: PluginSpec;
  readonly dir: string | undefined;
  manifest: PluginManifest | undefined;
  id: string;
  required: boolean;
  state: PluginState;
  reason?: string;
  problems?: string[];
  configuration?: Record<string, unknown>;
  activation?: Promise<void>;
  module?: PluginModule;
  api?: unknown;
  subscriptions?: DisposableStore;
  readonly provided: Map<string, ContributionFactory<unknown>>;
  policy?: 'allowed' | 'refused';
  /** The allow-list entry that allowed it: its files are checked again right before the import. */
  allowedBy?: AllowListEntry;
  /** Runs out of process (docs/plugins/isolation.md), with these permissions. */
  isolated?: { readonly granted: readonly string[] };
  /** Its process while it runs; restarts counted over the plugin's life. */
  process?: PluginProcess;
  restarts?: number;
}

/** Thrown inside an activation when the files changed since load: a refusal, not an activation failure. */
class PolicyRefusal extends Error {
  constructor(
    readonly event: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

const key = (point: symbol, id: string) => `${extensionPointInfo(point).manifestKey}/${id}`;

/**
 * The plugin host: reads and validates manifests (before any plugin code is loaded), checks engine
 * ranges, orders plugins by dependencies, activates them lazily on events with a time box, gives
 * each its own child container and context, isolates failures, and deactivates in reverse order.
 *
 * Failures become records, not exceptions: a failed optional plugin is reported and the rest go on.
 * A failed required plugin makes `start()` (or the activation that hit it) throw E_REQUIRED_PLUGIN.
 */
export class PluginHost {
  readonly #log: EventLog;
  readonly #options: PluginHostOptions;
  readonly #records: PluginRecord[] = [];
  readonly #byId = new Map<string, PluginRecord>();
  readonly #activated: PluginRecord[] = [];
  #order: string[] = [];
  #disposed = false;
  #allowList: PluginAllowList;
  #policySerial: number | undefined;
  /** The allow-list refresh under way, if any: the next one waits for it. */
  #applying: Promise<unknown> = Promise.resolve();
  /** Wakes the restart delays under way (at dispose). */
  readonly #wakers = new Set<() => void>();

  constructor(options: PluginHostOptions) {
    this.#options = options;
    this.#log = options.log ?? new EventLog();
    this.#allowList = options.allowList;
    this.#policySerial = options.policySerial;
  }

  /** Reads, validates and resolves the given plugins. Loads no plugin code. */
  async load(specs: readonly PluginSpec[]): Promise<void> {
    for (const spec of specs) this.#records.push(await this.#readManifest(spec));
    const api = this.#options.apiVersion ?? API_VERSION;
    const failedBefore = new Map<string, string>();
    for (const r of this.#records) {
      if (r.state === 'failed') {
        failedBefore.set(r.id, r.reason!);
        continue;
      }
      const m = r.manifest!;
      if (this.#byId.has(m.id)) {
        this.#fail(
          r,
          EventId.PluginManifestInvalid,
          `plugin id '${m.id}' is also used by ${this.#byId.get(m.id)!.spec.from}`,
        );
        continue;
      }
      this.#byId.set(m.id, r);
      if (!(await this.#admit(r))) {
        failedBefore.set(r.id, r.reason!);
        continue;
      }
      if (!semverSatisfies(api, m.engines.credroam, { includePrerelease: true })) {
        this.#fail(
          r,
          EventId.PluginEngineIncompatible,
          `requires the credroam plugin API ${m.engines.credroam}, but this agent provides API ${api}`,
        );
        failedBefore.set(r.id, r.reason!);
        continue;
      }
      const checked = configurationValidator(m.contributes.configuration)(r.spec.settings ?? {});
      if (!checked.ok) {
        r.problems = checked.problems;
        this.#fail(r, EventId.PluginConfigurationInvalid, `invalid settings: ${checked.problems.join('; ')}`);
        failedBefore.set(r.id, r.reason!);
        continue;
      }
      r.configuration = checked.value;
      if (!this.#isolate(r)) {
        failedBefore.set(r.id, r.reason!);
      }
    }
    const candidates = this.#records.filter((r) => r.state !== 'failed' && this.#byId.get(r.id) === r);
    const resolution = resolveDependencies(
      candidates.map((r) => ({ id: r.id, dependencies: r.manifest!.dependencies })),
      failedBefore,
    );
    for (const [id, reason] of resolution.failed) {
      const event = reason.startsWith('dependency cycle')
        ? EventId.PluginDependencyCycle
        : EventId.PluginDependencyFailed;
      this.#fail(this.#byId.get(id)!, event, reason);
    }
    this.#order = [...resolution.order];
  }

  /** Activates the `onStartup` plugins; throws if any required plugin has failed so far. */
  async start(): Promise<void> {
    await this.activateByEvent('onStartup');
    this.#throwIfRequiredFailed();
  }

  /**
   * Activates every plugin whose `activationEvents` match `event` (and `*` plugins), dependencies
   * first. Returns the ids that are active afterwards among those matched.
   */
  async activateByEvent(event: string): Promise<string[]> {
    const matched = this.#order
      .map((id) => this.#byId.get(id)!)
      .filter((r) => r.manifest!.activationEvents.some((e) => e === event || e === '*'));
    for (const r of matched) await this.#activate(r);
    this.#throwIfRequiredFailed(matched);
    return matched.filter((r) => r.state === 'active').map((r) => r.id);
  }

  /** The plugin that declares contribution `id` for `point`, activated; throws a clear error otherwise. */
  async contribution<T>(point: ExtensionPointToken<T>, id: string): Promise<ContributionFactory<T>> {
    const info = extensionPointInfo(point);
    const owner = this.#records.find(
      (r) =>
        r.manifest?.contributes[info.manifestKey]?.some((c) => c.id === id) && this.#byId.get(r.id) === r,
    );
    if (!owner) {
      const known = this.contributionIds(point);
      throw new CredroamError(
        'E_NO_CONTRIBUTION',
        `no plugin contributes ${info.name} '${id}' (known: ${known.length > 0 ? known.join(', ') : 'none'})`,
        { point: info.name, contribution: id },
      );
    }
    await this.activateByEvent(`${info.event}:${id}`);
    await this.#activate(owner);
    if (owner.state !== 'active') {
      throw new CredroamError(
        'E_PLUGIN_FAILED',
        `${info.name} '${id}' is unavailable: plugin '${owner.id}' failed: ${owner.reason}`,
        { plugin: owner.id, contribution: id },
      );
    }
    const factory = owner.provided.get(key(point, id));
    if (!factory) {
      throw new CredroamError(
        'E_CONTRIBUTION_NOT_PROVIDED',
        `plugin '${owner.id}' declares ${info.name} '${id}' but did not provide it when activated`,
        { plugin: owner.id, contribution: id },
      );
    }
    const declared = owner.manifest!.contributes[info.manifestKey]!.find((c) => c.id === id)!;
    return withValidatedSettings(owner.id, info.name, declared, factory as ContributionFactory<T>);
  }

  /** The ids of all usable contributions to `point` (from manifests; no plugin is activated). */
  contributionIds(point: symbol): string[] {
    const info = extensionPointInfo(point);
    return this.#records
      .filter((r) => r.state !== 'failed')
      .flatMap((r) => (r.manifest?.contributes[info.manifestKey] ?? []).map((c) => c.id));
  }

  /** The exported API of an active plugin. */
  api<T>(pluginId: string): T | undefined {
    const r = this.#byId.get(pluginId);
    return r?.state === 'active' ? (r.api as T) : undefined;
  }

  list(): PluginInfo[] {
    return this.#records.map((r) => {
      const contributes: Record<string, string[]> = {};
      for (const [k, v] of Object.entries(r.manifest?.contributes ?? {})) {
        if (Array.isArray(v)) contributes[k] = v.map((c: { id: string }) => c.id);
      }
      return {
        id: r.id,
        version: r.manifest?.version,
        from: r.spec.from,
        state: r.state,
        required: r.required,
        ...(r.reason !== undefined ? { reason: r.reason } : {}),
        ...(r.problems !== undefined ? { problems: r.problems } : {}),
        activationEvents: r.manifest?.activationEvents ?? [],
        contributes,
        dependencies: r.manifest?.dependencies ?? [],
        ...(r.policy !== undefined ? { policy: r.policy } : {}),
        ...(r.isolated !== undefined ? { isolated: { granted: [...r.isolated.granted] } } : {}),
      };
    });
  }

  /** Deactivates active plugins in reverse activation order. Each is time-boxed; errors are logged. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const wake of this.#wakers) wake();
    for (const r of [...this.#activated].reverse()) await this.#deactivate(r);
    await Promise.all(this.#records.map((r) => r.process?.kill()));
  }

  async #readManifest(spec: PluginSpec): Promise<PluginRecord> {
    const record: PluginRecord = {
      spec,
      dir: undefined,
      manifest: undefined,
      id: spec.from,
      required: spec.required ?? false,
      state: 'inactive',
      provided: new Map(),
    };
    let file: string;
    try {
      file = this.#locate(spec.from);
    } catch (error) {
      this.#fail(
        record,
        EventId.PluginManifestInvalid,
        `cannot find plugin '${spec.from}': ${errorMessage(error)}`,
      );
      return record;
    }
    let json: unknown;
    try {
      json = JSON.parse(await readFile(file, 'utf8'));
    } catch (error) {
      this.#fail(record, EventId.PluginManifestInvalid, `cannot read ${file}: ${errorMessage(error)}`);
      return record;
    }
    const parsed = parseManifest(json, spec.from);
    record.id = parsed.ok ? parsed.manifest.id : parsed.id;
    (record as { dir: string }).dir = path.dirname(file);
    if (!parsed.ok) {
      record.problems = [...parsed.problems];
      this.#fail(record, EventId.PluginManifestInvalid, `invalid manifest: ${parsed.problems.join('; ')}`);
      return record;
    }
    record.manifest = parsed.manifest;
    record.required = spec.required ?? parsed.manifest.required;
    const copy = secondCopyOfShared(record.dir!);
    if (copy) {
      this.#fail(
        record,
        EventId.PluginManifestInvalid,
        `it would load its own copy of ${copy.name} (${copy.found}), not the agent's (${copy.host}): ` +
          'install it where its peer dependencies are the agent’s (docs/plugins/authoring.md)',
      );
    }
    return record;
  }

  /** The plugin's package.json, its links resolved (so that its own dependencies are found). */
  #locate(from: string): string {
    const looksLikePath = from.startsWith('.') || path.isAbsolute(from);
    if (looksLikePath) {
      const abs = path.resolve(this.#options.baseDir ?? process.cwd(), from);
      const file = abs.endsWith('package.json') ? abs : path.join(abs, 'package.json');
      return existsSync(file) ? realpathSync(file) : file;
    }
    if (from.split('/').some((part) => part === '' || part === '.' || part === '..') || from.includes('\\')) {
      throw new Error('not a package name (a path starts with ./, ../ or /)');
    }
    const folders =
      this.#options.nodeModules ?? nodeModulesAbove(path.dirname(fileURLToPath(import.meta.url)));
    for (const folder of folders) {
      const file = path.join(folder, from, 'package.json');
      if (existsSync(file)) return realpathSync(file);
    }
    throw new Error(`no ${from}/package.json in ${folders.join(', ')}`);
  }

  async #activate(r: PluginRecord): Promise<void> {
    if (r.state === 'active' || r.state === 'failed') return;
    if (this.#disposed)
      throw new CredroamError('E_HOST_DISPOSED', `cannot activate '${r.id}': the host is shut down`, {
        plugin: r.id,
      });
    r.activation ??= this.#doActivate(r);
    await r.activation;
  }

  async #doActivate(r: PluginRecord): Promise<void> {
    const m = r.manifest!;
    for (const depId of m.dependencies) {
      const dep = this.#byId.get(depId)!;
      await this.#activate(dep);
      if (dep.state !== 'active') {
        this.#fail(
          r,
          EventId.PluginDependencyFailed,
          `depends on plugin '${depId}', which failed: ${dep.reason}`,
        );
        return;
      }
    }
    r.state = 'activating';
    const subscriptions = new DisposableStore();
    r.subscriptions = subscriptions;
    const timeout = this.#options.activateTimeoutMs ?? 10_000;
    try {
      const stateDir = path.join(this.#options.stateRoot, m.id);
      await mkdir(stateDir, { recursive: true, mode: 0o700 });
      const mainFile = path.join(r.dir!, m.main);
      const context = this.#context(r, stateDir, subscriptions, this.#services(r));
      r.api = await withTimeout(
        async () => {
          // Time of check, time of use: the files were hashed at load, and the import may come much
          // later (a lazy activation). Hash them again now; what is left is the moment between this
          // and Node reading each file (docs/admin/policy-plugins.md).
          if (this.#allowList !== undefined && r.allowedBy) {
            const { recheckFiles } = await import('./allow-list-check.js');
            const changed = await recheckFiles(
              r.allowedBy,
              { dir: r.dir!, main: m.main },
              this.#policyName(),
            );
            if (changed) throw new PolicyRefusal(changed.event, changed.reason);
          }
          if (r.isolated) return this.#startProcess(r, stateDir, subscriptions);
          const mod = (await importPluginModule(mainFile)) as Partial<PluginModule>;
          if (typeof mod.activate !== 'function') throw new Error(`${m.main} exports no activate function`);
          r.module = mod as PluginModule;
          return mod.activate(context);
        },
        timeout,
        `activate of plugin '${m.id}'`,
        () => void subscriptions.dispose().catch(() => undefined),
      );
      if (r.isolated && !r.process) {
        throw new CredroamError('E_PLUGIN_CRASHED', 'its process was lost as it activated', { plugin: m.id });
      }
      r.state = 'active';
      this.#activated.push(r);
      this.#log.log('info', EventId.PluginActivated, `plugin '${m.id}' activated`, {
        plugin: m.id,
        version: m.version,
      });
    } catch (error) {
      r.provided.clear();
      await subscriptions.dispose().catch(() => undefined);
      if (error instanceof CredroamError && error.code === 'E_PLUGIN_SANDBOX') {
        this.#fail(r, EventId.PluginSandboxUnavailable, `cannot run out of process: ${error.message}`);
      } else if (error instanceof PolicyRefusal) {
        r.policy = 'refused';
        this.#fail(r, error.event, error.reason);
      } else {
        this.#fail(r, EventId.PluginActivationFailed, `activation failed: ${errorMessage(error)}`);
      }
    }
  }

  /**
   * The services a plugin asked for (`localStore:read`) that the host has: an isolated plugin has
   * been granted them by then (`#isolate`); one in process could reach them anyway.
   */
  #services(r: PluginRecord): PluginServices {
    const asked = r.manifest!.permissions ?? [];
    const local = this.#options.services?.localStore;
    if (!asked.includes('localStore:read') || !local) return {};
    let reader: Promise<ReturnType<typeof certificateReader>> | undefined;
    const open = () => {
      reader ??= Promise.resolve(local()).then(certificateReader);
      return reader;
    };
    return {
      certificates: {
        revision: async () => (await open()).revision(),
        certificates: async () => (await open()).certificates(),
      },
    };
  }

  #context(
    r: PluginRecord,
    stateDir: string,
    subscriptions: DisposableStore,
    services: PluginServices,
  ): PluginContext {
    const m = r.manifest!;
    const logger = this.#log.scoped(m.id);
    const context: PluginContext = {
      id: m.id,
      version: m.version,
      subscriptions,
      logger,
      configuration: Object.freeze(r.configuration ?? {}),
      stateDir,
      services: Object.freeze(services),
      dependency: <T>(pluginId: string): T => {
        if (!m.dependencies.includes(pluginId)) {
          throw new CredroamError(
            'E_NOT_A_DEPENDENCY',
            `plugin '${m.id}' asked for the API of '${pluginId}', which its manifest does not list in dependencies`,
            { plugin: m.id, dependency: pluginId },
          );
        }
        return this.#byId.get(pluginId)!.api as T;
      },
      contribute: <T>(
        point: ExtensionPointToken<T>,
        id: string,
        factory: ContributionFactory<T>,
      ): Disposable => {
        const info = extensionPointInfo(point);
        if (!m.contributes[info.manifestKey]?.some((c) => c.id === id)) {
          throw new CredroamError(
            'E_UNDECLARED_CONTRIBUTION',
            `plugin '${m.id}' provides ${info.name} '${id}', which its manifest does not declare in contributes.${info.manifestKey}`,
            { plugin: m.id, contribution: id },
          );
        }
        const k = key(point, id);
        r.provided.set(k, factory as ContributionFactory<unknown>);
        return subscriptions.add(toDisposable(() => void r.provided.delete(k)));
      },
    };
    return context;
  }

  /**
   * Decides whether a plugin runs out of process, and with what: every permission its manifest asks
   * for must be granted (by its allow-list entry, or `grants` without a policy), or it is refused
   * here, before any of its code is loaded. False if refused.
   */
  #isolate(r: PluginRecord): boolean {
    if (
      this.#options.isolation === false ||
      isFirstParty(r.manifest!.packageName, r.dir!, SHARED_PACKAGES[0]!.dir) ||
      r.allowedBy?.inProcess === true
    ) {
      r.isolated = undefined;
      return true;
    }
    const granted =
      this.#allowList !== undefined ? (r.allowedBy?.grants ?? []) : (this.#options.grants?.[r.id] ?? []);
    const missing = missingGrants(r.manifest!.permissions ?? [], granted);
    if (missing.length > 0) {
      const by =
        this.#allowList !== undefined ? `${this.#policyName()} does not grant` : 'no site policy grants';
      this.#fail(r, EventId.PluginPermissionNotGranted, `asks for ${missing.join(', ')}, which ${by} it`);
      return false;
    }
    // Exactly what it asked for: a grant it did not ask for is not given.
    r.isolated = { granted: [...(r.manifest!.permissions ?? [])] };
    return true;
  }

  /** Starts the plugin's process and activates it there; its contributions become proxies. */
  async #startProcess(r: PluginRecord, stateDir: string, subscriptions: DisposableStore): Promise<undefined> {
    const m = r.manifest!;
    const isolation = this.#options.isolation || {};
    const declared = EXTENSION_POINTS.flatMap((p) =>
      (m.contributes[p.manifestKey] ?? []).map((c) => `${p.name}/${c.id}`),
    );
    // What only an isolated plugin needs is loaded when one starts (decision 024).
    const [{ refuseLinksLeaving }, { PluginProcess }, { planLaunch }] = await Promise.all([
      import('./isolation/package-links.js'),
      import('./isolation/plugin-process.js'),
      import('./isolation/sandbox.js'),
    ]);
    // Its process reads its whole package folder: a link there must not lead out of it.
    await refuseLinksLeaving(r.dir!);
    const launch = planLaunch({
      dir: r.dir!,
      stateDir,
      granted: r.isolated!.granted,
      runner: path.join(HOST_DIR, 'isolation', 'child-runner.js'),
      hostReads: hostReads(r.dir!, SHARED_PACKAGES[0]!.dir),
    });
    const proc = new PluginProcess({
      launch,
      params: {
        id: m.id,
        version: m.version,
        mainFile: path.join(r.dir!, m.main),
        stateDir,
        configuration: r.configuration ?? {},
        granted: r.isolated!.granted,
        declared,
      },
      services: this.#services(r),
      logger: this.#log.scoped(m.id),
      pingIntervalMs: isolation.pingIntervalMs ?? 5_000,
      pingTimeoutMs: isolation.pingTimeoutMs ?? 10_000,
      onLost: (reason) => void this.#lost(r, proc, reason),
    });
    r.process = proc;
    if (!r.module) {
      r.module = { activate: () => undefined, deactivate: () => r.process?.deactivate() };
      subscriptions.add(toDisposable(() => r.process?.kill()));
    }
    try {
      const provided = await proc.activate();
      for (const c of provided) {
        const [pointName, id] = [c.slice(0, c.indexOf('/')), c.slice(c.indexOf('/') + 1)];
        const point = EXTENSION_POINTS.find((p) => p.name === pointName)!;
        r.provided.set(`${point.manifestKey}/${id}`, (request) => {
          if (!r.process) {
            throw new CredroamError('E_PLUGIN_CRASHED', `plugin '${m.id}' has no process now (restarting)`, {
              plugin: m.id,
              contribution: id,
            });
          }
          return r.process.create(pointName, id, request);
        });
      }
    } catch (error) {
      r.process = undefined;
      await proc.kill();
      throw error;
    }
    this.#log.log('info', EventId.PluginIsolated, `plugin '${m.id}' runs in process ${proc.pid}`, {
      plugin: m.id,
      pid: proc.pid,
      network: launch.network,
      granted: r.isolated!.granted,
    });
    return undefined;
  }

  /** An isolated plugin's process was lost: started again after a growing delay, a bounded number of times. */
  async #lost(r: PluginRecord, proc: PluginProcess, reason: string): Promise<void> {
    if (r.process !== proc) return;
    r.process = undefined;
    r.provided.clear();
    await proc.kill();
    if (r.state !== 'active' || this.#disposed) return;
    const isolation = this.#options.isolation || {};
    const max = isolation.restarts ?? 3;
    r.state = 'activating';
    const restart = (async () => {
      for (;;) {
        r.restarts = (r.restarts ?? 0) + 1;
        if (r.restarts > max) {
          this.#activated.splice(this.#activated.indexOf(r), 1);
          await r.subscriptions?.dispose().catch(() => undefined);
          this.#fail(r, EventId.PluginProcessGaveUp, `${reason}, after ${max} restarts: given up`);
          return;
        }
        const delay = restartDelay(r.restarts, isolation);
        this.#log.log(
          'warn',
          EventId.PluginProcessLost,
          `plugin '${r.id}': ${reason}; restart ${r.restarts} of ${max} in ${delay} ms`,
          {
            plugin: r.id,
            restart: r.restarts,
            delayMs: delay,
          },
        );
        await this.#sleep(delay);
        if (this.#disposed || (r.state as PluginState) === 'failed') return;
        try {
          const timeout = this.#options.activateTimeoutMs ?? 10_000;
          await withTimeout(
            () => this.#startProcess(r, path.join(this.#options.stateRoot, r.id), r.subscriptions!),
            timeout,
            `activate of plugin '${r.id}'`,
          );
          if (!r.process) throw new Error('its process was lost as it activated');
          r.state = 'active';
          return;
        } catch (error) {
          await r.process?.kill();
          r.process = undefined;
          reason = `its restart failed: ${errorMessage(error)}`;
        }
      }
    })();
    r.activation = restart;
    await restart;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#wakers.add(wake);
    });
  }

  /** Whether a site policy's allow-list is in force, and its serial. */
  allowListState(): AllowListState {
    return this.#allowList === undefined
      ? { state: 'none' }
      : { state: 'enforced', serial: this.#policySerial };
  }

  /**
   * Applies the allow-list of a refreshed site policy to the loaded plugins, without a restart.
   * Each plugin still usable is checked again (id, version, files hashed anew); those no longer
   * allowed, and the plugins that depend on them, are deactivated (dependents first, each
   * time-boxed as at `dispose`) and marked failed with the reason, so that `contribution()` refuses
   * them with E_PLUGIN_FAILED. Returns their ids.
   *
   * A plugin the new list allows but that was refused before is NOT loaded now: its reason says a
   * restart loads it (loading live would mean resolving its dependencies and contributions into a
   * running agent; a restart is the one tested path). `undefined` lifts the policy: nothing more is
   * refused. If a required plugin was refused, throws E_REQUIRED_PLUGIN after all that is done.
   * Calls that overlap run one after the other, in the order made.
   */
  applyAllowList(list: PluginAllowList, serial?: number): Promise<string[]> {
    const run = this.#applying.then(() => this.#applyAllowList(list, serial));
    this.#applying = run.catch(() => undefined);
    return run;
  }

  async #applyAllowList(list: PluginAllowList, serial: number | undefined): Promise<string[]> {
    this.#allowList = list;
    this.#policySerial = serial;
    if (this.#disposed) return [];
    const refused = new Map<PluginRecord, { event: number; reason: string }>();
    const restart: string[] = [];
    for (const r of this.#records) {
      if (this.#byId.get(r.id) !== r || !r.manifest) continue;
      if (r.state === 'failed') {
        if (r.policy === 'refused') {
          const now = list === undefined ? { ok: true as const } : await this.#verdict(r);
          if (now.ok) {
            restart.push(r.id);
            const since =
              list === undefined ? 'no site policy is in force now' : `${this.#policyName()} allows it`;
            r.reason = `${r.reason!.split('; since then ')[0]}; since then ${since}: restart the agent to load it`;
          }
        }
        continue;
      }
      if (r.activation) await r.activation.catch(() => undefined);
      if (list === undefined) {
        r.policy = undefined;
        r.allowedBy = undefined;
        continue;
      }
      if ((r.state as PluginState) === 'failed') continue;
      const verdict = await this.#verdict(r);
      // An isolated plugin whose new entry no longer grants what it asks for goes too.
      const revoked =
        verdict.ok && r.isolated ? missingGrants(r.manifest.permissions ?? [], verdict.entry.grants) : [];
      if (revoked.length > 0) {
        r.policy = 'refused';
        refused.set(r, {
          event: EventId.PluginPermissionNotGranted,
          reason: `asks for ${revoked.join(', ')}, which ${this.#policyName()} no longer grants it`,
        });
      } else if (verdict.ok) {
        r.policy = 'allowed';
        r.allowedBy = verdict.entry;
      } else {
        r.policy = 'refused';
        refused.set(r, verdict);
      }
    }
    // The plugins that depend, directly or not, on a refused one go with it.
    const gone = new Set(refused.keys());
    for (let grew = true; grew; ) {
      grew = false;
      for (const r of this.#records) {
        if (gone.has(r) || r.state === 'failed' || this.#byId.get(r.id) !== r) continue;
        const dep = r.manifest?.dependencies.find((d) => [...gone].some((g) => g.id === d));
        if (dep !== undefined) {
          gone.add(r);
          refused.set(r, {
            event: EventId.PluginDependencyFailed,
            reason: `depends on plugin '${dep}', which ${this.#policyName()} no longer allows`,
          });
          grew = true;
        }
      }
    }
    // Mark them failed first, so that nothing activates or uses them while they are deactivated.
    for (const [r, { reason }] of refused) {
      r.state = 'failed';
      r.reason = reason;
    }
    // An activation already under way (begun before the marks) ends first, then is undone below.
    await Promise.all([...gone].map((r) => r.activation));
    for (const r of [...this.#activated].reverse()) {
      if (!gone.has(r)) continue;
      this.#activated.splice(this.#activated.indexOf(r), 1);
      await this.#deactivate(r, 'failed');
    }
    for (const [r, { event, reason }] of refused) this.#fail(r, event, reason);
    const ids = [...refused.keys()].map((r) => r.id);
    this.#log.log(
      'info',
      EventId.PluginAllowListApplied,
      `${list === undefined ? 'no site policy is in force' : `${this.#policyName()} applied`}: ` +
        `${ids.length > 0 ? `refused ${ids.join(', ')}` : 'no plugin refused'}` +
        `${restart.length > 0 ? `; restart the agent to load ${restart.join(', ')}` : ''}`,
      { refused: ids, needRestart: restart, ...(serial !== undefined ? { serial } : {}) },
    );
    this.#throwIfRequiredFailed([...refused.keys()]);
    return ids;
  }

  /** `the site policy (serial 7)`: the policy named in reasons. */
  #policyName(): string {
    return this.#policySerial === undefined
      ? 'the site policy'
      : `the site policy (serial ${this.#policySerial})`;
  }

  /** The allow-list's verdict on a plugin (its module is loaded only where a site policy is in force). */
  async #verdict(r: PluginRecord) {
    const m = r.manifest!;
    const { checkAllowList } = await import('./allow-list-check.js');
    return checkAllowList(
      this.#allowList ?? [],
      { id: m.id, version: m.version, dir: r.dir!, main: m.main },
      this.#policyName(),
    );
  }

  /**
   * Checks a plugin against the allow-list in force before any of its code is imported; a refused
   * plugin becomes a failed record with its own event (2010–2013). False if refused.
   */
  async #admit(r: PluginRecord): Promise<boolean> {
    if (this.#allowList === undefined) return true;
    const verdict = await this.#verdict(r);
    if (verdict.ok) {
      r.policy = 'allowed';
      r.allowedBy = verdict.entry;
      return true;
    }
    r.policy = 'refused';
    this.#fail(r, verdict.event, verdict.reason);
    return false;
  }

  async #deactivate(r: PluginRecord, finalState: 'inactive' | 'failed' = 'inactive'): Promise<void> {
    const timeout = this.#options.deactivateTimeoutMs ?? 5_000;
    try {
      if (r.module?.deactivate)
        await withTimeout(() => r.module!.deactivate!(), timeout, `deactivate of plugin '${r.id}'`);
    } catch (error) {
      this.#log.log('warn', EventId.PluginDeactivationFailed, `plugin '${r.id}': ${errorMessage(error)}`, {
        plugin: r.id,
      });
    }
    try {
      await withTimeout(
        () => r.subscriptions?.dispose(),
        timeout,
        `disposing the subscriptions of plugin '${r.id}'`,
      );
    } catch (error) {
      this.#log.log('warn', EventId.PluginDeactivationFailed, `plugin '${r.id}': ${errorMessage(error)}`, {
        plugin: r.id,
      });
    }
    r.provided.clear();
    r.state = finalState;
    r.activation = undefined;
    this.#log.log('info', EventId.PluginDeactivated, `plugin '${r.id}' deactivated`, { plugin: r.id });
  }

  #fail(r: PluginRecord, event: number, reason: string): void {
    r.state = 'failed';
    r.reason = reason;
    this.#log.log(r.required ? 'error' : 'warn', event, `plugin '${r.id}': ${reason}`, {
      plugin: r.id,
      required: r.required,
    });
  }

  #throwIfRequiredFailed(among: readonly PluginRecord[] = this.#records): void {
    const failed = among.filter((r) => r.required && r.state === 'failed');
    if (failed.length === 0) return;
    const names = failed.map((r) => `'${r.id}' (${r.reason})`).join('; ');
    throw new CredroamError('E_REQUIRED_PLUGIN', `required plugin failed: ${names}`, {
      plugins: failed.map((r) => r.id),
    });
  }
}

/**
 * The factory the agent calls for a contribution: when the manifest declares the contribution's
 * `configuration` schema, the request's settings are validated against it first (defaults applied
 * to a copy) and a bad value is E_CONFIG naming the plugin, the contribution and each place; the
 * factory never sees it. Without a schema, the factory itself as provided.
 */
function withValidatedSettings<T>(
  plugin: string,
  point: string,
  declared: ContributionDeclaration,
  factory: ContributionFactory<T>,
): ContributionFactory<T> {
  if (declared.configuration === undefined) return factory;
  const validate = configurationValidator(declared.configuration, '/settings');
  return (request) => {
    const checked = validate(request.settings);
    if (!checked.ok) {
      throw new CredroamError(
        'E_CONFIG',
        `invalid settings for ${point} '${declared.id}' (plugin '${plugin}'): ${checked.problems.join('; ')}`,
        { plugin, point, contribution: declared.id, problems: checked.problems },
      );
    }
    return factory({ ...request, settings: checked.value });
  };
}

/**
 * The node_modules folders Node searches for a package imported by a module in `folder`, nearest
 * first: `<dir>/node_modules` for `folder` and each folder above it, up to the root.
 */
export function nodeModulesAbove(folder: string): string[] {
  const folders: string[] = [];
  let dir = path.resolve(folder);
  for (;;) {
    if (path.basename(dir) !== 'node_modules') folders.push(path.join(dir, 'node_modules'));
    const parent = path.dirname(dir);
    if (parent === dir) return folders;
    dir = parent;
  }
}

const HOST_DIR = path.dirname(fileURLToPath(import.meta.url));

/**
 * The packages a plugin must share with the host, each with the host's own copy (links resolved):
 * a second copy is a second world — its `ConflictError` is not the one the engine catches, its
 * tsyringe containers not the agent's.
 */
const SHARED_PACKAGES: ReadonlyArray<{ readonly name: string; readonly dir: string | undefined }> = [
  { name: '@credroam/core', dir: packageAbove(HOST_DIR) },
  { name: 'tsyringe', dir: firstPackage(nodeModulesAbove(HOST_DIR), 'tsyringe') },
];

/** The first shared package that Node would find from `pluginDir` in another copy than the host's. */
function secondCopyOfShared(pluginDir: string): { name: string; found: string; host: string } | undefined {
  for (const shared of SHARED_PACKAGES) {
    const found = firstPackage(nodeModulesAbove(pluginDir), shared.name);
    if (found && shared.dir && found !== shared.dir) return { name: shared.name, found, host: shared.dir };
  }
  return undefined;
}

/** The folder (links resolved) of package `name` in the first of `folders` that holds it. */
function firstPackage(folders: readonly string[], name: string): string | undefined {
  for (const folder of folders) {
    if (existsSync(path.join(folder, name, 'package.json')))
      return realpathOrUndefined(path.join(folder, name));
  }
  return undefined;
}

function realpathOrUndefined(file: string): string | undefined {
  try {
    return realpathSync(file);
  } catch {
    return undefined;
  }
}

/** The folder (links resolved) of the nearest package.json above `dir`: this package's own. */
function packageAbove(dir: string): string | undefined {
  for (let d = dir; ; d = path.dirname(d)) {
    if (existsSync(path.join(d, 'package.json'))) return realpathOrUndefined(d);
    if (path.dirname(d) === d) return undefined;
  }
}
