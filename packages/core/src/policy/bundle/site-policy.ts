import type { X509Certificate } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { ErrorCode } from '../../api/error-codes.js';
import { EventId, type Logger } from '../../api/events.js';
import { type HeldLock, InProcessLock, type LockHeld, takeLockFolder } from '../../engine/lock.js';
import type { AllowListEntry } from '../allow-list.js';
import { parseSitePolicy, type SitePolicy } from '../policy.js';
import {
  type AcceptedBundleRecord,
  policyFolder,
  readAcceptedRecord,
  writeAcceptedRecord,
} from './accepted-record.js';
import { type PolicyCheckName, refusalEvent } from './checks.js';
import type { PolicyBundleDocument } from './document.js';
import type { verifyPolicyBundle } from './verify.js';

/** What this endpoint trusts for policy: the site root(s), its site, and its own version. */
export interface PolicyTrust {
  readonly roots: readonly X509Certificate[];
  readonly siteId: string;
  readonly agentVersion: string;
}

/**
 * The policy in force on an endpoint that has a site root: the accepted bundle (possibly expired),
 * or the built-in defaults (none accepted yet, or the record damaged).
 *
 * "Never widens" (issue 12): an expired bundle stays in force exactly as it is — its settings as
 * they were and its allow-list with no entry added — until a newer bundle passes every check (an
 * expired one never does). Nothing falls back to the unsigned local policy or to "every configured
 * plugin" while a root is configured: the allow-list can only shrink (a refresh to a valid newer
 * bundle that lists fewer plugins) or be replaced by a newer signed one.
 */
export type PolicyInForce =
  | {
      readonly kind: 'bundle';
      readonly policy: SitePolicy;
      readonly allowList: readonly AllowListEntry[];
      readonly record: AcceptedBundleRecord;
      readonly document: PolicyBundleDocument;
      /** notAfter has passed: kept, never widened, reported (event 1048). */
      readonly expired: boolean;
    }
  | {
      readonly kind: 'defaults';
      readonly policy: SitePolicy;
      readonly reason: string;
      readonly damaged: boolean;
      /**
       * The serial and digest a record names whose bundle no longer verifies (a root replaced, an
       * agent downgraded): still the rollback floor, so losing the bundle never re-opens older ones.
       */
      readonly floor?: {
        readonly serial: number;
        readonly digest: string;
        readonly nextSigners?: readonly string[];
      };
    };

/**
 * Reads what is in force from the record under `home`. The recorded bundle is verified again
 * (signature, chain, EKU, site, schema) as of when it was accepted, against the roots now
 * installed: a record whose bundle no longer verifies, or whose serial or digest differ from the
 * bundle's, is damaged, and the defaults apply (reported, never loosened to "unrestricted").
 */
export async function policyInForce(home: string, trust: PolicyTrust, now: Date): Promise<PolicyInForce> {
  const read = await readAcceptedRecord(home);
  const defaults = (
    reason: string,
    damaged: boolean,
    floor?: { serial: number; digest: string; nextSigners?: readonly string[] },
  ): PolicyInForce => ({
    kind: 'defaults',
    policy: parseSitePolicy({}),
    reason,
    damaged,
    ...(floor ? { floor } : {}),
  });
  if (read.state === 'none') return defaults('no policy bundle accepted on this endpoint yet', false);
  if (read.state === 'damaged')
    return defaults(`the accepted policy record ${read.file} is damaged: ${read.reason}`, true);
  const { record, bytes } = read;
  const acceptedAt = new Date(record.acceptedAt);
  const v = await (await verifier())(bytes, {
    ...trust,
    now: Number.isNaN(acceptedAt.getTime()) ? now : acceptedAt,
  });
  const nextSigners =
    Array.isArray(record.nextSigners) && record.nextSigners.every((s) => typeof s === 'string')
      ? record.nextSigners
      : undefined;
  const floor = { serial: record.serial, digest: record.digest, ...(nextSigners ? { nextSigners } : {}) };
  if (!v.ok)
    return defaults(`the accepted policy bundle no longer verifies (${v.failed}: ${v.reason})`, true, floor);
  if (v.bundle.digest !== record.digest || v.bundle.document.serial !== record.serial)
    return defaults('the accepted policy record does not match its bundle', true, floor);
  return {
    kind: 'bundle',
    policy: v.bundle.policy,
    allowList: v.bundle.document.plugins,
    record,
    document: v.bundle.document,
    expired: Date.parse(v.bundle.document.notAfter) < now.getTime(),
  };
}

/** What one source handed over: bytes, nothing, or the error that kept it from answering. */
export interface FetchedBundle {
  readonly source: string;
  readonly bytes?: Uint8Array;
  readonly error?: Error;
}

export interface PolicyUpdate {
  readonly inForce: PolicyInForce;
  /** The source whose bundle was accepted by this update; undefined when nothing new was. */
  readonly accepted?: string;
  readonly refused: ReadonlyArray<{
    source: string;
    check: PolicyCheckName;
    code: ErrorCode;
    reason: string;
  }>;
}

/**
 * Verifies what every source handed over against the bundle in force, accepts the highest valid
 * serial (recording it only then), and logs each refusal with its check's event; the bundle in
 * force stays on any failure. Reports an expired bundle in force (1048) or the defaults (1049).
 */
