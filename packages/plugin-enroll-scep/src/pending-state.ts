import { ENROLLMENT_STATE_MAX_BYTES } from '@credroam/core/api';
import * as pkijs from 'pkijs';
import { protocolError } from './protocol-error.js';

/**
 * What a CertPoll needs (RFC 8894 §3.3.3) to ask again about a pending request: its transactionID
 * and the subject it asked for (DER Name). Encoded as JSON `{"v":1,"transactionId":…,"subject":…}`
 * (the subject base64). It roams in the user's request token; read back as untrusted input.
 */
export interface PendingState {
  readonly transactionId: string;
  readonly subject: Uint8Array;
}

export function encodePendingState(state: PendingState): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      v: 1,
      transactionId: state.transactionId,
      subject: Buffer.from(state.subject).toString('base64'),
    }),
  );
}

/** The state `encodePendingState` made, or `E_ENROLL_PROTOCOL` for anything else. */
export function decodePendingState(bytes: Uint8Array, profile: string): PendingState {
  const fail = () =>
    protocolError(`the pending SCEP request of profile '${profile}' has a state this plugin did not write`, {
      profile,
    });
  if (bytes.length > ENROLLMENT_STATE_MAX_BYTES) throw fail();
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw fail();
  }
  const v = value as { v?: unknown; transactionId?: unknown; subject?: unknown };
  if (
    typeof value !== 'object' ||
    value === null ||
    v.v !== 1 ||
    typeof v.transactionId !== 'string' ||
    !/^[\x20-\x7e]{1,128}$/.test(v.transactionId) ||
    typeof v.subject !== 'string' ||
    !/^[A-Za-z0-9+/]{4,8192}={0,2}$/.test(v.subject) ||
    Object.keys(value).length !== 3
  )
    throw fail();
  const subject = new Uint8Array(Buffer.from(v.subject, 'base64'));
  try {
    pkijs.RelativeDistinguishedNames.fromBER(subject);
  } catch {
    throw fail();
  }
  return { transactionId: v.transactionId, subject };
}
