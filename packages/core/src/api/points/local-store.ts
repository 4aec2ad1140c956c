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

export const LocalStore = extensionPointToken<LocalStore>('LocalStore');
