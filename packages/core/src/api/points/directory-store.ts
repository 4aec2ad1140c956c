import { extensionPointToken } from './extension-point.js';

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
  /**
   * Reads attributes of the user's entry as text (an LDAP `mail`, `displayName`): what enrollment
   * profiles' `{attr:NAME}` templates are filled with. An attribute the entry lacks is absent from
   * the result. Optional: a store without attributes (the embedded folder) leaves it out.
   */
  readAttributes?(names: readonly string[]): Promise<Readonly<Record<string, readonly string[]>>>;
  /** Releases connections. */
  close?(): Promise<void>;
}

export const DirectoryStore = extensionPointToken<DirectoryStore>('DirectoryStore');
