import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { DirectoryStore, EventId, LocalStore, TokenProtector } from '@credroam/core/api';
import type { SkippedItem, SyncEngine, SyncOptions, SyncReport } from '@credroam/core/engine';
import type { EnrollmentService } from '@credroam/core/enroll';
import type { EventLog } from '@credroam/core/events';
import type { PluginHost } from '@credroam/core/host';
import { readFileNoFollow, writeFileAtomic } from '@credroam/core/kit';
import type { DirectoryPolicy, SitePolicy } from '@credroam/core/policy';
import type { DependencyContainer } from 'tsyringe';
import { createHost } from './cli/plugins.js';
import type { AgentConfig } from './config.js';
import type { MirrorReport, Mirrors } from './mirrors/index.js';
import { hostPolicy, type LoadedPolicy, loadPolicy } from './policy.js';

/** Everything one CLI command or the agent needs for one user on this endpoint. */
export interface Session {
  readonly config: AgentConfig;
  /** The site policy in force; `updatePolicy` replaces it (the agent's policy refresh). */
  readonly policy: SitePolicy;
  /** Where it came from and the allow-list that goes with it (`status`, the host). */
  readonly loadedPolicy: LoadedPolicy;
  updatePolicy(loaded: LoadedPolicy): void;
  readonly host: PluginHost;
  readonly directory: DirectoryStore;
  /** The primary local store: what it holds roams. */
  readonly local: LocalStore;
  /** The other destinations, kept holding what `local` holds (`mirrors.update()` after each sync). */
  readonly mirrors: Mirrors;
  readonly protector: TokenProtector;
  readonly container: DependencyContainer;
  readonly engine: SyncEngine;
  /** R4, R5: the site policy's enrollment profiles (`run` after a sync; `standing` for status). */
  readonly enrollment: EnrollmentService;
  readonly statePath: string;
  /** The protector's unlock, started as the session opened (`openSession`'s `unlock` option). */
  readonly unlocking?: Promise<{ readonly created: boolean; readonly offline: boolean }>;
  dispose(): Promise<void>;
}

export { type LoadedPolicy, loadPolicy, type PolicyOrigin } from './policy.js';

/**
 * A policy section as a contribution sees it: every read goes to the section in force, so a policy
 * refresh reaches the contributions that keep the object (`ContributionRequest.policy`: "read it
 * when it matters, not once"). Read-only.
 */
export function liveSection(current: () => object): Readonly<Record<string, unknown>> {
  return new Proxy<Record<string, unknown>>(
    {},
    {
      get: (_target, key) => Reflect.get(current(), key),
      has: (_target, key) => Reflect.has(current(), key),
      ownKeys: () => Reflect.ownKeys(current()),
      getOwnPropertyDescriptor: (_target, key) => {
        const d = Reflect.getOwnPropertyDescriptor(current(), key);
        return d
          ? { value: d.value, enumerable: d.enumerable, writable: false, configurable: true }
          : undefined;
      },
      set: () => false,
      defineProperty: () => false,
      deleteProperty: () => false,
    },
  );
}

/** Whether two loads found the same policy in force (the same bundle, or both none). */
function samePolicy(a: LoadedPolicy, b: LoadedPolicy): boolean {
  if (a.origin.kind !== b.origin.kind) return false;
  return a.origin.kind !== 'bundle' || a.origin.digest === (b.origin as typeof a.origin).digest;
}

/**
 * Makes the plugin host obey a (re)loaded policy: plugins its allow-list no longer allows are
 * deactivated (event 2014 names them, and any newly allowed plugin that needs a restart).
 */
export async function applyHostPolicy(host: PluginHost, loaded: LoadedPolicy): Promise<string[]> {
  const { allowList, policySerial } = hostPolicy(loaded);
  return host.applyAllowList(allowList, policySerial);
}

/** The first half of a session: the plugins, and the directory, protector and local store they made. */
export type SessionStores = Pick<
  Session,
  | 'config'
  | 'policy'
  | 'loadedPolicy'
  | 'updatePolicy'
  | 'host'
  | 'directory'
  | 'local'
  | 'protector'
  | 'unlocking'
  | 'dispose'
> & {
  /** What every contribution was made with (the user, home and password source). */
  readonly base: { readonly user: string; readonly home: string; readonly password?: () => Promise<string> };
};

/**
 * The composition root: loads the plugins, builds the selected directory, protector and local
 * store through their contributions, and the engine through the DI container.
 */
