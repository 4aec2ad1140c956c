import { KIND_BY_CODE, KIND_CODES, KNOWN_FLAGS, type VersionKey, type WireKind } from './token.js';

/**
 * The token wire format, version 1 (big-endian):
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 2 | magic `CR` |
 * | 2 | 1 | format version (1) |
 * | 3 | 1 | kind code (1 cert, 2 key, 3 attrs, 4 request, 5 claim) |
 * | 4 | 1 | flags (1 tombstone, 2 archived, 4 unroamable) |
 * | 5 | 1 | reserved, 0 |
 * | 6 | 8 | modified, ms since the epoch |
 * | 14 | 32 | id (SHA-256) |
 * | 46 | 8 | tombstones: `modified` of the version it deleted; else 0 |
 * | 54 | 32 | tombstones: version hash of the version it deleted; else 0 |
 * | 86 | 4 | sealed payload length |
 * | 90 | n | sealed payload (from the TokenProtector) |
 *
 * A tombstone names the version it deleted, so a deletion supersedes exactly what its author knew
 * and a concurrent newer change beats it (docs/decisions/002-merge-order.md).
 *
 * The header up to the payload length (bytes 0..85) is the associated data of the seal, with the
 * user's name, so a value moved to another user, re-labelled, re-flagged or re-dated fails
 * authentication. (The payload length is not in it: it is known only after sealing, and the seal
 * authenticates the payload itself.)
 */
export const HEADER_BYTES = 90;
export const FORMAT_VERSION = 1;
const AAD_HEADER_BYTES = 86;
const MAGIC_0 = 0x43; // 'C'
const MAGIC_1 = 0x52; // 'R'
const AAD_LABEL = new TextEncoder().encode('credroam-token-v1\0');
const ZERO_HASH = '0'.repeat(64);

export interface TokenHeader {
  readonly kind: WireKind;
  readonly flags: number;
  readonly modified: number;
  readonly id: string;
  /** Tombstones: the version they deleted. */
  readonly superseded?: VersionKey;
  readonly payloadLength: number;
}

export type DecodeFailure =
  | { readonly ok: false; readonly reason: 'too-large'; readonly message: string }
  | { readonly ok: false; readonly reason: 'malformed'; readonly message: string }
  | { readonly ok: false; readonly reason: 'unknown-kind'; readonly message: string; readonly id: string };

export type DecodedHeader =
  | { readonly ok: true; readonly header: TokenHeader; readonly sealed: Uint8Array }
  | DecodeFailure;

export function encodeHeader(h: TokenHeader): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES);
  const view = new DataView(out.buffer);
  out[0] = MAGIC_0;
  out[1] = MAGIC_1;
  out[2] = FORMAT_VERSION;
  out[3] = KIND_CODES[h.kind];
  out[4] = h.flags;
  out[5] = 0;
  view.setBigUint64(6, BigInt(h.modified));
  out.set(Buffer.from(h.id, 'hex'), 14);
  view.setBigUint64(46, BigInt(h.superseded?.modified ?? 0));
  out.set(Buffer.from(h.superseded?.hash ?? ZERO_HASH, 'hex'), 54);
  view.setUint32(86, h.payloadLength);
  return out;
}

/** Associated data for sealing: label, user (length-prefixed UTF-8), header bytes 0..85. */
export function associatedData(user: string, headerBytes: Uint8Array): Uint8Array {
  const header = headerBytes.subarray(0, AAD_HEADER_BYTES);
  const u = new TextEncoder().encode(user);
  const out = new Uint8Array(AAD_LABEL.length + 4 + u.length + header.length);
  out.set(AAD_LABEL, 0);
  new DataView(out.buffer).setUint32(AAD_LABEL.length, u.length);
  out.set(u, AAD_LABEL.length + 4);
  out.set(header, AAD_LABEL.length + 4 + u.length);
  return out;
}

export function encodeToken(header: Uint8Array, sealed: Uint8Array): Uint8Array {
  const out = new Uint8Array(header.length + sealed.length);
  out.set(header, 0);
  out.set(sealed, header.length);
  return out;
}

/**
 * Parses a value's header. Bounded before any work: the size limit is checked first, then every
 * length inside the header against the value itself. Never throws.
 */
export function decodeHeader(value: Uint8Array, maxBytes: number): DecodedHeader {
  if (value.length > maxBytes) {
    return {
      ok: false,
      reason: 'too-large',
      message: `value is ${value.length} bytes, the limit is ${maxBytes}`,
    };
  }
  if (value.length < HEADER_BYTES) {
    return {
      ok: false,
      reason: 'malformed',
      message: `value is ${value.length} bytes, shorter than a header`,
    };
  }
  if (value[0] !== MAGIC_0 || value[1] !== MAGIC_1)
    return { ok: false, reason: 'malformed', message: 'bad magic' };
  if (value[2] !== FORMAT_VERSION) {
    return { ok: false, reason: 'malformed', message: `unsupported format version ${value[2]}` };
  }
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const id = Buffer.from(value.subarray(14, 46)).toString('hex');
  const kind = KIND_BY_CODE.get(value[3]!);
  if (kind === undefined) {
    return { ok: false, reason: 'unknown-kind', message: `unknown token kind ${value[3]}`, id };
  }
  const flags = value[4]!;
  if ((flags & ~KNOWN_FLAGS) !== 0 || value[5] !== 0) {
    return { ok: false, reason: 'malformed', message: `unknown flags 0x${flags.toString(16)}` };
  }
  const modified = view.getBigUint64(6);
  const supersededModified = view.getBigUint64(46);
  if (modified > BigInt(Number.MAX_SAFE_INTEGER) || supersededModified > BigInt(Number.MAX_SAFE_INTEGER)) {
    return { ok: false, reason: 'malformed', message: 'time out of range' };
  }
  const supersededHash = Buffer.from(value.subarray(54, 86)).toString('hex');
  const tombstone = (flags & 1) !== 0;
  if (!tombstone && (supersededModified !== 0n || supersededHash !== ZERO_HASH)) {
    return { ok: false, reason: 'malformed', message: 'a live token naming a superseded version' };
  }
  const payloadLength = view.getUint32(86);
  if (payloadLength !== value.length - HEADER_BYTES) {
    return {
      ok: false,
      reason: 'malformed',
      message: `header says ${payloadLength} payload bytes, the value has ${value.length - HEADER_BYTES}`,
    };
  }
  return {
    ok: true,
    header: {
      kind,
      flags,
      modified: Number(modified),
      id,
      ...(tombstone ? { superseded: { modified: Number(supersededModified), hash: supersededHash } } : {}),
      payloadLength,
    },
    sealed: value.subarray(HEADER_BYTES),
  };
}
