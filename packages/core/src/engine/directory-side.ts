import { createHash } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { errorMessage } from '../api/errors.js';
import { EventId, type LogLevel } from '../api/events.js';
import type { DirectorySnapshot, TokenProtector } from '../api/extension-points.js';
import type { RoamingPolicy } from '../policy/policy.js';
import { associatedData, decodeHeader } from './codec.js';
import type { FactsCache } from './facts-cache.js';
import type { BaseEntry } from './merge.js';
import type { DirectoryValue } from './plan.js';
import type { SkippedItem } from './report.js';
import { isRoamedKind, isTombstone, TokenFlag, type TokenVersion, tokenKey, versionHash } from './token.js';

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/**
 * Values opened between two turns of the event loop. Opening one (its AEAD, its certificate read
 * by OpenSSL) takes up to about 0.2 ms and never waits on anything: read in one stretch, the
 * policy's 100 000 tokens would hold the agent's event loop for 20 s, and a command waiting on it
 * would take it for hung. 64 at a time, it answers within about 15 ms.
 */
export const OPENED_PER_TURN = 64;

export interface DecodedDirectory {
  readonly groups: Map<string, DirectoryValue[]>;
  readonly skipped: SkippedItem[];
  /** Tokens some of whose values were not read (over the read limit): nothing is written for them. */
  readonly handsOff: ReadonlySet<string>;
}

export interface DirectoryReadDeps {
  readonly protector: Pick<TokenProtector, 'open'>;
  readonly inspector: FactsCache;
  readonly policy: RoamingPolicy;
  readonly user: string;
  readonly now: number;
  /** Opened contents by value hash: the downloads of this sync read them from here. */
  readonly contents: Map<string, Uint8Array>;
  readonly event: (level: LogLevel, event: number, message: string, fields?: Record<string, unknown>) => void;
}

/**
 * The directory side of a sync: every value decoded, bounded and authenticated, grouped by token.
 * A value that fails any check is reported and left as it is, and so is what the store itself
 * could not hand over (`irregular`). Bytes identical to a value this
 * endpoint authenticated before (its base) are not opened again.
 */