export async function openSession(
  config: AgentConfig,
  log: EventLog,
  options: SessionOptions = {},
): Promise<Session> {
  const stores = await openStores(config, log, options);
  try {
    return await completeSession(stores, log);
  } catch (error) {
    await stores.unlocking?.catch(() => undefined); // no key is opened after the session is gone
    await stores.dispose();
    throw error;
  }
}

export interface SessionOptions {
  readonly password?: () => Promise<string>;
  /** Starts unlocking the protector with this password as soon as it is made (`Session.unlocking`). */
  readonly unlock?: string;
}

/**
 * A session's first half (`openSession` without the engine): what a command that may need no
 * engine opens first (`credroam sync` with nothing to do: decision 030). `completeSession` ends it.
 */
export async function openStores(
  config: AgentConfig,
  log: EventLog,
  options: SessionOptions = {},
): Promise<SessionStores> {
  let unlocking: Promise<{ readonly created: boolean; readonly offline: boolean }> | undefined;
  let made: TokenProtector | undefined;
  let madeDirectory: DirectoryStore | undefined;
  await mkdir(config.home, { recursive: true, mode: 0o700 });
  // Bootstrapping (issue 12): what the record says is in force governs the plugins that load
  // while the sources are fetched. A bundle the sources bring that differs from it starts the
  // plugins again under its own allow-list, before any contribution but the sources' is used: a
  // plugin it no longer allows never runs, and one it newly allows (a first start with no record
  // yet) loads now rather than at the next restart.
  const initial = await loadPolicy(config);
  // The local store, once it is made: what a plugin granted `localStore:read` reads (certificates
  // only, through the host: docs/plugins/isolation.md).
  let madeLocal: (store: LocalStore) => void = () => undefined;
  const localStore = new Promise<LocalStore>((resolve) => {
    madeLocal = resolve;
  });
  const services = { localStore: () => localStore };
  let host = await createHost(config, log, hostPolicy(initial), services);
  try {
    await host.start();
    let loaded = config.sitePolicy ? await loadPolicy(config, { host, log }) : initial;
    if (!samePolicy(loaded, initial)) {
      await host.dispose();
      host = await createHost(config, log, hostPolicy(loaded), services);
      await host.start();
    }
    let policy = loaded.policy;
    const base = {
      user: config.user,
      home: config.home,
      ...(options.password ? { password: options.password } : {}),
    };
    const directory = await (await host.contribution(DirectoryStore, config.directory.use))({
      ...base,
      settings: config.directory.settings,
      // Read at each bind: a policy refresh (the agent's) applies from the next one.
      policy: {
        get trustWithPassword() {
          return policy.directory.trustWithPassword;
        },
      } satisfies DirectoryPolicy,
    });
    madeDirectory = directory;
    const protector: TokenProtector = await (await host.contribution(TokenProtector, config.protector.use))({
      ...base,
      settings: config.protector.settings,
      policy: liveSection(() => policy.protection),
      directory,
    });
    made = protector;
    // A command that unlocks (a logon) starts here: the key derivation runs while the rest loads.
    if (options.unlock !== undefined && protector.unlock) {
      unlocking = protector.unlock({ password: options.unlock });
      unlocking.catch(() => undefined); // the command awaits it
    }
    const local = await (await host.contribution(LocalStore, config.localStore.use))({
      ...base,
      settings: config.localStore.settings,
      policy: {},
      directory,
    });
    madeLocal(local);
    return {
      config,
      get policy() {
        return policy;
      },
      get loadedPolicy() {
        return loaded;
      },
      updatePolicy(next: LoadedPolicy) {
        loaded = next;
        policy = next.policy;
      },
      host,
      directory,
      local,
      protector,
      base,
      ...(unlocking ? { unlocking } : {}),
      async dispose() {
        protector.lock?.();
        await directory.close?.();
        await host.dispose();
      },
    };
  } catch (error) {
    // A derivation under way ends first: no key is opened after the session is gone.
    await unlocking?.catch(() => undefined);
    made?.lock?.(); // as dispose() does: no key stays open in a session that never opened
    // Its connection (the unlock's read of the keys opened one) would keep the process running.
    await madeDirectory?.close?.().catch(() => undefined);
    await host.dispose();
    throw error;
  }
}

/**
 * A session's second half: the engine, the mirrors and enrollment, built through the DI container.
 * On a failure the stores stay open: whoever opened them disposes of them.
 */
