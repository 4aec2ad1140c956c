import 'reflect-metadata';

export * from './api/index.js';
export { FolderDirectoryStore, folderFromUrl, userFolderName } from './builtin/folder/folder-directory.js';
export { FOLDER_POLICY_FILE, FolderPolicySource } from './builtin/folder/folder-policy-source.js';
export {
  associatedData,
  type DecodedHeader,
  decodeHeader,
  encodeHeader,
  encodeToken,
  FORMAT_VERSION,
  HEADER_BYTES,
  type TokenHeader,
} from './engine/codec.js';
export { type ContentFacts, ContentInspector, X509ContentInspector } from './engine/inspect.js';
export { FileUserLock, InProcessLock, UserLock } from './engine/lock.js';
export { LoggerToken } from './engine/logger-token.js';
export {
  type BaseEntry,
  type MergeAction,
  type MergeDecision,
  type MergeInput,
  mergeToken,
  newer,
  tombstoneHash,
} from './engine/merge.js';
export {
  type DirectoryValue,
  type LocalVersion,
  type PlanAction,
  type PlanEntry,
  type PlanInput,
  type PlanOutput,
  pickWinner,
  planSync,
} from './engine/plan.js';
export { FileSyncStateStore, MemorySyncStateStore, type SyncState, SyncStateStore } from './engine/state.js';
export {
  EngineOptions,
  type PlannedChange,
  type SkippedItem,
  type SyncCounts,
  SyncEngine,
  type SyncOptions,
  type SyncReport,
} from './engine/sync-engine.js';
export {
  isTombstone,
  KIND_CODES,
  TokenFlag,
  type TokenVersion,
  tokenKey,
  versionHash,
} from './engine/token.js';
export { readChallenge } from './enroll/challenge.js';
export type { EnrollmentDeps, EnrollOptions } from './enroll/enrollment-deps.js';
export type { EnrollmentReport, ProfileReport } from './enroll/enrollment-report.js';
export {
  type EnrollmentMemory,
  EnrollmentMemoryFile,
  type ProfileMemory,
} from './enroll/enrollment-state.js';
export { type HeldCertificate, type ProfileStanding, renewalTime, standingOf } from './enroll/evaluate.js';
export { makeKey } from './enroll/make-key.js';
export { checkIssuedCertificate, pinnedCertificate } from './enroll/pin.js';
export {
  DEFAULT_ENROLLMENT_POLICY,
  ENROLLMENT_POLICY_SCHEMA,
  type EnrollmentKeySpec,
  type EnrollmentPolicy,
  type EnrollmentProfile,
  escapeDnValue,
  fillTemplates,
} from './enroll/profile.js';
export { EnrollmentService } from './enroll/service.js';
export { encodeEnrollmentToken, enrollmentTokenId, readEnrollmentTokens } from './enroll/tokens.js';
export * from './host/index.js';
export { checkInjection } from './host/injection-check.js';
export * from './kit/index.js';
export type { AllowListEntry, PluginAllowList } from './policy/allow-list.js';
export * from './policy/bundle/index.js';
export { hashPluginFiles } from './policy/plugin-files.js';
export {
  DEFAULT_DIRECTORY_POLICY,
  DEFAULT_ROAMING_POLICY,
  type DirectoryPolicy,
  parseRoamingPolicy,
  parseSitePolicy,
  ROAMING_POLICY_SCHEMA,
  type RoamingPolicy,
  SITE_POLICY_SCHEMA,
  type SitePolicy,
} from './policy/policy.js';