export async function readDirectory(
  snapshot: DirectorySnapshot,
  base: ReadonlyMap<string, BaseEntry>,
  deps: DirectoryReadDeps,
): Promise<DecodedDirectory> {
  const now = deps.now;
  const policy = deps.policy;
  const skipped: SkippedItem[] = [];
  const groups = new Map<string, DirectoryValue[]>();
  const { values, handsOff } = boundedValues(snapshot.tokens, base, policy, skipped);
  for (const irregular of snapshot.irregular ?? []) {
    skipped.push({
      where: 'directory',
      event:
        irregular.problem === 'duplicate'
          ? EventId.DirectoryValueDuplicated
          : EventId.DirectoryValueUnreadable,
      reason: `${irregular.where}: ${irregular.reason}`,
    });
  }
  const maxFuture = now + policy.clockSkewSeconds * 1000;
  let opened = 0;
  for (const value of values) {
    const decoded = decodeHeader(value, policy.maxTokenBytes);
    if (!decoded.ok) {
      const event =
        decoded.reason === 'too-large'
          ? EventId.TokenTooLarge
          : decoded.reason === 'unknown-kind'
            ? EventId.TokenUnknownKind
            : EventId.TokenMalformed;
      skipped.push({
        where: 'directory',
        ...('id' in decoded ? { id: decoded.id } : {}),
        event,
        reason: decoded.message,
      });
      continue;
    }
    // Enrollment's own tokens (a pending request, a claim) are not merged: enroll/ reads them.
    if (!isRoamedKind(decoded.header.kind)) continue;
    const header = { ...decoded.header, kind: decoded.header.kind };
    const { sealed } = decoded;
    const key = tokenKey(header.kind, header.id);
    const at = { where: 'directory' as const, kind: header.kind, id: header.id };
    if (header.modified > maxFuture) {
      skipped.push({
        ...at,
        event: EventId.TokenFromFuture,
        reason: `dated ${new Date(header.modified).toISOString()}, beyond the allowed clock skew`,
      });
      continue;
    }
    const valueHash = sha256(value);
    const known = base.get(key);
    let hash: string;
    if (known?.valueHash === valueHash) {
      hash = known.hash; // the very bytes this endpoint authenticated before
    } else {
      if (++opened % OPENED_PER_TURN === 0) await nextTurn();
      let content: Uint8Array;
      try {
        content = await deps.protector.open({
          kind: header.kind,
          sealed,
          aad: associatedData(deps.user, value),
        });
      } catch (error) {
        skipped.push({ ...at, event: EventId.TokenAuthenticationFailed, reason: errorMessage(error) });
        continue;
      }
      if (header.kind === 'attrs' && (header.flags & TokenFlag.Archived) !== 0) {
        // Attributes follow their certificate, archived or not; a flag of their own would churn.
        skipped.push({ ...at, event: EventId.TokenMalformed, reason: 'attributes flagged as archived' });
        continue;
      }
      if (isTombstone(header)) {
        if (content.length !== 0) {
          skipped.push({ ...at, event: EventId.TokenMalformed, reason: 'a tombstone with content' });
          continue;
        }
      } else {
        try {
          const { facts } = deps.inspector.inspect(header.kind, content);
          if (facts.id !== header.id) {
            skipped.push({
              ...at,
              event: EventId.TokenIdMismatch,
              reason: `its content has id ${facts.id}`,
            });
            continue;
          }
        } catch (error) {
          skipped.push({ ...at, event: EventId.TokenMalformed, reason: `content: ${errorMessage(error)}` });
          continue;
        }
      }
      hash = versionHash(header.kind, header.flags, content);
      deps.contents.set(valueHash, content);
    }
    const version: TokenVersion = {
      kind: header.kind,
      id: header.id,
      flags: header.flags,
      modified: header.modified,
      hash,
      ...(header.superseded ? { superseded: header.superseded } : {}),
    };
    const list = groups.get(key);
    if (list) list.push({ version, value, valueHash });
    else groups.set(key, [{ version, value, valueHash }]);
  }
  return { groups, skipped, handsOff };
}

/**
 * R13 before any work: at most twice `maxTokens` values are read. When a writer planted more, the
 * values of tokens this endpoint synced before come first (a flood cannot push them out), the rest
 * in the directory's order; what is left unread is one event, and any token with a value left
 * unread is not written this sync (a value it cannot see must not be taken for absent).
 */
function boundedValues(
  tokens: readonly Uint8Array[],
  base: ReadonlyMap<string, BaseEntry>,
  policy: RoamingPolicy,
  skipped: SkippedItem[],
): { values: readonly Uint8Array[]; handsOff: ReadonlySet<string> } {
  const limit = policy.maxTokens * 2;
  if (tokens.length <= limit) return { values: tokens, handsOff: new Set() };
  const keyOf = (v: Uint8Array): string | undefined => {
    const d = decodeHeader(v, Number.MAX_SAFE_INTEGER);
    return d.ok ? tokenKey(d.header.kind, d.header.id) : undefined;
  };
  const known = tokens.filter((v) => {
    const k = keyOf(v);
    return k !== undefined && base.has(k);
  });
  const knownSet = new Set(known);
  const ordered = [...known, ...tokens.filter((v) => !knownSet.has(v))];
  const unread = ordered.slice(limit);
  const handsOff = new Set(unread.map(keyOf).filter((k): k is string => k !== undefined));
  skipped.push({
    where: 'directory',
    event: EventId.TooManyTokens,
    reason: `the directory holds ${tokens.length} token values for this user; ${unread.length} beyond ${limit} (twice policy maxTokens ${policy.maxTokens}) were not read`,
  });
  return { values: ordered.slice(0, limit), handsOff };
}
