import type { DirectorySnapshot, ValueChange } from '../api/extension-points.js';
import { sameStamp, stampSet } from './stamp.js';

/** How long a remembered snapshot is used at most: a full read at least this often (decision 028). */
export const DIRECTORY_MEMO_MAX_AGE_MS = 10 * 60_000;
/**
 * The most value bytes remembered (10 000 credentials are about 7 MiB): a larger read, a writer's
 * flood of the entry among them, is not held for minutes by an idle agent, nor past the longest
 * string V8 holds (512 MiB, which would fail every sync).
 */
export const DIRECTORY_MEMO_MAX_BYTES = 64 << 20;
/** A write removing more values than this is not applied to the memory: the next sync reads in full. */
const MAX_APPLIED_REMOVALS = 64;

const equalBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);

/**
 * Values packed in one string (one byte per character) and where each ends. Held for minutes by an
 * idle agent, they live in V8's own heap, which an idle agent gives back to the system: as
 * buffers, malloc'd when the heap was at its largest (a full read), they kept 25 MB of freed
 * memory from being returned (the agent's idle RSS, issue 16).
 */
interface Packed {
  readonly bytes: string;
  readonly ends: readonly number[];
}

/**
 * The values packed, or undefined past `maxBytes` (a writer's flood of the entry): such a read is
 * not remembered, and the sync goes on as without a memory.
 */
function pack(values: readonly Uint8Array[], maxBytes: number): Packed | undefined {
  let total = 0;
  for (const v of values) total += v.length;
  if (total > maxBytes) return undefined;
  let end = 0;
  return { bytes: Buffer.concat(values).toString('latin1'), ends: values.map((v) => (end += v.length)) };
}

function unpack(packed: Packed): Uint8Array[] {
  const all = Buffer.from(packed.bytes, 'latin1');
  let start = 0;
  return packed.ends.map((end) => {
    const value = all.subarray(start, end);
    start = end;
    return value;
  });
}

interface Held {
  readonly stamp: string[];
  readonly tokens: Packed;
  readonly keys: Packed;
  /** When the values were read in full (a write keeps it). */
  readonly at: number;
  /** The latest clock reading the memory was asked at: a reading before it is a clock set back. */
  seen: number;
}

/**
 * The directory's values as this engine last read or wrote them, and the stamp they go with
 * (decision 028). A long-lived engine (the agent's) syncing a change of the store reads the stamp
 * (one small search) and, when it is the stamp remembered, plans against the remembered values
 * instead of reading every value again.
 *
 * What makes that safe is the write: a compare-and-swap of exact values, stamp included. A value
 * the memory holds that a writer removed behind the stamp's back fails the write (a conflict), and
 * the sync then reads in full; nothing is ever removed that the memory does not hold. Such a writer
 * is seen at the next full read: a full sync (the agent's at logon), a conflict, or this memory's
 * age, at most `maxAgeMs`.
 *
 * Nothing here is persisted: a process starts with no memory, and any failure forgets it.
 */
export class DirectoryMemo {
  #held: Held | undefined;

  constructor(
    private readonly maxAgeMs = DIRECTORY_MEMO_MAX_AGE_MS,
    private readonly maxBytes = DIRECTORY_MEMO_MAX_BYTES,
  ) {}

  /** The stamp held, while the memory is young enough (`now` a clock that went back: none). */
  stamp(now: number): readonly string[] | undefined {
    const held = this.#held;
    if (held === undefined) return undefined;
    if (now < held.seen || now - held.at > this.maxAgeMs) {
      this.#held = undefined;
      return undefined;
    }
    held.seen = now;
    return held.stamp;
  }

  /** The snapshot held, when `stamp` (as read now) is the one it goes with. */
  recall(stamp: readonly Uint8Array[], now: number): DirectorySnapshot | undefined {
    const held = this.stamp(now) && this.#held;
    if (!held) return undefined;
    if (!sameStamp(stampSet(stamp), held.stamp)) {
      this.#held = undefined;
      return undefined;
    }
    return { stamp: [...stamp], tokens: unpack(held.tokens), keys: unpack(held.keys) };
  }

  /** A full read. One with values the store could not hand over cleanly is not kept. */
  remember(snapshot: DirectorySnapshot, now: number): void {
    this.#held = undefined;
    if ((snapshot.irregular?.length ?? 0) > 0) return;
    const tokens = pack(snapshot.tokens, this.maxBytes);
    const keys = pack(snapshot.keys, this.maxBytes);
    if (tokens === undefined || keys === undefined) return;
    this.#held = { stamp: stampSet(snapshot.stamp), tokens, keys, at: now, seen: now };
  }

  /**
   * A write of tokens that landed, from the snapshot held: the values it removed are gone, the ones
   * it added are there, and `stamp` is the fresh value. Its age stays that of the last full read.
   */
  written(tokens: ValueChange, stamp: Uint8Array): void {
    const held = this.#held;
    if (held === undefined) return;
    if (tokens.remove.length > MAX_APPLIED_REMOVALS) {
      this.#held = undefined;
      return;
    }
    const left = new Set(tokens.remove);
    const kept = unpack(held.tokens).filter((v) => {
      for (const r of left) {
        if (equalBytes(v, r)) {
          left.delete(r); // a set: each removed value was there once
          return false;
        }
      }
      return true;
    });
    if (left.size > 0) {
      // The write removed a value the memory did not hold: it was not read from this memory.
      this.#held = undefined;
      return;
    }
    const packed = pack([...kept, ...tokens.add], this.maxBytes);
    this.#held =
      packed === undefined
        ? undefined
        : { stamp: stampSet([stamp]), tokens: packed, keys: held.keys, at: held.at, seen: held.seen };
  }

  forget(): void {
    this.#held = undefined;
  }
}
