import type { Disposable } from './disposable.js';

/**
 * A DI token for an extension point: a symbol that carries the interface's type. The interface and
 * its token share one name (`DirectoryStore` is both), VS Code style.
 */
export type ExtensionPointToken<T> = symbol & { readonly __extensionPoint?: T };

function token<T>(name: string): ExtensionPointToken<T> {
  return Symbol.for(`credroam.${name}`) as ExtensionPointToken<T>;
}

/**
 * What a token carries: certificates, private keys, and a certificate's attributes (its friendly
 * name and CA chain, `CredentialAttributes`; enrollment may add requests).
 */
export type TokenKind = 'cert' | 'key' | 'attrs';
export const TOKEN_KINDS: readonly TokenKind[] = ['cert', 'key', 'attrs'];

/**
 * One credential part as an endpoint holds it: in clear, in memory only. `id` is derived from the
 * content (certificate: SHA-256 of its DER; key: SHA-256 of its SubjectPublicKeyInfo; attributes:
 * the id of the certificate they name), never taken from a name; the engine recomputes and checks it.
 */
export interface LocalItem {
  readonly kind: TokenKind;
  /** Lower-case hex SHA-256, 64 characters. */
  readonly id: string;
  /**
   * Certificate: DER. Key: PKCS#8 DER (unencrypted; the store encrypts it at rest). Attributes:
   * their canonical encoding (`encodeCredentialAttributes`).
   */
  readonly content: Uint8Array;
  /** Expired certificates are kept, flagged, out of the active set. Attributes: always false (they follow their certificate). */
  readonly archived: boolean;
  /** When this item last changed on this endpoint (ms since the epoch). */
  readonly modified: number;
}

/** An entry of the local store that could not be read. It is reported and never touched. */
export interface UnreadableItem {
  /** Where it is (a file name inside the store), for the report. */
  readonly name: string;
  /** The id, when the store can tell it without trusting the unreadable content; else undefined. */
  readonly kind?: TokenKind;
  readonly id?: string;
  readonly reason: string;
}

export interface LocalListing {
  readonly items: readonly LocalItem[];
  readonly unreadable: readonly UnreadableItem[];
}

/**
 * The user's credential store on the endpoint. Writes are atomic and owner-only; links are not
 * followed; an entry it cannot read is reported in `unreadable` and never deleted.
 */
export interface LocalStore {
  /** A cheap value that changes whenever the store's contents change (also by other processes). */
  revision(): Promise<string>;
  list(): Promise<LocalListing>;
  /** Adds or replaces an item (content and `archived` flag). */
  put(item: LocalItem): Promise<void>;
  /**
   * Removes an item from the active set; a missing item is not an error. With `keepUntil` the
   * store keeps it in its archive until then (a deletion that roamed in can be undone by hand).
   */
  remove(kind: TokenKind, id: string, options?: { readonly keepUntil?: number }): Promise<void>;
}

/** The values on the user's directory entry, each attribute a set of opaque byte strings. */
export interface DirectorySnapshot {
  /** The change stamp: a set; every writer replaces the values it read with one fresh value. */
  readonly stamp: readonly Uint8Array[];
  /** One value per token. */
  readonly tokens: readonly Uint8Array[];
  /** Wrapped master keys (owned by the token protector). */
  readonly keys: readonly Uint8Array[];
  /**
   * What the store found in its own storage that is not one clean value: the engine reports each
   * (event 1030 or 1031) and goes on. A store whose backend holds sets of byte strings (LDAP) has
   * none to report.
   */
  readonly irregular?: readonly IrregularValue[];
}

/**
 * A value a directory store holds but cannot hand over as it should: `unreadable` (not a byte
 * string at all: left out of the snapshot and left where it is), or `duplicate` (the same value
 * stored more than once: in the snapshot once).
 */
export interface IrregularValue {
  readonly attribute: 'tokens' | 'keys' | 'stamp';
  readonly problem: 'unreadable' | 'duplicate';
  /** Where, in the store's own terms (`tokens[3]`, `the stamp file`); never the value itself. */
  readonly where: string;
  /** Why, for an administrator; at most a short prefix of the value. */
  readonly reason: string;
}

export interface ValueChange {
  readonly remove: readonly Uint8Array[];
  readonly add: readonly Uint8Array[];
}

export interface DirectoryChange {
  readonly tokens?: ValueChange;
  readonly keys?: ValueChange;
  readonly stamp: ValueChange;
}

/**
 * Where tokens roam: the user's entry in a directory (or the embedded folder). Bound to one user.
 *
 * `write` is a compare-and-swap of exact values: every value it removes must be present and no
 * value it adds may be there already (another writer got in first: the stamp it read may have been
 * empty, and an empty set guards nothing), or it throws `ConflictError` and applies nothing. A
 * store may split a write too large for one request into several, each atomic, applying the
 * stamp change last.
 *
 * A store that cannot reach its server throws `CredroamError` with code `E_UNREACHABLE`: callers
 * then work offline.
 */

export interface DirectoryStore {
  /** Reads the change stamp only: the whole cost of a sync with nothing to do. */
  readStamp(): Promise<readonly Uint8Array[]>;
  read(): Promise<DirectorySnapshot>;
  /** Reads the stamp and the wrapped keys only (logon needs nothing else). */
  readKeys(): Promise<Pick<DirectorySnapshot, 'stamp' | 'keys'>>;
  write(change: DirectoryChange): Promise<void>;
  /** Releases connections. */
  close?(): Promise<void>;
}

