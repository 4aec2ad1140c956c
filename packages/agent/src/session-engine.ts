/**
 * The engine half of a session: the DI container, the sync engine, the mirrors and enrollment,
 * built on the directory, protector and local store the plugins made. Its own module, imported by
 * `openSession` once those exist: a logon's key derivation starts before this graph (the engine,
 * tsyringe, enrollment, the mirrors) is loaded, and runs while it is (decision 027).
 */
import {
  type ContributionRequest,
  DirectoryStore,
  Enroller,
  type EventId,
  LocalStore,
  TokenProtector,
} from '@credroam/core/api';
import {
  ContentInspector,
  EngineOptions,
  FileSyncStateStore,
  FileUserLock,
  knownKeyIds,
  LoggerToken,
  SyncEngine,
  type SyncReport,
  SyncStateStore,
  UserLock,
  X509ContentInspector,
} from '@credroam/core/engine';
import { EnrollmentService } from '@credroam/core/enroll';
import type { EventLog } from '@credroam/core/events';
import type { PluginHost } from '@credroam/core/host';
import type { SitePolicy } from '@credroam/core/policy';
import { container, type DependencyContainer } from 'tsyringe';
import type { AgentConfig } from './config.js';
import { Mirrors } from './mirrors/index.js';

/** The classes the composition root builds through the container (checked by `checkInjection` in tests). */
export const INJECTED_CLASSES = [SyncEngine] as const;

export interface EngineParts {
  readonly container: DependencyContainer;
  readonly engine: SyncEngine;
  readonly mirrors: Mirrors;
  readonly enrollment: EnrollmentService;
  readonly statePath: string;
}

export function buildEngine(o: {
  readonly config: AgentConfig;
  readonly log: EventLog;
  readonly host: PluginHost;
  readonly directory: DirectoryStore;
  readonly local: LocalStore;
  readonly protector: TokenProtector;
  /** The policy in force, read at each use (a refresh applies from the next sync). */
  readonly policy: () => SitePolicy;
  /** What every contribution request carries (user, home, the password when the command has it). */
  readonly base: Pick<ContributionRequest, 'user' | 'home' | 'password'>;
  readonly statePath: string;
  readonly syncStatePath: string;
  /** A sync as the commands record one (after an enrollment stored something). */
  readonly syncRecorded: (s: { engine: SyncEngine; mirrors: Mirrors }) => Promise<{ report: SyncReport }>;
}): EngineParts {
  const { config, log, host, directory, local, protector, policy } = o;
  const mirrors = new Mirrors({ config, host, log, primary: local });
  const c = container.createChildContainer();
  c.register(DirectoryStore, { useValue: directory });
  c.register(LocalStore, { useValue: local });
  c.register(TokenProtector, { useValue: protector });
  c.register(SyncStateStore, { useValue: new FileSyncStateStore(o.syncStatePath) });
  c.register(ContentInspector, { useValue: new X509ContentInspector() });
  c.register(UserLock, { useValue: new FileUserLock(o.statePath) });
  c.register(LoggerToken, { useValue: log });
  // The engine reads the policy at each sync: a refreshed policy applies from the next one.
  c.register(EngineOptions, {
    useValue: {
      user: config.user,
      get policy() {
        return policy().roaming;
      },
    } satisfies EngineOptions,
  });
  const engine = c.resolve(SyncEngine);
  const enrollment = new EnrollmentService({
    user: config.user,
    home: config.home,
    directory,
    local,
    protector,
    policy,
    // One enroller per profile, its settings the profile's ca.settings (checked by the host).
    enroller: async (profile) =>
      (await host.contribution(Enroller, profile.enroller))({
        ...o.base,
        settings: profile.ca.settings,
        policy: {},
      }),
    // R4: the sync after an enrollment, so what was issued roams (and reaches the mirrors).
    sync: async () => (await o.syncRecorded({ engine, mirrors })).report,
    event: (level, id, message, fields) => log.log(level, id as EventId, message, fields),
    syncedKeys: async () => knownKeyIds(await c.resolve<SyncStateStore>(SyncStateStore).load()),
    ...(directory.readAttributes
      ? { attributes: (names: readonly string[]) => directory.readAttributes!(names) }
      : {}),
  });
  return { container: c, engine, mirrors, enrollment, statePath: o.statePath };
}
