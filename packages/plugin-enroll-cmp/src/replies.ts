import { timingSafeEqual } from 'node:crypto';
import { MalformedAsn1, sequenceOfEncoded } from './asn1/der.js';
import { BODY, bodyName, type ReceivedMessage, readPkiMessage } from './asn1/pki-message.js';
import { pbmVerifies, readPbmAlgorithm } from './pbm.js';

/**
 * Reads and checks one reply of a transaction. Never throws: a tagged result.
 *
 * | check           | rule                                                                 |
 * |-----------------|----------------------------------------------------------------------|
 * | form            | a DER PKIMessage, pvno 2 (cmp2000) or 3 (cmp2021)                    |
 * | protection      | a password-based MAC that verifies with the shared secret            |
 * | transactionID   | the request's                                                        |
 * | recipNonce      | the senderNonce of the request it answers                            |
 *
 * An `error` body whose protection does not verify (or is missing) is still read, marked
 * `authenticated: false`: a CA that cannot check our MAC (a wrong secret) cannot make one we
 * accept either, and its refusal is only ever a refusal. Every other body must pass every check.
 */
export interface Expectation {
  readonly secret: string;
  readonly transactionID: Uint8Array;
  readonly senderNonce: Uint8Array;
}

export type CheckedReply =
  | { ok: true; message: ReceivedMessage; authenticated: boolean }
  | { ok: false; reason: string };

const same = (a: Uint8Array | undefined, b: Uint8Array): boolean =>
  a !== undefined && a.length === b.length && timingSafeEqual(a, b);

export function checkReply(input: Uint8Array, expect: Expectation): CheckedReply {
  let message: ReceivedMessage;
  try {
    message = readPkiMessage(input);
  } catch (error) {
    if (error instanceof MalformedAsn1)
      return { ok: false, reason: `the reply is not a CMP message: ${error.message}` };
    return { ok: false, reason: `the reply is not a CMP message (${(error as Error).message})` };
  }
  if (message.pvno !== 2 && message.pvno !== 3)
    return { ok: false, reason: `the reply has CMP version ${message.pvno}, not 2 or 3` };
  const protection = protectionProblem(message, expect.secret);
  if (protection && message.bodyType === BODY.error) return { ok: true, message, authenticated: false };
  if (protection) return { ok: false, reason: `the ${bodyName(message.bodyType)} reply ${protection}` };
  if (!same(message.transactionID, expect.transactionID))
    return {
      ok: false,
      reason: `the ${bodyName(message.bodyType)} reply is for another transaction (its transactionID is not ours)`,
    };
  if (!same(message.recipNonce, expect.senderNonce))
    return {
      ok: false,
      reason: `the ${bodyName(message.bodyType)} reply's recipNonce is not the nonce we sent (a replay, or a reply to another request)`,
    };
  return { ok: true, message, authenticated: true };
}

function protectionProblem(message: ReceivedMessage, secret: string): string | undefined {
  if (!message.protectionAlg || !message.protection)
    return 'is not protected: a reply must carry the MAC with the shared secret';
  const algorithm = readPbmAlgorithm(message.protectionAlg);
  if (!algorithm.ok) return algorithm.reason;
  const part = sequenceOfEncoded(message.headerDer, message.bodyDer);
  if (!pbmVerifies(algorithm.parameters, secret, part, message.protection))
    return "is protected with another secret: its MAC does not verify with the profile's shared secret";
  return undefined;
}
