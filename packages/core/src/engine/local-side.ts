import { errorMessage } from '../api/errors.js';
import { EventId } from '../api/events.js';
import type { LocalItem, TokenKind, UnreadableItem } from '../api/extension-points.js';
import type { RoamingPolicy } from '../policy/policy.js';
import { printable } from '../text/printable.js';
import type { FactsCache } from './facts-cache.js';
import type { LocalVersion } from './plan.js';
import type { SkippedItem } from './report.js';
import { isRoamedKind, TokenFlag, tokenKey, versionHash } from './token.js';

/** The local side of a sync, as the merge takes it. */
export interface LocalSide {
  readonly local: Map<string, LocalVersion>;
  /** Tokens this endpoint cannot read: nothing is written for them. */
  readonly handsOff: Set<string>;
  /** An entry without an id could not be read: no tombstone is written this sync. */
  readonly suppressTombstones: boolean;
  /** What was skipped on this side, with why. */
  readonly skipped: readonly SkippedItem[];
  /**
   * Taken from the last sync's record (`LocalSnapshot`), not read: the items' versions are known,
   * their content is not (empty). A plan that needs content reads the store.
   */
  readonly recorded: boolean;
}

/**
 * The local side as a sync read it, kept in the sync state: while the store's revision is the same
 * (no file in it was added, removed, replaced or touched), the next sync that reads both sides —
 * a logon's — takes the versions from here instead of opening and parsing every item again.
 */
export interface LocalSnapshot {
  /** The store's revision when it was read (`LocalStore.revision`). */
  readonly revision: string;
  /** By `kind:id`. */
  readonly versions: Readonly<Record<string, RecordedVersion>>;
  readonly handsOff: readonly string[];
  readonly suppressTombstones: boolean;
  readonly skipped: readonly SkippedItem[];
}

export interface RecordedVersion {
  readonly flags: number;
  readonly modified: number;
  readonly hash: string;
  readonly archived: boolean;
  readonly notAfter?: number;
}

const NO_CONTENT = new Uint8Array(0);
const HASH = /^[0-9a-f]{64}$/;

/**
 * The local side of a sync: every item's version, with its id checked against its content and
 * expired certificates archived (in memory; the engine writes them). Entries the store cannot read
 * are reported and kept out of the merge (never deleted).
 */
export function readLocal(
  items: readonly LocalItem[],
  unreadable: readonly UnreadableItem[],
  deps: { readonly inspector: FactsCache; readonly policy: RoamingPolicy; readonly now: number },
): LocalSide {
  const local = new Map<string, LocalVersion>();
  const handsOff = new Set<string>();
  const skipped: SkippedItem[] = [];
  let suppressTombstones = false;
  for (const u of unreadable) {
    if (u.kind && u.id) handsOff.add(tokenKey(u.kind, u.id));
    else suppressTombstones = true;
    skipped.push({
      where: 'local',
      ...(u.kind ? { kind: u.kind } : {}),
      ...(u.id ? { id: u.id } : {}),
      event: EventId.LocalItemUnreadable,
      // The store's names and reasons hold what others chose (a file name in the store's folder).
      reason: `${printable(u.name)}: ${printable(u.reason)} (left untouched)`,
    });
  }
  for (const item of items) {
    const key = tokenKey(item.kind, item.id);
    let notAfter: number | undefined;
    let plainHash: string;
    try {
      const { facts, hash } = deps.inspector.inspect(item.kind, item.content);
      if (facts.id !== item.id) throw new Error(`its content has id ${facts.id}`);
      notAfter = facts.notAfter;
      plainHash = hash;
    } catch (error) {
      handsOff.add(key);
      skipped.push({
        where: 'local',
        kind: item.kind,
        id: item.id,
        event: EventId.LocalItemUnreadable,
        reason: `unusable local ${item.kind}: ${errorMessage(error)} (left untouched)`,
      });
      continue;
    }
    const archived = item.archived || expiring(item.kind, item.archived, notAfter, deps);
    const flags = archived ? TokenFlag.Archived : 0;
    local.set(
      key,
      versionOf(
        item,
        { flags, hash: flags === 0 ? plainHash : versionHash(item.kind, flags, item.content), notAfter },
        deps.now,
      ),
    );
  }
  return { local, handsOff, suppressTombstones, skipped, recorded: false };
}