export async function updateSitePolicy(options: {
  readonly home: string;
  readonly trust: PolicyTrust;
  readonly now: Date;
  readonly fetched: readonly FetchedBundle[];
  readonly log: Logger;
}): Promise<PolicyUpdate> {
  // The record is read, the bundles verified against it and the winner written as one step, one
  // update at a time (in this process and across processes): two updates that both read serial 1
  // would otherwise each write theirs, and an older bundle written last would roll the endpoint back.
  const locked = await underRecordLock(options.home, (held) => updateLocked(options, held));
  if (locked.ok) return locked.value;
  options.log.log(
    'warn',
    EventId.PolicyRefreshFailed,
    `another credroam process is updating the policy record (${locked.file}): keeping the policy in force`,
    { file: locked.file },
  );
  return { inForce: await policyInForce(options.home, options.trust, options.now), refused: [] };
}

const recordLocks = new Map<string, InProcessLock>();

/** Runs `work` holding the policy record's lock (in-process, then a lock folder beside the record). */
async function underRecordLock<T>(
  home: string,
  work: (held: LockHeld) => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; file: string }> {
  const dir = policyFolder(home);
  const file = path.join(dir, 'update.lock');
  const inProcess = recordLocks.get(dir) ?? new InProcessLock();
  recordLocks.set(dir, inProcess);
  return inProcess.run(async () => {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    let lock: HeldLock;
    try {
      lock = await takeLockFolder(dir, {
        file,
        staleMs: 15_000,
        refreshMs: 5_000,
        retries: { retries: 150, minTimeout: 100, maxTimeout: 200 },
        lost: (cause) => cause,
      });
    } catch {
      return { ok: false, file } as const;
    }
    try {
      return { ok: true, value: await work(lock.held) } as const;
    } catch (error) {
      // The lock lost midway (this process paused past its stale time, and another took it over):
      // the record was not written, and the other process's update is the one that counts.
      if (lock.held.lost.aborted) return { ok: false, file } as const;
      throw error;
    } finally {
      await lock.release();
    }
  });
}

async function updateLocked(
  options: Parameters<typeof updateSitePolicy>[0],
  held: LockHeld,
): Promise<PolicyUpdate> {
  const { home, trust, now, log } = options;
  const current = await policyInForce(home, trust, now);
  const lastAccepted =
    current.kind === 'bundle'
      ? {
          serial: current.record.serial,
          digest: current.record.digest,
          ...(current.document.nextSigners ? { nextSigners: current.document.nextSigners } : {}),
        }
      : current.floor;
  const refused: Array<PolicyUpdate['refused'][number]> = [];
  let best:
    | {
        source: string;
        bytes: Uint8Array;
        v: Extract<Awaited<ReturnType<typeof verifyPolicyBundle>>, { ok: true }>;
      }
    | undefined;
  for (const f of options.fetched) {
    if (!f.bytes) continue;
    const v = await (await verifier())(f.bytes, { ...trust, now, ...(lastAccepted ? { lastAccepted } : {}) });
    if (!v.ok) {
      refused.push({ source: f.source, check: v.failed, code: v.code, reason: v.reason });
      const event = refusalEvent(v.failed);
      log.log(
        event.level,
        event.id,
        `policy bundle from ${f.source} refused at the ${v.failed} check: ${v.reason}`,
        {
          source: f.source,
          check: v.failed,
          code: v.code,
        },
      );
      continue;
    }
    if (!best || v.bundle.document.serial > best.v.bundle.document.serial)
      best = { source: f.source, bytes: f.bytes, v };
  }
  // The serial and digest of a damaged record (the floor) are "already in force" for the rollback
  // check, but the defaults are what is in force: the same bundle, fetched again, repairs the record.
  if (best && (current.kind !== 'bundle' || !best.v.bundle.alreadyInForce)) {
    const doc = best.v.bundle.document;
    const record: AcceptedBundleRecord = {
      version: 1,
      siteId: doc.siteId,
      serial: doc.serial,
      digest: best.v.bundle.digest,
      source: best.source,
      acceptedAt: now.toISOString(),
      issuedAt: doc.issuedAt,
      notAfter: doc.notAfter,
      signer: best.v.bundle.signer.subject.split('\n').join(', '),
      ...(doc.nextSigners ? { nextSigners: doc.nextSigners } : {}),
    };
    held.throwIfLost();
    await writeAcceptedRecord(home, record, best.bytes);
    log.log(
      'info',
      EventId.PolicyBundleAccepted,
      `policy bundle serial ${doc.serial} of site ${doc.siteId} from ${best.source} is in force`,
      {
        source: best.source,
        serial: doc.serial,
        siteId: doc.siteId,
        digest: record.digest,
      },
    );
    return {
      inForce: {
        kind: 'bundle',
        policy: best.v.bundle.policy,
        allowList: doc.plugins,
        record,
        document: doc,
        expired: false,
      },
      accepted: best.source,
      refused,
    };
  }
  reportInForce(current, log);
  return { inForce: current, refused };
}

/** Logs what an endpoint with a site root runs when it is not a current bundle: 1048 or 1049. */
export function reportInForce(inForce: PolicyInForce, log: Logger): void {
  if (inForce.kind === 'bundle' && inForce.expired) {
    log.log(
      'warn',
      EventId.PolicyExpiredInForce,
      `the policy bundle in force (serial ${inForce.record.serial}) expired at ${inForce.record.notAfter}: kept, never widened`,
      {
        serial: inForce.record.serial,
        notAfter: inForce.record.notAfter,
      },
    );
  } else if (inForce.kind === 'defaults') {
    log.log(
      'warn',
      EventId.PolicyDefaultsInForce,
      `no site policy bundle in force: the built-in defaults apply (${inForce.reason})`,
      {
        reason: inForce.reason,
        ...(inForce.damaged ? { code: 'E_POLICY_RECORD' } : {}),
      },
    );
  }
}

/** The CMS verifier, loaded when a bundle is verified: a policy in force is read without it. */
async function verifier(): Promise<typeof verifyPolicyBundle> {
  return (await import('./verify.js')).verifyPolicyBundle;
}
