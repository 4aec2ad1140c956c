import type { ErrorCode } from '../../api/error-codes.js';
import { EVENTS, type EventName } from '../../api/events.js';

/**
 * The checks a policy bundle passes, in the order they run (issue 12). The first that fails stops
 * the rest: nothing after it is looked at, and nothing of the bundle is trusted before `signature`
 * passed. `expiry` covers notAfter (and issuedAt not in the future); `agentVersion` the document's
 * minAgentVersion, once the schema has checked it.
 */
export const POLICY_CHECKS = [
  'signature',
  'eku',
  'site',
  'expiry',
  'schema',
  'agentVersion',
  'rollback',
] as const;
export type PolicyCheckName = (typeof POLICY_CHECKS)[number];

/** The event logged when a bundle is refused at each check (its level is the table's). */
export const REFUSED_EVENT: Readonly<Record<PolicyCheckName, EventName>> = {
  signature: 'PolicySignatureRefused',
  eku: 'PolicyEkuRefused',
  site: 'PolicySiteRefused',
  expiry: 'PolicyExpiredRefused',
  schema: 'PolicySchemaRefused',
  agentVersion: 'PolicySchemaRefused',
  rollback: 'PolicyRollbackRefused',
};

/** The event id and level of a refusal at `check`. */
export function refusalEvent(check: PolicyCheckName): {
  id: number;
  level: (typeof EVENTS)[EventName]['levels'][number];
} {
  const kind = EVENTS[REFUSED_EVENT[check]];
  return { id: kind.id, level: kind.levels[0]! };
}

/** One check's outcome, a line of `credroam policy verify`. */
export interface PolicyCheck {
  readonly name: PolicyCheckName;
  readonly ok: boolean;
  /** What was found (passed) or what was wrong and what to do (failed). */
  readonly detail: string;
  /** The error code of a failed check. */
  readonly code?: ErrorCode;
}