export async function completeSession(stores: SessionStores, log: EventLog): Promise<Session> {
  const { config, host, directory, local, protector } = stores;
  // The engine's half: its modules load now, while the key derivation runs.
  const { buildEngine } = await import('./session-engine.js');
  const statePath = path.join(config.home, 'state');
  const {
    container: c,
    engine,
    mirrors,
    enrollment,
  } = buildEngine({
    config,
    log,
    host,
    directory,
    local,
    protector,
    policy: () => stores.policy,
    base: stores.base,
    statePath,
    syncStatePath: syncStatePath(config),
    syncRecorded: ({ engine, mirrors }) => syncRecorded({ config, engine, mirrors }),
  });
  return {
    config,
    get policy() {
      return stores.policy;
    },
    get loadedPolicy() {
      return stores.loadedPolicy;
    },
    updatePolicy: (next: LoadedPolicy) => stores.updatePolicy(next),
    host,
    directory,
    local,
    mirrors,
    protector,
    container: c,
    engine,
    enrollment,
    statePath,
    ...(stores.unlocking ? { unlocking: stores.unlocking } : {}),
    dispose: () => stores.dispose(),
  };
}

/**
 * A sync that finds nothing changed, told without the engine (decision 030): the stamp shortcut the
 * engine takes first, on the state file, the store's revision and one read of the stamp, recorded
 * for `status` as `syncRecorded` records it. Undefined when something may have changed (the engine
 * syncs then). Only for an endpoint without mirrors: `syncRecorded` keeps each one at every sync.
 * It takes no sync lock: the state file and the store's files are each replaced whole, and a sync
 * of another process changes the stamp or the store before its state, so a sync under way is seen
 * as a change, never half-done.
 */
export async function unchangedRecorded(
  stores: SessionStores,
  log: EventLog,
): Promise<{ report: SyncReport; last: LastSync } | undefined> {
  const [{ FileSyncStateStore }, shortcut] = await Promise.all([
    import('@credroam/core/engine/state'),
    import('@credroam/core/engine/shortcut'),
  ]);
  const { config, local, directory } = stores;
  let unchanged: boolean;
  try {
    const state = await new FileSyncStateStore(syncStatePath(config)).load();
    shortcut.checkStateUser(state, config.user);
    const revision = await local.revision();
    unchanged = await shortcut.unchangedSinceLastSync(state, revision, Date.now(), () =>
      directory.readStamp(),
    );
  } catch (error) {
    // What the engine's sync would have failed with is recorded as `syncRecorded` records it.
    await recordFailedSync(config, error);
    throw error;
  }
  if (!unchanged) return undefined;
  log.log('debug', EventId.SyncUnchanged, 'nothing changed since the last sync');
  const report = shortcut.unchangedReport();
  const last = await recordLastSync(config, {
    outcome: report.outcome,
    counts: report.counts,
    skippedItems: [],
  });
  return { report, last };
}

/**
 * A sync as the commands run one: the engine, then the mirrors (a mirror holds keys: `unlock` makes
 * the protector ready for them when the sync itself did not need it), then the outcome recorded
 * for `status` (a failure too, then thrown). Returns what the mirrors did and the record written.
 */
export async function syncRecorded(
  session: Pick<Session, 'config' | 'engine' | 'mirrors'>,
  options: Omit<SyncOptions, 'dryRun'> = {},
): Promise<{ report: SyncReport; mirrors: MirrorReport[]; last: LastSync }> {
  let report: SyncReport;
  try {
    report = await session.engine.sync(options);
  } catch (error) {
    await recordFailedSync(session.config, error);
    throw error;
  }
  if (session.mirrors.destinations.length > 0) await options.unlock?.();
  const mirrors = await session.mirrors.update();
  const last = await recordLastSync(session.config, {
    outcome: report.outcome,
    counts: report.counts,
    skippedItems: report.skipped,
  });
  return { report, mirrors, last };
}

/**
 * R10: removes from the endpoint the credentials whose exact version the directory holds (as the
 * last completed sync recorded it) — never one the directory lacks, never the last copy. Their base
 * entries are forgotten first, under the sync lock: a removal the base still knew of would be taken
 * by the next sync (the next logon's) for a deletion on this endpoint, and tombstoned everywhere.
 * Without a base entry the next sync downloads them again. A crash between the two leaves copies
 * without a base entry, which the next sync takes as in step with the directory.
 */
