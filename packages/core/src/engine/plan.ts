import type { LocalItem, TokenKind } from '../api/extension-points.js';
import { certificateKeyId } from './certificate.js';
import { type BaseEntry, compareVersions, type MergeAction, mergeToken } from './merge.js';
import { isTombstone, type TokenVersion } from './token.js';

/** A directory value that decoded, authenticated and passed every bound. */
export interface DirectoryValue {
  readonly version: TokenVersion;
  /** The encoded value, exactly as the directory holds it (what a compare-and-swap removes). */
  readonly value: Uint8Array;
  /** SHA-256 of `value`: the last tie-break between values, and the authentication cache key. */
  readonly valueHash: string;
}

export interface LocalVersion {
  readonly version: TokenVersion;
  readonly item: LocalItem;
  /** The engine archived this expired certificate during this sync. */
  readonly archivedNow: boolean;
  /** Certificates: the end of validity (ms). */
  readonly notAfter?: number;
}

export type PlanAction = MergeAction | 'prune';

/** One token's fate in a sync. */
export interface PlanEntry {
  readonly key: string;
  readonly kind: TokenKind;
  readonly id: string;
  readonly action: PlanAction;
  readonly reason: string;
  readonly conflict: boolean;
  readonly local?: LocalVersion;
  /** The directory's winning value, when one counts. */
  readonly remote?: DirectoryValue;
  readonly base?: BaseEntry;
  /** Directory values to remove in the write: losers, the replaced value, a pruned tombstone. */
  readonly remove: readonly Uint8Array[];
  /** The newest `modified` among the id's directory values and base: a new value is dated after it. */
  readonly floor: number;
  /** An expired tombstone leaves the directory in this write, and the base forgets the id. */
  readonly pruned: boolean;
}

export interface PlanInput {
  readonly local: ReadonlyMap<string, LocalVersion>;
  readonly directory: ReadonlyMap<string, readonly DirectoryValue[]>;
  readonly base: ReadonlyMap<string, BaseEntry>;
  readonly now: number;
  readonly tombstoneLifetimeMs: number;
  readonly maxTokens: number;
  /** Keys never acted on (unreadable local entries). */
  readonly handsOff: ReadonlySet<string>;
  /** Write no tombstones: the local store has unreadable entries whose ids are unknown. */
  readonly suppressTombstones: boolean;
  /** The directory values opened by this sync, by value hash: the certificates it downloads. */
  readonly contents?: ReadonlyMap<string, Uint8Array>;
}

export interface PlanOutput {
  readonly entries: readonly PlanEntry[];
  /** Keys whose directory winner is older than the base: a lagging server or a replay (event 1016). */
  readonly stale: readonly string[];
  /** Uploads refused by the token-count limit (event 1008). */
  readonly overLimit: readonly string[];
  /**
   * Attributes held back because their certificate does not travel with them (event 1050):
   * `directory` ones not downloaded, `local` ones not uploaded. No entry is planned for them.
   */
  readonly orphaned: ReadonlyArray<{ readonly key: string; readonly where: 'directory' | 'local' }>;
}

/** Several values for one id: the greatest in `compareVersions` order, then by bytes. Any order in, one winner out. */
export function pickWinner(values: readonly DirectoryValue[]): DirectoryValue | undefined {
  let best: DirectoryValue | undefined;
  for (const v of values) {
    if (best === undefined) best = v;
    else {
      const c = compareVersions(v.version, best.version);
      if (c > 0 || (c === 0 && v.valueHash > best.valueHash)) best = v;
    }
  }
  return best;
}

const splitKey = (key: string): [TokenKind, string] => {
  const i = key.indexOf(':');
  return [key.slice(0, i) as TokenKind, key.slice(i + 1)];
};

/**
 * Plans a sync: one merge decision per token id across the local store, the directory and the
 * base, plus the values the write must remove. Pure and linear in the number of tokens.
 */
