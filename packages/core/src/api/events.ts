export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** One kind of event: its stable id, the levels it is logged at (the usual one first), and what it means. */
export interface EventKind {
  readonly id: number;
  readonly levels: readonly LogLevel[];
  readonly meaning: string;
}

/**
 * Every kind of event credroam logs, one stable id each. Administrators filter logs on these ids: a
 * number is never reused for another meaning, and never removed (one no longer logged says so).
 * `docs/admin/events.md` lists the same ids with what to do about each (a test keeps the two equal).
 *
 * Adding an event: a new name and the next free number in its range, never a number used before.
 * The sync outcomes follow Windows Credential Roaming (DIMS) where it has one: 1 success,
 * 501 conflict, 1001 failure, 1008 too many tokens, 1011 token too large.
 */
// biome-ignore format: a table, one line per event
export const EVENTS = {
  // 1–99: a sync's outcome.
  SyncSucceeded:              { id: 1,    levels: ['info'],          meaning: 'A sync completed; the record counts what moved and how many items were skipped.' },
  SyncUnchanged:              { id: 2,    levels: ['debug'],         meaning: 'Nothing changed since the last sync: one read of the change stamp, nothing else.' },
  SyncPlanned:                { id: 3,    levels: ['info'],          meaning: 'A dry run planned its changes and wrote nothing.' },
  SyncWaitingForLogon:        { id: 4,    levels: ['debug'],         meaning: 'A trigger asked the agent for a sync while the keys are locked: none runs until logon.' },
  // 100–199: one token changed, on one side or the other.
  TokenUploaded:              { id: 101,  levels: ['info'],          meaning: 'A token was written to the directory (new, changed here, or missing there); the reason says which.' },
  TokenDownloaded:            { id: 102,  levels: ['info'],          meaning: 'A token was written to this endpoint from the directory.' },
  TokenRemovedLocally:        { id: 103,  levels: ['info'],          meaning: 'A token deleted on another endpoint was removed here (kept in the local archive for the tombstone lifetime).' },
  TombstoneWritten:           { id: 104,  levels: ['info'],          meaning: 'A token deleted here was replaced in the directory by a tombstone, so the deletion roams.' },
  TokenArchived:              { id: 105,  levels: ['info'],          meaning: 'An expired certificate was archived: kept, flagged, out of the active set.' },
  TombstonePruned:            { id: 106,  levels: ['info'],          meaning: 'A tombstone older than the tombstone lifetime was removed from the directory.' },
  DuplicateValuesResolved:    { id: 107,  levels: ['info'],          meaning: 'The directory held several values for one token: the superseded ones were removed.' },
  ValueReasserted:            { id: 108,  levels: ['info'],          meaning: 'Not logged by this version (a value lost from the directory is uploaded again as 101); kept so the number is never reused.' },
  CompareAndSwapRetried:      { id: 109,  levels: ['debug'],         meaning: 'Another writer changed the directory during the sync: it read and merged again.' },
  // 500–599: conflicts.
  Conflict:                   { id: 501,  levels: ['warn'],          meaning: 'A token changed on both sides since the last sync: the newer version won on every endpoint; or a private key deleted on one side was kept, a certificate here using it.' },
  // 1000–1019: a sync that failed or was put off, and items a sync skipped (bad input is skipped, never fatal).
  SyncFailed:                 { id: 1001, levels: ['error'],         meaning: 'A sync failed; nothing was half-done, and the next trigger tries again. The message says why.' },
  CompareAndSwapExhausted:    { id: 1002, levels: ['error'],         meaning: 'The directory kept changing during the sync: it gave up after the policy\'s casAttempts.' },
  SyncRetryScheduled:         { id: 1003, levels: ['warn'],          meaning: 'The directory was unreachable (or kept changing): the agent retries with backoff; local changes wait.' },
  TooManyTokens:              { id: 1008, levels: ['warn'],          meaning: 'Over the per-user token limit (policy maxTokens): values were not uploaded, or not read.' },
  TokenTooLarge:              { id: 1011, levels: ['warn'],          meaning: 'A token is larger than the policy maxTokenBytes: skipped.' },
  TokenAuthenticationFailed:  { id: 1012, levels: ['warn'],          meaning: 'A directory token failed authentication (altered, forged, or sealed for another user): skipped.' },
  TokenMalformed:             { id: 1013, levels: ['warn'],          meaning: 'A directory token is malformed (bad header, ASN.1 or content): skipped.' },
  TokenUnknownKind:           { id: 1014, levels: ['warn'],          meaning: 'A directory token has a kind this version does not know: skipped, left in place.' },
  TokenFromFuture:            { id: 1015, levels: ['warn'],          meaning: 'A directory token is dated beyond the allowed clock skew: skipped.' },
  TokenRolledBack:            { id: 1016, levels: ['warn'],          meaning: 'A directory token is older than the version this endpoint already saw (a lagging server or a replay): replaced.' },
  TokenIdMismatch:            { id: 1017, levels: ['warn'],          meaning: 'A directory token\'s id does not match its content: skipped.' },
  LocalItemUnreadable:        { id: 1018, levels: ['warn'],          meaning: 'A local store item cannot be read, or the local store refused a change: skipped, left in place.' },
  // 1020–1029: master keys, the endpoint's copy against the directory's.
  MasterKeyRestored:          { id: 1020, levels: ['warn'],          meaning: 'A master key was missing from the directory: this endpoint\'s copy was put back.' },
  WrappedKeySkipped:          { id: 1021, levels: ['warn'],          meaning: 'A wrapped master key in the directory was not tried (malformed, another user\'s, or KDF parameters out of bounds).' },
  WrappedKeyDiffers:          { id: 1022, levels: ['warn'],          meaning: 'The directory\'s copy of a master key does not open with this password: re-wrapped elsewhere, or altered. Also: this endpoint\'s own copy of a key does not open with this password (the password was changed where the directory lacked that key); the copy is kept.' },
  PasswordChangeRefused:      { id: 1023, levels: ['warn'],          meaning: 'A password that does not open the keys was offered outside a PAM logon: the keys were not re-wrapped for it.' },
  KeysRewrapped:              { id: 1024, levels: ['info'],          meaning: 'The system password changed (PAM logon): the agent re-wrapped the keys for the new one.' },
  MasterKeyCreated:           { id: 1025, levels: ['info'],          meaning: 'First logon of this user anywhere: a master key was created and written to the directory.' },
  KeysOpenedOffline:          { id: 1026, levels: ['warn'],          meaning: 'The directory was unreachable at logon: the keys were opened from this endpoint\'s copy.' },
  // 1030–1039: values and files that are not what they should be (the directory's, the local store's).
  DirectoryValueUnreadable:   { id: 1030, levels: ['warn'],          meaning: 'A directory value the store cannot hand over as bytes (the folder: not a base64 string): skipped, left in place.' },
  DirectoryValueDuplicated:   { id: 1031, levels: ['warn'],          meaning: 'The same value stored more than once (the folder\'s file; an LDAP attribute cannot): read as one.' },
  StoreFolderRefused:         { id: 1032, levels: ['error'],         meaning: 'A link (or anything but a folder) where the local store keeps a folder: not followed, nothing written through it.' },
  StoreModeRepaired:          { id: 1033, levels: ['warn'],          meaning: 'A local store file or folder that others could read or write: made owner-only.' },
  StoreKeysResealed:          { id: 1034, levels: ['info', 'warn'],  meaning: 'Private keys kept in the earlier at-rest format were sealed again in the current one at a listing (info), or could not be and were left as they are (warn).' },
  // 1040–1049: the site policy.
  PolicyRefreshFailed:        { id: 1040, levels: ['warn'],          meaning: 'A policy refresh could not load the site policy: the previous policy stays in force.' },
  PolicyBundleAccepted:       { id: 1041, levels: ['info'],          meaning: 'A signed policy bundle passed every check and is now in force: its site, serial, digest and source are in the record.' },
  PolicySignatureRefused:     { id: 1042, levels: ['error'],         meaning: 'A policy bundle was refused at the signature check: not a CMS SignedData with attached content, a signature that does not verify, or a signer that does not chain to the site policy root. The policy in force stays.' },
  PolicyEkuRefused:           { id: 1043, levels: ['error'],         meaning: 'A policy bundle was refused: its signer lacks the policy-signing extended key usage, or is not among the next signers the bundle in force names. The policy in force stays.' },
  PolicySiteRefused:          { id: 1044, levels: ['error'],         meaning: 'A policy bundle for another site was refused. The policy in force stays.' },
  PolicyExpiredRefused:       { id: 1045, levels: ['warn'],          meaning: 'A policy bundle was refused because its notAfter has passed, or its issuedAt is in the future. The policy in force stays.' },
  PolicySchemaRefused:        { id: 1046, levels: ['error'],         meaning: 'A signed policy bundle was refused at the schema check (each problem with its place), or because it needs a newer agent (minAgentVersion). The policy in force stays.' },
  PolicyRollbackRefused:      { id: 1047, levels: ['error'],         meaning: 'A policy bundle older than the one in force (a lower serial, or the same serial with other content) was refused: a replay, or a serial reused.' },
  PolicyExpiredInForce:       { id: 1048, levels: ['warn'],          meaning: 'The bundle in force has expired: its settings and allow-list stay as they are (never widened) until a newer valid bundle is accepted.' },
  PolicyDefaultsInForce:      { id: 1049, levels: ['warn'],          meaning: 'A site policy root is configured but no bundle is in force (none accepted yet, none reachable, or the record damaged): the built-in defaults apply, and only the first-party plugins as installed may load.' },
  // 1050–1059: a credential's attributes (friendly name, CA chain), which travel with its certificate.
  AttributesWithoutCertificate: { id: 1050, levels: ['warn'],        meaning: 'Attributes (friendly name, CA chain) of a certificate this endpoint does not hold, or that is not in the directory: not copied, left in place.' },
  // 2000–2099: the plugin host. A failure is an error for a required plugin, a warning for an optional one.
  PluginActivated:            { id: 2001, levels: ['info'],          meaning: 'A plugin was activated.' },
  PluginDeactivated:          { id: 2002, levels: ['info'],          meaning: 'A plugin was deactivated.' },
  PluginActivationFailed:     { id: 2003, levels: ['warn', 'error'], meaning: 'A plugin\'s activate threw or timed out: the plugin is failed.' },
  PluginManifestInvalid:      { id: 2004, levels: ['warn', 'error'], meaning: 'A plugin was not found, or its manifest is unreadable or invalid (or its id is taken): not loaded.' },
  PluginEngineIncompatible:   { id: 2005, levels: ['warn', 'error'], meaning: 'A plugin requires another version of the plugin API (engines.credroam, checked against API_VERSION): not loaded.' },
  PluginDependencyFailed:     { id: 2006, levels: ['warn', 'error'], meaning: 'A plugin depends on a plugin that is unknown or failed: not activated.' },
  PluginDependencyCycle:      { id: 2007, levels: ['warn', 'error'], meaning: 'Plugins depend on each other in a cycle (the message prints its path): not activated.' },
  PluginDeactivationFailed:   { id: 2008, levels: ['warn'],          meaning: 'A plugin\'s deactivate or its subscriptions threw or timed out: cut off.' },
  PluginConfigurationInvalid: { id: 2009, levels: ['warn', 'error'], meaning: 'A plugin\'s settings do not match its configuration schema: not activated.' },
  // 2010–2019: the site policy's plugin allow-list (issue 12), checked before a plugin's code is imported.
  PluginNotAllowed:           { id: 2010, levels: ['warn', 'error'], meaning: 'A plugin\'s id is not on the plugin allow-list of the site policy in force: not loaded (or, on a policy refresh, deactivated).' },
  PluginVersionNotAllowed:    { id: 2011, levels: ['warn', 'error'], meaning: 'A plugin\'s version is outside every range the site policy allows for its id: not loaded (or deactivated).' },
  PluginFilesDiffer:          { id: 2012, levels: ['warn', 'error'], meaning: 'A plugin\'s files differ from the hashes the site policy pins (a file added, removed or changed; the message names them): not loaded (or deactivated).' },
  PluginFilesUncheckable:     { id: 2013, levels: ['warn', 'error'], meaning: 'A plugin\'s files cannot be checked against the site policy (a link among them, unreadable, its entry module not among them): not loaded (or deactivated).' },
  PluginAllowListApplied:     { id: 2014, levels: ['info'],          meaning: 'A refreshed site policy\'s plugin allow-list was applied to the running plugins: the message names those it refused (deactivated if they ran) and those that need a restart to load.' },
  // 2020–2039: third-party plugins out of process (docs/plugins/isolation.md).
  PluginIsolated:             { id: 2020, levels: ['info'],          meaning: 'A plugin runs in a process of its own: its pid, how its network is cut, the permissions granted.' },
  PluginPermissionNotGranted: { id: 2021, levels: ['warn', 'error'], meaning: 'A plugin\'s manifest asks for permissions the site policy does not grant it (the message names them): not loaded.' },
  PluginSandboxUnavailable:   { id: 2022, levels: ['warn', 'error'], meaning: 'A plugin that must run out of process cannot be cut off as its grants say (no network namespace on this machine): not run.' },
  PluginProcessLost:          { id: 2023, levels: ['warn'],          meaning: 'An isolated plugin\'s process exited or stopped answering: killed, and started again after the delay the record gives.' },
  PluginProcessGaveUp:        { id: 2024, levels: ['warn', 'error'], meaning: 'An isolated plugin\'s process was lost again after its last restart: the plugin is failed.' },
  PluginLogDropped:           { id: 2025, levels: ['warn'],          meaning: 'An isolated plugin wrote more log lines than the host takes (1000 per 10 s): the rest of that window was dropped; said once per window.' },
  // 2100: a plugin's own free-form line (its logger's debug, info, warn, error): third-party plugins only.
  PluginLog:                  { id: 2100, levels: ['info', 'debug', 'warn', 'error'], meaning: 'A line a plugin wrote in its own words; the plugin field names it (and pluginEvent, an id it gave outside this table).' },
  // 2200–2299: the agent: its lifetime, control socket, triggers, keys and syncs.
  AgentStarted:               { id: 2200, levels: ['info'],          meaning: 'The agent runs: pid, control socket, each plugin\'s state, whether it holds the keys.' },
  AgentStopped:               { id: 2201, levels: ['info'],          meaning: 'The agent stopped (SIGTERM, `credroam trigger stop`, its control socket gone): exit 0.' },
  AgentStartFailed:           { id: 2202, levels: ['error'],         meaning: 'The agent cannot run (a required plugin failed, a selected contribution is unavailable): exit 1.' },
  AgentAlreadyRunning:        { id: 2203, levels: ['info'],          meaning: 'A live agent answers on the control socket: this one exits (status 0) and leaves it alone.' },
  AgentSocketTakenOver:       { id: 2204, levels: ['info'],          meaning: 'No live agent answered on the control socket left there (a killed agent\'s): taken over.' },
  AgentSocketGone:            { id: 2205, levels: ['warn'],          meaning: 'The agent\'s control socket was removed or replaced (its home deleted, another agent): it stops rather than re-create it.' },
  AgentTriggerUnavailable:    { id: 2206, levels: ['warn'],          meaning: 'A trigger the agent manifest selects is unavailable (its optional plugin failed): the agent goes on without it.' },
  AgentTriggerFired:          { id: 2207, levels: ['info'],          meaning: 'A trigger fired (logon, logoff, lock, unlock, resume, store change, policy refresh); source says from where.' },
  AgentKeysOpened:            { id: 2208, levels: ['info'],          meaning: 'The agent opened the user\'s keys (logon): it syncs from now on.' },
  AgentKeysClosed:            { id: 2209, levels: ['info'],          meaning: 'Logoff: the final sync ran and the keys were forgotten; removed counts credentials taken off (removeOnLogoff).' },
  LoggedOff:                  { id: 2213, levels: ['info'],          meaning: 'A logoff without an agent (`credroam logoff`): the final sync ran; removed counts credentials taken off (removeOnLogoff).' },
  AgentSyncEnded:             { id: 2211, levels: ['info'],          meaning: 'A sync the agent ran ended, or was not run because the keys are closed: why it ran, its outcome and counts. Failures are 1001.' },
  // 3000–3019: an NSS database as the local store (packages/plugin-nss).
  NssRemovalFinished:         { id: 3000, levels: ['warn'],          meaning: 'A removal from an NSS database that was cut short was finished: the certificates sharing the removed one\'s nickname, taken out with it, were put back.' },
  NssTransferFilesRemoved:    { id: 3001, levels: ['warn'],          meaning: 'Transfer files a killed run left in the NSS store\'s folder (a PKCS#12 with a key, its password) were removed.' },
  // 3020–3039: mirrors, the destinations kept holding what the primary local store holds (the agent).
  MirrorUpdated:              { id: 3020, levels: ['info'],          meaning: 'A mirror was brought in step with the primary store: put counts credentials it received, repaired those put back after a change made there by hand, removed those the primary lost.' },
  MirrorFailed:               { id: 3021, levels: ['warn'],          meaning: 'A mirror could not be brought in step (a locked or missing database, a password credroam was not given, a folder that is a link), or one credential could not be mirrored there (a key type the database does not take): the sync is not failed, the rest is mirrored, and the next sync tries again. The message says why.' },
  // 3100–3119: enrollment (R4, R5): certificates requested, renewed and finished from the site policy's profiles.
  EnrollmentIssued:           { id: 3100, levels: ['info'],          meaning: 'A CA issued a certificate for a profile; it is in the local store with its key and roams like any credential.' },
  EnrollmentRenewed:          { id: 3101, levels: ['info'],          meaning: 'A certificate due for renewal was renewed; the one it replaces is archived once its successor is in place (R8).' },
  EnrollmentPending:          { id: 3102, levels: ['info'],          meaning: 'The CA will answer later: the request roams (a request token) and any of the user\'s endpoints finishes it.' },
  EnrollmentClaimedElsewhere: { id: 3103, levels: ['debug'],         meaning: 'Another endpoint of the user holds the claim on a profile (it is enrolling): this one waits for the result to roam in.' },
  EnrollmentUnreachable:      { id: 3104, levels: ['warn'],          meaning: 'The CA could not be reached: the profile is tried again in an hour (or at `credroam enroll`).' },
  EnrollmentRefused:          { id: 3105, levels: ['error'],         meaning: 'The CA refused the request (a wrong challenge, a subject it does not sign): the profile is tried again in a day, so an account is not locked out.' },
  EnrollmentCaMismatch:       { id: 3106, levels: ['error'],         meaning: 'The CA did not prove to be the one the profile pins (no certificate with its fingerprint, or an issued certificate it did not sign, or for another key): nothing was sent after the check, nothing is stored; tried again in a day.' },
  EnrollmentFailed:           { id: 3107, levels: ['error', 'warn'], meaning: 'Enrollment for a profile failed otherwise (a profile the enroller cannot serve, a challenge file that cannot be read, an enroller missing): tried again in a day. At warn: enrollment as a whole could not run (the directory went away after the sync): it runs again at the next logon or policy refresh. The message says why.' },
  EnrollmentTokenSkipped:     { id: 3108, levels: ['warn'],          meaning: 'A claim or request token in the directory failed a check (authentication, size, format, a date from the future): it is ignored and left where it is.' },
  EnrollmentPlanned:          { id: 3109, levels: ['info'],          meaning: 'A dry run (`credroam enroll --dry-run`) listed what enrollment would do and did nothing.' },
} as const satisfies Record<string, EventKind>;