export async function removeSafelyRoamed(
  session: Session,
  /** The logoff's final sync. */
  final: Pick<SyncReport, 'skipped'>,
): Promise<number> {
  // Values it left unread (more than twice maxTokens, event 1008): a token with one there was not
  // written, its base not checked against the directory (a writer may have deleted its value and
  // planted copies past the limit), so nothing is removed.
  if (
    final.skipped.some(
      (s) => s.where === 'directory' && s.event === EventId.TooManyTokens && s.id === undefined,
    )
  )
    return 0;
  const { SyncStateStore, TokenFlag, UserLock, versionHash } = await import('@credroam/core/engine');
  const lock = session.container.resolve<import('@credroam/core/engine').UserLock>(UserLock);
  const states = session.container.resolve<import('@credroam/core/engine').SyncStateStore>(SyncStateStore);
  return lock.run(async (held) => {
    const state = await states.load();
    // A write in doubt (a sync that died after its directory write) is completed by the next sync
    // first: until then what the base says the directory holds may not be so.
    if (state === undefined || state.pending !== undefined) return 0;
    const listing = await session.local.list();
    const roamed = listing.items.filter((item) => {
      const base = state.base[`${item.kind}:${item.id}`];
      return base?.hash === versionHash(item.kind, item.archived ? TokenFlag.Archived : 0, item.content);
    });
    if (roamed.length === 0) return 0;
    // Each still in the directory now, as the very value the base names: a writer who deleted one
    // since the final sync would otherwise have this removal take the last copy. Unreadable, the
    // directory holds nothing for certain, and nothing is removed.
    const inDirectory = await session.directory.read().then(
      (snapshot) => new Set(snapshot.tokens.map((v) => createHash('sha256').update(v).digest('hex'))),
      () => new Set<string>(),
    );
    const safe = roamed.filter((item) =>
      inDirectory.has(state.base[`${item.kind}:${item.id}`]?.valueHash ?? ''),
    );
    if (safe.length === 0) return 0;
    const base = { ...state.base };
    for (const item of safe) delete base[`${item.kind}:${item.id}`];
    const { local: _recorded, ...rest } = state;
    held.throwIfLost();
    await states.save({ ...rest, base, localRevision: null });
    for (const item of safe) {
      held.throwIfLost();
      await session.local.remove(item.kind, item.id);
    }
    return safe.length;
  });
}

/** The engine's sync state of this endpoint. */
export const syncStatePath = (config: AgentConfig): string => path.join(config.home, 'state', 'sync.json');

/** The outcome of the last sync, by whichever process ran it (the CLI or the agent). */
export interface LastSync {
  readonly at: string;
  readonly outcome: string;
  readonly counts?: SyncReport['counts'];
  /** How many items are skipped (`skippedItems.length`). */
  readonly skipped?: number;
  /**
   * What is skipped as of the last sync that read both sides (`skippedAt`): a sync with nothing to
   * do, or one that failed, reads neither side again, so what that one found still stands.
   */
  readonly skippedItems?: readonly SkippedItem[];
  readonly skippedAt?: string;
  readonly error?: string;
}

const statusPath = (config: AgentConfig) => path.join(config.home, 'status.json');

/** A sync that failed, recorded for `status` with why. */
const recordFailedSync = (config: AgentConfig, error: unknown): Promise<LastSync> =>
  recordLastSync(config, {
    outcome: 'failed',
    error: error instanceof Error ? error.message : String(error),
  });

/**
 * Records a sync's outcome. A sync that read both sides records what it skipped, except values it
 * replaced (rolled back: gone once written over); a sync with nothing to do, or a failed one,
 * carries forward what the last reading sync found, so that it is reported until it is fixed.
 */
export async function recordLastSync(
  config: AgentConfig,
  last: Omit<LastSync, 'at' | 'skipped' | 'skippedAt'>,
): Promise<LastSync> {
  const at = new Date().toISOString();
  const read = last.outcome === 'synced';
  const before = read ? undefined : await readLastSync(config).catch(() => undefined);
  const items = read
    ? (last.skippedItems ?? []).filter((i) => i.event !== EventId.TokenRolledBack)
    : (before?.skippedItems ?? []);
  const skippedAt = read ? at : before?.skippedAt;
  const entry: LastSync = {
    at,
    ...last,
    skipped: items.length,
    skippedItems: items,
    ...(skippedAt ? { skippedAt } : {}),
  };
  // Atomic, not durable: a sync with nothing to do forces nothing to disk (issue 16); a power cut
  // may leave the previous record, which the next sync replaces.
  await writeFileAtomic(statusPath(config), JSON.stringify({ lastSync: entry }), 0o600, { durable: false });
  return entry;
}

export async function readLastSync(config: AgentConfig): Promise<LastSync | undefined> {
  const data = await readFileNoFollow(statusPath(config), { maxBytes: 16 << 20 }).catch(() => undefined);
  if (!data) return undefined;
  try {
    // A record a crash cut short (it is not written durably) is no record: the next sync writes one.
    return (JSON.parse(data.toString('utf8')) as { lastSync?: LastSync }).lastSync;
  } catch {
    return undefined;
  }
}
