import type { TokenKind } from '../token-kind.js';
import { extensionPointToken } from './extension-point.js';

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
   * their canonical encoding (`encodeCredentialAttributes`). Never changed once handed out: the
   * engine keeps what it learned of a content by its object (a store may hand out the same object
   * again for an unchanged item, and saves the engine a parse).
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

/** How `put` writes. */
export interface PutOptions {
  /**
   * `false` (given only to a store that has `flush`): the write may be held back until the next
   * `flush`, which makes a whole batch durable at once. It is atomic all the same, but until
   * `flush` resolves the item may not be listed yet, and a crash may leave it as it was. A store
   * without `flush` ignores it. Default `true`: the write is durable when `put` resolves.
   */
  readonly durable?: boolean;
}

/**
 * The user's credential store on the endpoint. Writes are atomic and owner-only; links are not
 * followed; an entry it cannot read is reported in `unreadable` and never deleted.
 */
export interface LocalStore {
  /** A cheap value that changes whenever the store's contents change (also by other processes). */
  revision(): Promise<string>;
  list(): Promise<LocalListing>;
  /**
   * Optional: one item by kind and id, without listing (or decrypting) the rest; `undefined` when
   * the store holds none. Throws when it holds one it cannot read (keys locked, a damaged file):
   * the error says why, as `list` would in `unreadable`.
   */
  get?(kind: TokenKind, id: string): Promise<LocalItem | undefined>;
  /** Adds or replaces an item (content and `archived` flag). */
  put(item: LocalItem, options?: PutOptions): Promise<void>;
  /**
   * Optional: makes every write since the last `flush` (`put` with `durable: false`; removals)
   * take effect and survive a crash or a power cut, at once, in the order they were made; resolves
   * when they have. A store without it makes each write durable in `put`. On an error some writes
   * may have taken effect and others not: each item is whole, as it was or as written.
   */
  flush?(): Promise<void>;
  /**
   * Optional, with `flush`: drops the writes held since the last `flush` without making them take
   * effect (a sync whose lock was lost while it wrote: decision 031). A store without it keeps
   * them for its next `flush`.
   */
  discard?(): Promise<void>;
  /**
   * Removes an item from the active set; a missing item is not an error. With `keepUntil` the
   * store keeps it in its archive until then (a deletion that roamed in can be undone by hand).
   */
  remove(kind: TokenKind, id: string, options?: { readonly keepUntil?: number }): Promise<void>;
}

export const LocalStore = extensionPointToken<LocalStore>('LocalStore');
