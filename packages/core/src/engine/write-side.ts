import { createHash } from 'node:crypto';
import { errorMessage } from '../api/errors.js';
import { EventId } from '../api/events.js';
import type { LocalStore, TokenProtector } from '../api/extension-points.js';
import type { RoamingPolicy } from '../policy/policy.js';
import { associatedData, decodeHeader, encodeHeader, encodeToken } from './codec.js';
import { type BaseEntry, tombstoneHash } from './merge.js';
import type { LocalVersion, PlanEntry } from './plan.js';
import type { SkippedItem } from './report.js';
import { isTombstone, TokenFlag, versionHash } from './token.js';

/** Local writes in flight at once when the store makes them durable together (`flush`). */
const LOCAL_WRITES_AT_ONCE = 16;

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** What the directory write of a sync is made of. */
export interface DirectoryWrite {
  readonly remove: Uint8Array[];
  readonly add: Uint8Array[];
  /** The base each written token gets once the write landed, by `kind:id`. */
  readonly written: Map<string, BaseEntry>;
}

/** The values to remove and add for the entries acted on, each new one sealed for `user`. */
export async function directoryWrite(
  acting: readonly PlanEntry[],
  deps: { readonly protector: TokenProtector; readonly user: string; readonly now: number },
): Promise<DirectoryWrite> {
  const written = new Map<string, BaseEntry>();
  const remove: Uint8Array[] = [];
  const add: Uint8Array[] = [];
  for (const e of acting) {
    remove.push(...e.remove);
    const value = await sealFor(e, deps);
    if (value) {
      add.push(value.value);
      written.set(e.key, value.base);
    }
  }
  return { remove, add, written };
}

/** The sealed value an upload or a tombstone writes, and the base it makes; none for other actions. */
async function sealFor(
  e: PlanEntry,
  deps: { readonly protector: TokenProtector; readonly user: string; readonly now: number },
): Promise<{ value: Uint8Array; base: BaseEntry } | undefined> {
  let flags: number;
  let content: Uint8Array;
  let modified: number;
  let superseded: BaseEntry['superseded'];
  // A version written again (lost from, or rolled back in, the directory) keeps its date: it is
  // the same version, and must not look newer than what a deletion of it superseded. A new
  // version is dated after everything this endpoint saw of the token.
  const again =
    e.base !== undefined &&
    (e.action === 'upload' ? e.local?.version.hash : tombstoneHash(e.kind)) === e.base.hash;
  if (e.action === 'upload' && e.local) {
    flags = e.local.version.flags;
    content = e.local.item.content;
    modified = again ? e.base!.modified : Math.max(e.local.version.modified, e.floor + 1);
  } else if (e.action === 'tombstone') {
    flags = TokenFlag.Tombstone;
    content = new Uint8Array(0);
    modified = again ? e.base!.modified : Math.max(deps.now, e.floor + 1);
    // What this endpoint deletes: its base, or (writing a lost tombstone again) what that deleted.
    superseded = again ? e.base!.superseded : { modified: e.base!.modified, hash: e.base!.hash };
  } else {
    return undefined;
  }
  // The associated data leaves out the payload length, which is known only after sealing.
  const fields = { kind: e.kind, flags, modified, id: e.id, ...(superseded ? { superseded } : {}) };
  const unsized = encodeHeader({ ...fields, payloadLength: 0 });
  const sealed = await deps.protector.seal({
    kind: e.kind,
    payload: content,
    aad: associatedData(deps.user, unsized),
  });
  const value = encodeToken(encodeHeader({ ...fields, payloadLength: sealed.length }), sealed);
  return {
    value,
    base: {
      hash: versionHash(e.kind, flags, content),
      modified,
      flags,
      valueHash: sha256(value),
      ...(superseded ? { superseded } : {}),
    },
  };
}

export interface LocalWriteDeps {
  readonly local: LocalStore;
  readonly protector: TokenProtector;
  readonly user: string;
  readonly policy: RoamingPolicy;
  /** Contents the directory side opened, by value hash (a download reads its content from here). */
  readonly contents: ReadonlyMap<string, Uint8Array>;
  readonly now: () => number;
  /**
   * Throws once the sync lock is lost (`LockHeld.throwIfLost`): checked before each write to the
   * store and before the flush, whose held writes are then dropped (`discard`), never applied.
   */
  readonly throwIfLost?: () => void;
}

/**
 * The local store's part of a sync. A store that can (`flush`) takes every write held back and
 * makes them durable at once, before the caller saves the base: a crash before the flush ends
 * leaves each item as it was or as written, and the base as it was, so the next sync finds them
 * equal or writes them again. An entry the store refuses is skipped (reported), not fatal.
 */
