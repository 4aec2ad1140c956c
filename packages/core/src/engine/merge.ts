import type { TokenKind } from '../api/extension-points.js';
import { isTombstone, TokenFlag, type TokenVersion, type VersionKey, versionHash } from './token.js';

/** What the endpoint remembers of a token from the last sync that completed: the base B. */
export interface BaseEntry {
  readonly hash: string;
  readonly modified: number;
  readonly flags: number;
  /** SHA-256 of the encoded directory value last seen: identical bytes need no second authentication. */
  readonly valueHash?: string;
  /** Tombstones: the version they deleted. */
  readonly superseded?: VersionKey;
}

/** What `compareVersions` needs of a version. */
export interface Ranked {
  readonly modified: number;
  readonly hash: string;
  readonly flags: number;
  readonly superseded?: VersionKey;
}

/**
 * The one order of versions that every endpoint applies (docs/decisions/002-merge-order.md). A
 * live version sits at (modified, hash); a tombstone sits just after the version it deleted. So a
 * deletion beats exactly the versions its author knew of, and a newer change beats the deletion.
 * Causal successors are always later: a writer dates a new value after everything it saw.
 */
export function compareVersions(a: Ranked, b: Ranked): number {
  const ka = rankKey(a);
  const kb = rankKey(b);
  if (ka.modified !== kb.modified) return ka.modified < kb.modified ? -1 : 1;
  if (ka.hash !== kb.hash) return ka.hash < kb.hash ? -1 : 1;
  const ta = isTombstone(a) ? 1 : 0;
  const tb = isTombstone(b) ? 1 : 0;
  if (ta !== tb) return ta - tb;
  if (a.modified !== b.modified) return a.modified < b.modified ? -1 : 1;
  return 0;
}

const NOTHING: VersionKey = { modified: 0, hash: '' };
const rankKey = (v: Ranked): VersionKey => (isTombstone(v) ? (v.superseded ?? NOTHING) : v);

export type MergeAction =
  /** Both sides agree (or the directory holds a tombstone the endpoint already honours). */
  | 'none'
  /** Write the local version to the directory. */
  | 'upload'
  /** Write the directory version to the local store. */
  | 'download'
  /** Write a tombstone to the directory. */
  | 'tombstone'
  /** Remove the local copy (kept in the store's archive for the tombstone lifetime). */
  | 'remove-local'
  /** Drop the base entry of a tombstone that is gone from the directory after its lifetime. */
  | 'forget';

export interface MergeDecision {
  readonly action: MergeAction;
  /** Both sides changed since the base: resolved by time, recorded as a conflict event (501). */
  readonly conflict: boolean;
  /** Why, in words an administrator reads in `sync --dry-run`. */
  readonly reason: string;
}

export interface MergeInput {
  readonly kind: TokenKind;
  /** The local version; undefined when the endpoint does not hold the token. */
  readonly local?: TokenVersion;
  /** The directory's winning value (possibly a tombstone); undefined when it holds none. */
  readonly remote?: TokenVersion;
  readonly base?: BaseEntry;
  readonly now: number;
  readonly tombstoneLifetimeMs: number;
}

/** The hash every tombstone of a kind has: the local state "not held" compares equal to it. */
const TOMBSTONE_HASHES = new Map<TokenKind, string>();

export function tombstoneHash(kind: TokenKind): string {
  let hash = TOMBSTONE_HASHES.get(kind);
  if (hash === undefined) {
    hash = versionHash(kind, TokenFlag.Tombstone, new Uint8Array(0));
    TOMBSTONE_HASHES.set(kind, hash);
  }
  return hash;
}

const decision = (action: MergeAction, reason: string, conflict = false): MergeDecision => ({
  action,
  reason,
  conflict,
});

/** Newest `modified` wins; equal times: the larger content hash. Same answer on every endpoint. */
export function newer(a: TokenVersion, b: TokenVersion): boolean {
  if (a.modified !== b.modified) return a.modified > b.modified;
  return a.hash > b.hash;
}

/**
 * The three-way merge of one token (docs/design.md §4). Decides from content hashes which side changed
 * since the base; times only break true conflicts. A change beats a deletion.
 */
export function mergeToken(input: MergeInput): MergeDecision {
  const { local: L, remote: R, base: B, kind } = input;
  const tomb = tombstoneHash(kind);
  const localHash = L?.hash ?? tomb; // not held locally compares equal to a tombstone

  if (R === undefined) {
    if (L !== undefined) {
      return decision(
        'upload',
        B === undefined ? 'new on this endpoint' : 'missing from the directory: upload again',
      );
    }
    if (B === undefined) return decision('none', 'nowhere');
    if (!isTombstone(B)) return decision('tombstone', 'deleted on this endpoint');
    if (input.now - B.modified > input.tombstoneLifetimeMs)
      return decision('forget', 'tombstone lifetime over');
    return decision('tombstone', 'tombstone missing from the directory: write it again');
  }

  if (isTombstone(R)) {
    if (L === undefined) return decision('none', 'deleted everywhere');
    if (B !== undefined && isTombstone(B)) return decision('upload', 'added again on this endpoint');
    // A copy this endpoint held at its base is what the deletion's author knew of: it goes, whatever
    // its date (versions compare by content; a touched file is not a change).
    if (B !== undefined && localHash === B.hash)
      return decision('remove-local', 'deleted on another endpoint');
    // Below, the base does not hold the local copy. A tombstone past its lifetime no longer roams a
    // deletion to such a copy (R12): had it been pruned on time, the copy would simply be uploaded;
    // and a directory writer may replay an old one.
    if (input.now - R.modified > input.tombstoneLifetimeMs) {
      return decision('upload', 'deleted elsewhere longer ago than the tombstone lifetime: kept', true);
    }
    // The very version the tombstone deleted (a download whose sync died before it recorded the
    // base; a new endpoint that holds the same bytes) goes only if it is not dated after the
    // tombstone: a downloaded copy keeps the date of the version it copies, earlier than any
    // deletion of it, while a copy added after the deletion (imported again, or met by a replayed
    // tombstone) is a change after it, and a change beats a deletion (docs/design.md §4).
    if (R.superseded?.hash === localHash) {
      return L.modified > R.modified
        ? decision('upload', 'added here after it was deleted elsewhere: a change beats a deletion', true)
        : decision('remove-local', 'deleted on another endpoint (this very version)');
    }
    if (B !== undefined) {
      return decision(
        'upload',
        'changed here after it was deleted elsewhere: a change beats a deletion',
        true,
      );
    }
    return compareVersions(L, R) > 0
      ? decision('upload', 'newer here than the version deleted elsewhere', true)
      : decision('remove-local', 'deleted on another endpoint');
  }

  // R is a live value.
  if (L === undefined) {
    if (B === undefined) return decision('download', 'new in the directory');
    if (B.hash === R.hash) return decision('tombstone', 'deleted on this endpoint');
    return decision(
      'download',
      isTombstone(B)
        ? 'added again on another endpoint'
        : 'changed elsewhere after it was deleted here: a change beats a deletion',
      !isTombstone(B),
    );
  }
  if (L.hash === R.hash) return decision('none', 'equal');
  if (B !== undefined && localHash === B.hash) return decision('download', 'changed in the directory');
  if (B !== undefined && R.hash === B.hash) return decision('upload', 'changed on this endpoint');
  return newer(L, R)
    ? decision('upload', 'changed on both sides: this endpoint is newer', true)
    : decision('download', 'changed on both sides: the directory is newer', true);
}
