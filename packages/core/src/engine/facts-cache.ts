import type { TokenKind } from '../api/extension-points.js';
import type { ContentFacts, ContentInspector } from './inspect.js';
import { versionHash } from './token.js';

/**
 * What the inspector found in each content, by the content's hash, for the items of the last two
 * listings of the store (and what the directory held meanwhile): a long-lived agent parses a certificate or key once, not at every sync (a certificate's
 * parse and a key's public-key derivation are most of what reading a side costs). Failures are
 * not kept: content that does not parse is inspected again, and reported again.
 */
export class FactsCache {
  #current = new Map<string, ContentFacts>();
  #previous = new Map<string, ContentFacts>();

  constructor(private readonly inspector: ContentInspector) {}

  /** The store is listed again: what the listing before it did not see again is dropped. */
  turn(): void {
    this.#previous = this.#current;
    this.#current = new Map();
  }

  /** The facts of `content` (throws as the inspector does). */
  inspect(kind: TokenKind, content: Uint8Array): ContentFacts {
    const key = versionHash(kind, 0, content);
    let facts = this.#current.get(key) ?? this.#previous.get(key);
    if (facts === undefined) facts = this.inspector.inspect(kind, content);
    this.#current.set(key, facts);
    return facts;
  }
}
