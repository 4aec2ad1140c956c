import { CredroamError, ENROLLMENT_STATE_MAX_BYTES } from '@credroam/core/api';

/**
 * A pending request as it roams (sealed by core in the user's request token): JSON, no secret in
 * it. Any of the user's endpoints resumes the transaction with it.
 *
 * | field         | what                                                              |
 * |---------------|-------------------------------------------------------------------|
 * | v             | 1                                                                 |
 * | transactionID | hex, the transaction's                                            |
 * | recipNonce    | hex, the CA's last senderNonce: the next request's recipNonce     |
 * | certReqId     | the request's id in the CA's replies                              |
 * | subject       | the RFC 4514 subject (the sender of further messages)             |
 * | update        | true for a key update (kur: the CA answers kup)                   |
 */
export interface PendingState {
  readonly transactionID: Uint8Array;
  readonly recipNonce: Uint8Array;
  readonly certReqId: number;
  readonly subject: string;
  readonly update: boolean;
}

export function encodeState(state: PendingState): Uint8Array {
  return Buffer.from(
    JSON.stringify({
      v: 1,
      transactionID: Buffer.from(state.transactionID).toString('hex'),
      recipNonce: Buffer.from(state.recipNonce).toString('hex'),
      certReqId: state.certReqId,
      subject: state.subject,
      update: state.update,
    }),
    'utf8',
  );
}

const HEX = /^(?:[0-9a-f]{2}){1,64}$/;

export function decodeState(bytes: Uint8Array, profile: string): PendingState {
  const refuse = (why: string): CredroamError =>
    new CredroamError(
      'E_ENROLL_PROTOCOL',
      `profile '${profile}': the pending CMP request cannot be resumed: ${why}`,
    );
  if (bytes.length > ENROLLMENT_STATE_MAX_BYTES) throw refuse('its state is too large');
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw refuse('its state is not JSON');
  }
  const s = value as Record<string, unknown>;
  if (
    typeof s !== 'object' ||
    s === null ||
    s.v !== 1 ||
    typeof s.transactionID !== 'string' ||
    !HEX.test(s.transactionID) ||
    typeof s.recipNonce !== 'string' ||
    !HEX.test(s.recipNonce) ||
    !Number.isSafeInteger(s.certReqId) ||
    typeof s.subject !== 'string' ||
    typeof s.update !== 'boolean'
  )
    throw refuse('its state is not one this enroller wrote');
  return {
    transactionID: Buffer.from(s.transactionID, 'hex'),
    recipNonce: Buffer.from(s.recipNonce, 'hex'),
    certReqId: s.certReqId as number,
    subject: s.subject,
    update: s.update,
  };
}