export async function writeLocal(
  acting: readonly PlanEntry[],
  deps: LocalWriteDeps,
  skipped: SkippedItem[],
): Promise<{ readonly written: boolean; readonly failed: ReadonlySet<string> }> {
  const durable = deps.local.flush === undefined;
  // Held back for one flush, the writes are independent of each other: several at a time, so the
  // store's file calls overlap with each other and with the opening of the next tokens.
  const outcomes = new Array<{ written: boolean } | { error: unknown }>(acting.length);
  let next = 0;
  const worker = async () => {
    while (next < acting.length) {
      const i = next++;
      try {
        outcomes[i] = { written: await applyLocal(acting[i]!, durable, deps) };
      } catch (error) {
        outcomes[i] = { error };
      }
    }
  };
  await Promise.all(
    Array.from({ length: durable ? 1 : Math.min(LOCAL_WRITES_AT_ONCE, acting.length) }, worker),
  );
  // A lock lost meanwhile (this process paused, another took the lock over): what was held back
  // is dropped, not flushed now nor by the store's next write.
  try {
    deps.throwIfLost?.();
  } catch (error) {
    if (!durable) await deps.local.discard?.();
    throw error;
  }
  let written = false;
  const failed = new Set<string>();
  for (const [i, e] of acting.entries()) {
    const outcome = outcomes[i]!;
    if ('written' in outcome) {
      written ||= outcome.written;
      continue;
    }
    failed.add(e.key);
    skipped.push({
      where: 'local',
      kind: e.kind,
      id: e.id,
      event: EventId.LocalItemUnreadable,
      reason: `local store refused the change: ${errorMessage(outcome.error)}`,
    });
  }
  if (!durable) await deps.local.flush!();
  return { written, failed };
}

/** Applies one entry to the local store (`durable: false`: held for the flush); true when the store was written. */
async function applyLocal(e: PlanEntry, durable: boolean, deps: LocalWriteDeps): Promise<boolean> {
  const options = durable ? {} : { durable: false };
  if (e.action === 'download' && e.remote) {
    let content = deps.contents.get(e.remote.valueHash);
    if (content === undefined) {
      // Bytes identical to a value authenticated before: open them now to have the content.
      const decoded = decodeHeader(e.remote.value, Number.MAX_SAFE_INTEGER);
      if (!decoded.ok) throw new Error(decoded.message);
      content = await deps.protector.open({
        kind: e.kind,
        sealed: decoded.sealed,
        aad: associatedData(deps.user, e.remote.value),
      });
    }
    deps.throwIfLost?.();
    await deps.local.put(
      {
        kind: e.kind,
        id: e.id,
        content,
        archived: (e.remote.version.flags & TokenFlag.Archived) !== 0,
        modified: e.remote.version.modified,
      },
      options,
    );
    return true;
  }
  if (e.action === 'remove-local') {
    // Kept for a whole lifetime from now, not from the tombstone's date: an old tombstone (one
    // that waited for an endpoint back from a long absence) must not empty the archive at once.
    const lifetime = deps.policy.tombstoneLifetimeDays * 86_400_000;
    deps.throwIfLost?.();
    await deps.local.remove(e.kind, e.id, { keepUntil: deps.now() + lifetime });
    return true;
  }
  if (e.local?.archivedNow && (e.action === 'upload' || e.action === 'none')) {
    deps.throwIfLost?.();
    await deps.local.put(e.local.item, options);
    return true;
  }
  return false;
}

/** The base after an entry was carried out. */
export function nextBase(e: PlanEntry, written: BaseEntry | undefined): BaseEntry | undefined {
  if (written) return written;
  if (e.pruned || e.action === 'forget' || e.action === 'prune') return undefined;
  if (e.remote) {
    const v = e.remote.version;
    return {
      hash: v.hash,
      modified: v.modified,
      flags: v.flags,
      valueHash: e.remote.valueHash,
      ...(v.superseded ? { superseded: v.superseded } : {}),
    };
  }
  return e.base; // nothing agreed on (a held-back tombstone, a refused upload): keep what was known
}

/** The earliest time at which a sync has work even if nothing else changes. */
export function nextDue(
  local: ReadonlyMap<string, LocalVersion>,
  base: ReadonlyMap<string, BaseEntry>,
  policy: RoamingPolicy,
): number | null {
  let due = Number.POSITIVE_INFINITY;
  const lifetime = policy.tombstoneLifetimeDays * 86_400_000;
  for (const b of base.values()) if (isTombstone(b)) due = Math.min(due, b.modified + lifetime + 1);
  if (policy.archiveExpired) {
    for (const l of local.values()) {
      const notAfter = l.notAfter;
      if (notAfter !== undefined && !l.item.archived) due = Math.min(due, notAfter + 1);
    }
  }
  return Number.isFinite(due) ? due : null;
}