/** What a sync keeps of the side it read (only a side that was read, and that it did not write). */
export function snapshotOf(side: LocalSide, revision: string): LocalSnapshot {
  const versions: Record<string, RecordedVersion> = {};
  for (const [key, l] of side.local) {
    const v = l.version;
    versions[key] = {
      flags: v.flags,
      modified: v.modified,
      hash: v.hash,
      archived: l.item.archived,
      ...(l.notAfter !== undefined ? { notAfter: l.notAfter } : {}),
    };
  }
  return {
    revision,
    versions,
    handsOff: [...side.handsOff].sort(),
    suppressTombstones: side.suppressTombstones,
    skipped: side.skipped,
  };
}

/**
 * The local side from the last sync's record. Undefined when a certificate expired since (archiving
 * it needs its content) or when the record is not one this version wrote (a hand-edited or damaged
 * state): the store is read instead.
 */
export function recordedLocal(
  snapshot: LocalSnapshot,
  deps: { readonly policy: RoamingPolicy; readonly now: number },
): LocalSide | undefined {
  if (!wellFormed(snapshot)) return undefined;
  const local = new Map<string, LocalVersion>();
  for (const [key, r] of Object.entries(snapshot.versions)) {
    const at = key.indexOf(':');
    const kind = key.slice(0, at) as TokenKind;
    const id = key.slice(at + 1);
    if (!isRoamedKind(kind) || !HASH.test(id) || !wellFormedVersion(r)) return undefined;
    // An item archived now changes version: its hash is unknown without its content, and the
    // plan that archives it needs the content anyway (it is written), so the store is read.
    if (expiring(kind, r.archived, r.notAfter, deps)) return undefined;
    const item: LocalItem = { kind, id, content: NO_CONTENT, archived: r.archived, modified: r.modified };
    local.set(key, versionOf(item, { flags: r.flags, hash: r.hash, notAfter: r.notAfter }, deps.now));
  }
  return {
    local,
    handsOff: new Set(snapshot.handsOff),
    suppressTombstones: snapshot.suppressTombstones,
    skipped: snapshot.skipped,
    recorded: true,
  };
}

/** Whether this sync archives an expired certificate (policy `archiveExpired`). */
function expiring(
  kind: TokenKind,
  archived: boolean,
  notAfter: number | undefined,
  deps: { readonly policy: RoamingPolicy; readonly now: number },
): boolean {
  return (
    deps.policy.archiveExpired &&
    kind === 'cert' &&
    !archived &&
    notAfter !== undefined &&
    notAfter < deps.now
  );
}

function versionOf(
  item: LocalItem,
  v: { readonly flags: number; readonly hash: string; readonly notAfter: number | undefined },
  now: number,
): LocalVersion {
  const archivedNow = (v.flags & TokenFlag.Archived) !== 0 && !item.archived;
  return {
    item: archivedNow ? { ...item, archived: true, modified: now } : item,
    archivedNow,
    ...(v.notAfter !== undefined ? { notAfter: v.notAfter } : {}),
    version: {
      kind: item.kind,
      id: item.id,
      flags: v.flags,
      modified: archivedNow ? now : item.modified,
      hash: v.hash,
    },
  };
}

function wellFormed(s: LocalSnapshot): boolean {
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof s.versions === 'object' &&
    s.versions !== null &&
    Array.isArray(s.handsOff) &&
    s.handsOff.every((k) => typeof k === 'string') &&
    typeof s.suppressTombstones === 'boolean' &&
    Array.isArray(s.skipped) &&
    s.skipped.every(wellFormedSkipped)
  );
}

/** What `readLocal` skips: a local item it could not read, with why (reports and events show it as it is). */
function wellFormedSkipped(s: SkippedItem): boolean {
  return (
    typeof s === 'object' &&
    s !== null &&
    s.where === 'local' &&
    s.event === EventId.LocalItemUnreadable &&
    typeof s.reason === 'string' &&
    (s.kind === undefined || isRoamedKind(s.kind)) &&
    (s.id === undefined || typeof s.id === 'string')
  );
}

function wellFormedVersion(r: RecordedVersion): boolean {
  return (
    typeof r === 'object' &&
    r !== null &&
    (r.flags === 0 || r.flags === TokenFlag.Archived) &&
    (r.flags === TokenFlag.Archived) === r.archived &&
    Number.isFinite(r.modified) &&
    typeof r.hash === 'string' &&
    HASH.test(r.hash) &&
    typeof r.archived === 'boolean' &&
    (r.notAfter === undefined || Number.isFinite(r.notAfter))
  );
}
