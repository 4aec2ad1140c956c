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
  /**
   * By the content's bytes object: a store that hands out the same object for a file that did not
   * change (the folder store does, within a process) costs not even a hash.
   */
  #byObject = new WeakMap<
    Uint8Array,
    { readonly kind: TokenKind; readonly hash: string; readonly facts: ContentFacts }
  >();

  constructor(private readonly inspector: ContentInspector) {}

  /** The store is listed again: what the listing before it did not see again is dropped. */
  turn(): void {
    this.#previous = this.#current;
    this.#current = new Map();
  }

  /**
   * The facts of `content` (throws as the inspector does), and its version hash without flags
   * (`versionHash(kind, 0, content)`), which is also the key they are kept under.
   */
  inspect(kind: TokenKind, content: Uint8Array): { readonly facts: ContentFacts; readonly hash: string } {
    const known = this.#byObject.get(content);
    if (known !== undefined && known.kind === kind) {
      this.#current.set(known.hash, known.facts);
      return known;
    }
    const hash = versionHash(kind, 0, content);
    let facts = this.#current.get(hash) ?? this.#previous.get(hash);
    if (facts === undefined) facts = this.inspector.inspect(kind, content);
    this.#current.set(hash, facts);
    const found = { kind, hash, facts };
    this.#byObject.set(content, found);
    return found;
  }
}
