/**
 * Stable event ids. Administrators filter logs on these; a number is never reused for another
 * meaning. The sync outcomes follow Windows Credential Roaming (DIMS) where it has one:
 * 1 success, 501 conflict, 1001 failure, 1008 too many tokens, 1011 token too large.
 */
export const EventId = {
  SyncSucceeded: 1,
  SyncUnchanged: 2,
  SyncPlanned: 3,
  TokenUploaded: 101,
  TokenDownloaded: 102,
  TokenRemovedLocally: 103,
  TombstoneWritten: 104,
  TokenArchived: 105,
  TombstonePruned: 106,
  DuplicateValuesResolved: 107,
  ValueReasserted: 108,
  CompareAndSwapRetried: 109,
  Conflict: 501,
  SyncFailed: 1001,
  CompareAndSwapExhausted: 1002,
  TooManyTokens: 1008,
  TokenTooLarge: 1011,
  TokenAuthenticationFailed: 1012,
  TokenMalformed: 1013,
  TokenUnknownKind: 1014,
  TokenFromFuture: 1015,
  TokenRolledBack: 1016,
  TokenIdMismatch: 1017,
  LocalItemUnreadable: 1018,
  // Master keys (1020–1029): the endpoint's copy against the directory's.
  MasterKeyRestored: 1020,
  WrappedKeySkipped: 1021,
  WrappedKeyDiffers: 1022,
  PasswordChangeRefused: 1023,
  /** A directory value the store cannot hand over as bytes (the folder: not a base64 string): skipped, left in place. */
  DirectoryValueUnreadable: 1030,
  /** The same value stored more than once (the folder's file; an LDAP attribute cannot): read as one. */
  DirectoryValueDuplicated: 1031,
  /** A link (or anything but a folder) where the local store keeps a folder: not followed, nothing written through it. */
  StoreFolderRefused: 1032,
  /** A local store file or folder that others could read or write: made owner-only. */
  StoreModeRepaired: 1033,
  PluginActivated: 2001,
  PluginDeactivated: 2002,
  PluginActivationFailed: 2003,
  PluginManifestInvalid: 2004,
  PluginEngineIncompatible: 2005,
  PluginDependencyFailed: 2006,
  PluginDependencyCycle: 2007,
  PluginDeactivationFailed: 2008,
  PluginConfigurationInvalid: 2009,
  PluginLog: 2100,
  // The agent daemon (2200–2219): its lifetime, control socket, triggers, keys and syncs.
  /** The agent runs: pid, control socket, each plugin's state, whether it holds the keys. */
  AgentStarted: 2200,
  /** The agent stopped (SIGTERM, `credroam trigger stop`, its control socket gone): exit 0. */
  AgentStopped: 2201,
  /** The agent cannot run (a required plugin failed, a selected contribution is unavailable, …): exit 1. */
  AgentStartFailed: 2202,
  /** A live agent answers on the control socket: this one exits (status 0) and leaves it alone. */
  AgentAlreadyRunning: 2203,
  /** No live agent answered on the control socket left there (a killed agent's): taken over. */
  AgentSocketTakenOver: 2204,
  /** The agent's control socket was removed or replaced (its home deleted, another agent): it stops. */
  AgentSocketGone: 2205,
  /** A trigger the agent manifest selects is unavailable (its optional plugin failed): the agent goes on without it. */
  AgentTriggerUnavailable: 2206,
  /** A trigger fired (`source`: the trigger or `cli`); what the agent does follows. */
  AgentTriggerFired: 2207,
  /** The agent opened the user's keys (logon): it syncs from now on. */
  AgentKeysOpened: 2208,
  /** The agent forgot the user's keys (logoff); `removed`: credentials removed by `removeOnLogoff`. */
  AgentKeysClosed: 2209,
  /** The logon password was changed (a PAM-proven logon with the new one): the keys were re-wrapped for it. */
  AgentKeysRewrapped: 2210,
  /** A sync the agent ran ended: why it ran (`reason`), its outcome and counts. Failures are 1001. */
  AgentSyncEnded: 2211,
  /** A policy refresh could not read the policy: the previous one stays in force. */
  AgentPolicyRefreshFailed: 2212,
} as const;

export type EventId = (typeof EventId)[keyof typeof EventId];

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** One logged event, as written to the JSON-lines log. */
export interface LogRecord {
  readonly time: string;
  readonly level: LogLevel;
  readonly event: number;
  readonly message: string;
  readonly plugin?: string;
  readonly [field: string]: unknown;
}

/**
 * A logger scoped to its owner (a plugin gets one that stamps its id on every record). Fields must
 * never carry secrets: passwords, keys, private-key bytes.
 */
export interface Logger {
  log(level: LogLevel, event: number, message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}
