import { container } from 'tsyringe';
import {
  ContentInspector,
  DEFAULT_ROAMING_POLICY,
  DirectoryStore,
  EngineOptions,
  EventLog,
  InProcessLock,
  type LocalStore,
  LocalStore as LocalStoreToken,
  LoggerToken,
  type LogRecord,
  MemorySyncStateStore,
  type RoamingPolicy,
  SyncEngine,
  SyncStateStore,
  TokenProtector,
  UserLock,
} from '../index.js';
import { FakeInspector, TestProtector } from './memory-stores.js';

export interface EngineParts {
  readonly directory: DirectoryStore;
  readonly local: LocalStore;
  readonly protector?: TestProtector;
  readonly state?: MemorySyncStateStore;
  readonly user?: string;
  readonly now?: () => number;
  readonly policy?: Partial<RoamingPolicy>;
  readonly inspector?: ContentInspector;
  /** The sync lock (default: one serialising this process only). */
  readonly lock?: UserLock;
}

/** Composes a SyncEngine through the DI container, as the agent does, from test parts. */
export function makeEngine(parts: EngineParts): {
  engine: SyncEngine;
  events: LogRecord[];
  state: MemorySyncStateStore;
} {
  const events: LogRecord[] = [];
  const log = new EventLog({ write: () => undefined, level: 'error' });
  log.subscribe((r) => events.push(r));
  const state = parts.state ?? new MemorySyncStateStore();
  const c = container.createChildContainer();
  c.register(DirectoryStore, { useValue: parts.directory });
  c.register(LocalStoreToken, { useValue: parts.local });
  c.register(TokenProtector, { useValue: parts.protector ?? SHARED_PROTECTOR });
  c.register(SyncStateStore, { useValue: state });
  c.register(ContentInspector, { useValue: parts.inspector ?? new FakeInspector() });
  c.register(UserLock, { useValue: parts.lock ?? new InProcessLock() });
  c.register(LoggerToken, { useValue: log });
  c.register(EngineOptions, {
    useValue: {
      user: parts.user ?? 'alice',
      policy: { ...DEFAULT_ROAMING_POLICY, ...parts.policy },
      ...(parts.now ? { now: parts.now } : {}),
    } satisfies EngineOptions,
  });
  return { engine: c.resolve(SyncEngine), events, state };
}

/** One key for all of alice's endpoints in a test (what the protector's master key is in real life). */
export const SHARED_PROTECTOR = new TestProtector();