export type EventName = keyof typeof EVENTS;

/** The id of each kind of event, by name (`EventId.SyncSucceeded === 1`). */
export const EventId: { readonly [K in EventName]: (typeof EVENTS)[K]['id'] } = Object.freeze(
  Object.fromEntries(Object.entries(EVENTS).map(([name, kind]) => [name, kind.id])),
) as { readonly [K in EventName]: (typeof EVENTS)[K]['id'] };

export type EventId = (typeof EventId)[EventName];

/** A range of ids kept for one area. */
export interface EventRange {
  readonly from: number;
  readonly to: number;
  readonly area: string;
}

/** The id ranges, each for one area; every id lies in one of them. */
export const EVENT_RANGES: readonly EventRange[] = [
  { from: 1, to: 99, area: "a sync's outcome" },
  { from: 100, to: 199, area: 'one token changed' },
  { from: 500, to: 599, area: 'conflicts' },
  { from: 1000, to: 1019, area: 'a sync that failed or was put off; items a sync skipped' },
  { from: 1020, to: 1029, area: 'master keys' },
  { from: 1030, to: 1039, area: 'directory values and local store files that are not what they should be' },
  { from: 1040, to: 1049, area: 'the site policy' },
  { from: 1050, to: 1059, area: "a credential's attributes" },
  { from: 2000, to: 2099, area: 'the plugin host' },
  { from: 2100, to: 2100, area: "a plugin's own free-form line" },
  { from: 2200, to: 2299, area: 'the agent' },
  { from: 3000, to: 3019, area: 'an NSS database as the local store' },
  { from: 3020, to: 3039, area: 'mirrors' },
  { from: 3100, to: 3119, area: 'enrollment' },
];

const KNOWN_IDS: ReadonlySet<number> = new Set(Object.values(EVENTS).map((kind) => kind.id));

/** True for an id in the table above. */
export function isEventId(value: number): value is EventId {
  return KNOWN_IDS.has(value);
}

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
 *
 * `log` takes an id from `EventId` (a plugin's logger writes any other number as `PluginLog`, with
 * the number in `pluginEvent`). `debug`, `info`, `warn` and `error` write free text as `PluginLog`
 * (2100): for third-party plugins, whose lines credroam cannot know; credroam's own code always
 * logs an id of its own.
 */
export interface Logger {
  log(level: LogLevel, event: number, message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}
