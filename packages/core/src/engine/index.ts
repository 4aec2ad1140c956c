/**
 * `@credroam/core/engine`: the roaming engine (sync, its state, the user lock, the token codec, the
 * content inspector) for a composition root, without enrollment, policy bundles or the plugin
 * host. Everything here is also exported by `@credroam/core`.
 */
import 'reflect-metadata';

export {
  associatedData,
  type DecodedHeader,
  decodeHeader,
  encodeHeader,
  encodeToken,
  FORMAT_VERSION,
  HEADER_BYTES,
  type TokenHeader,
} from './codec.js';
export { type ContentFacts, ContentInspector, X509ContentInspector } from './inspect.js';
export { FileUserLock, InProcessLock, type LockHeld, UserLock } from './lock.js';
export { LoggerToken } from './logger-token.js';
export {
  type BaseEntry,
  type MergeAction,
  type MergeDecision,
  type MergeInput,
  mergeToken,
  newer,
  tombstoneHash,
} from './merge.js';
export {
  type DirectoryValue,
  type LocalVersion,
  type PlanAction,
  type PlanEntry,
  type PlanInput,
  type PlanOutput,
  pickWinner,
  planSync,
} from './plan.js';
export {
  FileSyncStateStore,
  knownKeyIds,
  MemorySyncStateStore,
  type SyncState,
  SyncStateStore,
} from './state.js';
export {
  EngineOptions,
  type PlannedChange,
  type SkippedItem,
  type SyncCounts,
  SyncEngine,
  type SyncOptions,
  type SyncReport,
} from './sync-engine.js';
export {
  isTombstone,
  KIND_CODES,
  TokenFlag,
  type TokenVersion,
  tokenKey,
  versionHash,
} from './token.js';