/**
 * Seals and opens token payloads for the directory. `aad` binds the user, id, kind, flags and time:
 * a value moved to another user, re-labelled or re-dated fails to open. Private keys must come out
 * encrypted; certificates at least authenticated.
 */
export interface TokenProtector {
  seal(input: {
    readonly kind: TokenKind;
    readonly payload: Uint8Array;
    readonly aad: Uint8Array;
  }): Promise<Uint8Array>;
  /** Throws `AuthenticationError` for anything it did not seal with a key of this user. */
  open(input: {
    readonly kind: TokenKind;
    readonly sealed: Uint8Array;
    readonly aad: Uint8Array;
  }): Promise<Uint8Array>;
  /**
   * Logon: opens the user's keys with the roaming password; on first use, creates them. A wrong
   * password is an error that changes nothing. Protectors without passwords leave it out.
   */
  unlock?(input: {
    readonly password: string;
  }): Promise<{ readonly created: boolean; readonly offline: boolean }>;
  /**
   * Re-wraps the user's keys for a new password (`credroam passwd`). Without the old password the
   * keys must be unlocked already (a running agent's: a password change through PAM).
   */
  changePassword?(input: { readonly oldPassword?: string; readonly newPassword: string }): Promise<void>;
  /** Whether the keys are open (after `unlock`). */
  readonly unlocked?: boolean;
  /** After a password reset: opens the keys with the site's escrow private key, wraps them for a new password. */
  recover?(input: { readonly escrowPrivateKeyPem: string; readonly newPassword: string }): Promise<void>;
  /** Forgets unlocked keys. */
  lock?(): void;
}

export type TriggerEventName =
  | 'logon'
  | 'logoff'
  | 'lock'
  | 'unlock'
  | 'resume'
  | 'policyRefresh'
  | 'storeChanged';

export interface TriggerEvent {
  readonly name: TriggerEventName;
  /** The trigger contribution that fired. */
  readonly source: string;
  readonly at: number;
}

/** Something that tells the agent when to act. `start` returns what stops it. */
export interface Trigger {
  start(fire: (event: TriggerEvent) => void): Promise<Disposable>;
}

/**
 * Where the site's signed policy bundle comes from (a file, the user's or the site's directory
 * entry, an HTTPS server). A source only fetches: it never parses or trusts what it fetched. Core
 * verifies every bundle (signature and chain to the site's policy root, policy-signing EKU, site,
 * expiry, schema, rollback) and, when several sources are configured, the highest valid serial wins.
 */
export interface PolicySource {
  /**
   * The bundle's bytes (a CMS SignedData, DER) as the source holds them, or `undefined` when it
   * holds none. At most `POLICY_BUNDLE_MAX_BYTES`; a larger one is an error, not truncated. Throws
   * `CredroamError` `E_UNREACHABLE` when the source cannot be reached (the agent keeps the policy
   * in force).
   */
  fetch(): Promise<Uint8Array | undefined>;
}

/** The largest policy bundle a source hands over (256 KiB). */
export const POLICY_BUNDLE_MAX_BYTES = 262_144;

/** What a contribution factory is given when the agent selects that contribution. */
export interface ContributionRequest {
  /** The user being roamed (a login name or a DN, as the agent is configured). */
  readonly user: string;
  /** The settings the agent manifest gives this contribution (validated by the plugin). */
  readonly settings: Readonly<Record<string, unknown>>;
  /** This endpoint's data folder for the user (0700): local stores keep their files under it. */
  readonly home: string;
  /**
   * The site policy's section for this extension point (for protectors: `protection`; for directory
   * stores: `directory`, whose `trustWithPassword` says whether a bind may send the roaming
   * password). Read it when it matters, not once: the agent's policy refresh may change it.
   */
  readonly policy: Readonly<Record<string, unknown>>;
  /** The user's directory store: protectors keep wrapped keys on the user's entry. Not given to directory stores. */
  readonly directory?: DirectoryStore;
  /**
   * The user's roaming password, when the command at hand has it (a directory store binds with it
   * when the site uses one account password, as Windows does). Never logged, never stored.
   */
  readonly password?: () => Promise<string>;
}

export type ContributionFactory<T> = (request: ContributionRequest) => T | Promise<T>;

export const LocalStore = token<LocalStore>('LocalStore');
export const DirectoryStore = token<DirectoryStore>('DirectoryStore');
export const TokenProtector = token<TokenProtector>('TokenProtector');
export const Trigger = token<Trigger>('Trigger');
export const PolicySource = token<PolicySource>('PolicySource');

/** The extension points, each with the manifest key that declares its contributions. */
export const EXTENSION_POINTS = [
  { token: LocalStore, name: 'LocalStore', manifestKey: 'localStores', event: 'onLocalStore' },
  { token: DirectoryStore, name: 'DirectoryStore', manifestKey: 'directoryStores', event: 'onDirectory' },
  {
    token: TokenProtector,
    name: 'TokenProtector',
    manifestKey: 'tokenProtectors',
    event: 'onTokenProtector',
  },
  { token: Trigger, name: 'Trigger', manifestKey: 'triggers', event: 'onTrigger' },
  { token: PolicySource, name: 'PolicySource', manifestKey: 'policySources', event: 'onPolicySource' },
] as const;

export type ExtensionPointInfo = (typeof EXTENSION_POINTS)[number];
export type ManifestContributionKey = ExtensionPointInfo['manifestKey'];

export function extensionPointInfo(point: symbol): ExtensionPointInfo {
  const info = EXTENSION_POINTS.find((p) => p.token === point);
  if (!info) throw new TypeError(`not a credroam extension point: ${String(point)}`);
  return info;
}
