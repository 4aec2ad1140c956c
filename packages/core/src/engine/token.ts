import { createHash } from 'node:crypto';
import type { TokenKind } from '../api/extension-points.js';

/** Token flags, one bit each. Unknown bits make a token malformed. */
export const TokenFlag = {
  Tombstone: 1,
  Archived: 2,
  Unroamable: 4,
} as const;
export const KNOWN_FLAGS = TokenFlag.Tombstone | TokenFlag.Archived | TokenFlag.Unroamable;

/**
 * Every kind a token value in the directory may be: the roamed ones (`TokenKind`, merged by the
 * engine) and enrollment's own, which the engine leaves alone (`enroll/tokens.ts` reads them).
 */
export type WireKind = TokenKind | 'request' | 'claim';

/** Wire codes of the token kinds. A code this version does not know is skipped, never acted on. */
export const KIND_CODES: Readonly<Record<WireKind, number>> = {
  cert: 1,
  key: 2,
  attrs: 3,
  request: 4,
  claim: 5,
};
export const KIND_BY_CODE: ReadonlyMap<number, WireKind> = new Map(
  Object.entries(KIND_CODES).map(([k, c]) => [c, k as WireKind]),
);

/** Whether a kind is one the engine merges (what a local store holds). */
export const isRoamedKind = (kind: WireKind): kind is TokenKind =>
  kind === 'cert' || kind === 'key' || kind === 'attrs';

/** A point in the order of versions: `modified` first, then the version hash. */
export interface VersionKey {
  readonly modified: number;
  readonly hash: string;
}

/** The state of one token id on one side: what it is, when it last changed, and how it compares. */
export interface TokenVersion {
  readonly kind: TokenKind;
  readonly id: string;
  readonly flags: number;
  /** ms since the epoch. Breaks true conflicts only; never decides "which side changed". */
  readonly modified: number;
  /** SHA-256 over kind, flags and content: equal hashes are equal versions. */
  readonly hash: string;
  /** Tombstones: the version they deleted. */
  readonly superseded?: VersionKey;
}

export const isTombstone = (v: { flags: number }): boolean => (v.flags & TokenFlag.Tombstone) !== 0;
export const tokenKey = (kind: WireKind, id: string): string => `${kind}:${id}`;

/** The version hash: SHA-256 over (kind code, flags without time, content). */
export function versionHash(kind: WireKind, flags: number, content: Uint8Array): string {
  return createHash('sha256')
    .update(Uint8Array.of(KIND_CODES[kind], flags & 0xff))
    .update(content)
    .digest('hex');
}