export function planSync(input: PlanInput): PlanOutput {
  const keys = new Set<string>(input.local.keys());
  for (const k of input.directory.keys()) keys.add(k);
  for (const k of input.base.keys()) keys.add(k);
  const entries: Array<{ -readonly [P in keyof PlanEntry]: PlanEntry[P] }> = [];
  const stale: string[] = [];
  const newUploads: number[] = [];
  const keyValues = new Map<string, readonly DirectoryValue[]>();
  let valueCount = 0;
  for (const values of input.directory.values()) if (values.length > 0) valueCount++;

  for (const key of keys) {
    if (input.handsOff.has(key)) continue;
    const [kind, id] = splitKey(key);
    const values = input.directory.get(key) ?? [];
    if (kind === 'key') keyValues.set(key, values);
    const base = input.base.get(key);
    const local = input.local.get(key);
    let remote = pickWinner(values);
    if (remote && base && remote.version.hash !== base.hash && compareVersions(base, remote.version) > 0) {
      stale.push(key);
      remote = undefined; // older than what this endpoint already saw: as if absent, and replaced
    }
    let floor = base?.modified ?? 0;
    for (const v of values) floor = Math.max(floor, v.version.modified);

    const merged = mergeToken({
      kind,
      local: local?.version,
      remote: remote?.version,
      base,
      now: input.now,
      tombstoneLifetimeMs: input.tombstoneLifetimeMs,
    });
    let action: PlanAction = merged.action;
    let reason = merged.reason;
    const conflict = merged.conflict;
    if (action === 'tombstone' && input.suppressTombstones) {
      action = 'none';
      reason = 'tombstone held back: the local store has entries it cannot read';
    }
    if (action === 'upload' && values.length === 0) newUploads.push(entries.length);

    const tombstoneExpired =
      remote !== undefined &&
      isTombstone(remote.version) &&
      input.now - remote.version.modified > input.tombstoneLifetimeMs;
    if (tombstoneExpired && action === 'none') {
      action = 'prune';
      reason = 'tombstone lifetime over';
    }

    let remove: readonly Uint8Array[];
    if (
      action === 'upload' ||
      action === 'tombstone' ||
      action === 'forget' ||
      action === 'prune' ||
      tombstoneExpired
    ) {
      remove = values.map((v) => v.value);
    } else {
      remove = values.filter((v) => v !== remote).map((v) => v.value);
    }
    entries.push({
      key,
      kind,
      id,
      action,
      reason,
      conflict,
      ...(local ? { local } : {}),
      ...(remote ? { remote } : {}),
      ...(base ? { base } : {}),
      remove,
      floor,
      pruned: tombstoneExpired && (action === 'prune' || action === 'remove-local'),
    });
  }

  // R13: new tokens beyond the limit are refused, the same ones on every run (certificates, then
  // keys, then attributes; by id within a kind).
  const overLimit: string[] = [];
  const room = Math.max(0, input.maxTokens - valueCount);
  if (newUploads.length > room) {
    const rank = (e: PlanEntry) => KIND_RANK[e.kind] ?? 9;
    newUploads.sort((a, b) => {
      const [ea, eb] = [entries[a]!, entries[b]!];
      return rank(ea) !== rank(eb) ? rank(ea) - rank(eb) : ea.key < eb.key ? -1 : 1;
    });
    for (const i of newUploads.slice(room)) {
      const e = entries[i]!;
      e.action = 'none';
      e.reason = `not uploaded: the directory holds the maximum of ${input.maxTokens} tokens`;
      e.remove = [];
      overLimit.push(e.key);
    }
  }
  keepKeysInUse(entries, keyValues, input.contents);
  const orphaned = holdBackOrphans(entries);
  const held = new Set(orphaned.map((o) => o.key));
  return { entries: entries.filter((e) => !held.has(e.key)), stale, overLimit, orphaned };
}

const KIND_RANK: Readonly<Record<string, number>> = { cert: 0, key: 1, attrs: 2 };

/**
 * A private key a certificate here uses after this sync (one held, or downloaded now; archived
 * too) is neither deleted nor removed: a deletion of the key made where that certificate was not
 * yet known (an endpoint that had not met it, a lagging server, a directory writer who hid its
 * value meanwhile) would cost it its key on every endpoint. A key deleted here is put back from
 * the directory; while the directory has no live value of it, its deletion waits (no tombstone).
 * One deleted elsewhere stays here, its base as it was (so the next sync decides the same), and is
 * not written back: a writer who deleted a certificate's tombstone and replayed its value would
 * otherwise have an endpoint behind bring a key the user deleted back everywhere.
 */
function keepKeysInUse(
  entries: Array<{ -readonly [P in keyof PlanEntry]: PlanEntry[P] }>,
  keyValues: ReadonlyMap<string, readonly DirectoryValue[]>,
  contents: ReadonlyMap<string, Uint8Array> | undefined,
): void {
  const deleting = entries.filter(
    (e) => e.kind === 'key' && (e.action === 'tombstone' || e.action === 'remove-local'),
  );
  if (deleting.length === 0) return;
  const used = new Set<string>();
  for (const e of entries) {
    if (e.kind !== 'cert') continue;
    const content =
      e.action === 'download'
        ? e.remote && contents?.get(e.remote.valueHash)
        : e.local && e.action !== 'remove-local'
          ? e.local.item.content
          : undefined;
    if (!content || content.length === 0) continue; // a recorded side: the store is read first
    const keyId = certificateKeyId(content);
    if (keyId !== undefined) used.add(keyId);
  }
  for (const e of deleting) {
    if (!used.has(e.id)) continue;
    const values = keyValues.get(e.key) ?? [];
    if (e.action === 'tombstone' && e.remote && !isTombstone(e.remote.version)) {
      e.action = 'download';
      e.reason = 'deleted here, but a certificate here uses it: put back';
      e.conflict = true;
      e.remove = values.filter((v) => v !== e.remote).map((v) => v.value);
    } else if (e.action === 'tombstone') {
      // No live value to put back now (a writer deleted it, a lagging server lacks it): the
      // deletion does not roam either; the base stays, and the key comes back with its value
      // (an endpoint that holds it writes it again).
      e.action = 'none';
      e.reason =
        'deleted here, but a certificate here uses it: not deleted, put back once the directory has it';
      e.conflict = true;
      e.remove = [];
    } else if (e.action === 'remove-local') {
      e.action = 'none';
      e.reason = 'deleted elsewhere, but a certificate here uses it: kept here';
      e.conflict = true;
      delete e.remote; // the base stays the key's: not taken for the tombstone
      e.remove = [];
      e.pruned = false;
    }
  }
}

/**
 * Attributes move only with their certificate (same id): a download only when the certificate is
 * here after this sync, an upload only when it is live in the directory after it. Anything else
 * (attributes for a certificate the user does not have, a certificate held back, unreadable or
 * over the limit) is left exactly as it is on both sides, base included, and reported; it follows
 * once the certificate does. Deletions of attributes are never held back.
 */
function holdBackOrphans(
  entries: readonly PlanEntry[],
): Array<{ readonly key: string; readonly where: 'directory' | 'local' }> {
  const certs = new Map<string, PlanEntry>();
  for (const e of entries) if (e.kind === 'cert') certs.set(e.id, e);
  const out: Array<{ key: string; where: 'directory' | 'local' }> = [];
  for (const e of entries) {
    if (e.kind !== 'attrs') continue;
    const cert = certs.get(e.id);
    if (e.action === 'download') {
      const heldAfter =
        cert !== undefined &&
        (cert.action === 'download' || (cert.local !== undefined && cert.action !== 'remove-local'));
      if (!heldAfter) out.push({ key: e.key, where: 'directory' });
    } else if (e.action === 'upload') {
      const liveAfter =
        cert !== undefined &&
        (cert.action === 'upload' ||
          (cert.remote !== undefined &&
            !isTombstone(cert.remote.version) &&
            cert.action !== 'tombstone' &&
            cert.action !== 'prune'));
      if (!liveAfter) out.push({ key: e.key, where: 'local' });
    }
  }
  return out;
}
