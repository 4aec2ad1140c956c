import { randomBytes } from 'node:crypto';
import type * as asn1js from 'asn1js';
import { der, sequenceOfEncoded } from './asn1/der.js';
import { pkiBody, pkiHeader, pkiMessage } from './asn1/pki-message.js';
import { newPbmParameters, pbmAlgorithm, pbmProtection } from './pbm.js';

/** What every message of one transaction shares: who talks to whom, and the MAC's secret. */
export interface TransactionContext {
  /** The sender and recipient Names (the subject, or the empty name; the CA's name). */
  readonly sender: asn1js.Sequence;
  readonly recipient: asn1js.Sequence;
  /** The senderKID: the profile's `reference`. */
  readonly reference: string;
  readonly secret: string;
  readonly pbmIterations: number;
  readonly transactionID: Uint8Array;
}

export interface SentMessage {
  readonly der: Uint8Array;
  /** The nonce this message carries: the reply's recipNonce must be it. */
  readonly senderNonce: Uint8Array;
}

export const newTransactionId = (): Uint8Array => randomBytes(16);

/**
 * A request message: a header with a fresh senderNonce (and the CA's last nonce as recipNonce),
 * the body, and the password-based MAC over both (RFC 4210 §5.1.3.1).
 */
export function protectedMessage(
  context: TransactionContext,
  bodyTag: number,
  content: asn1js.BaseBlock,
  recipNonce?: Uint8Array,
  now = new Date(),
): SentMessage {
  const parameters = newPbmParameters(context.pbmIterations);
  const senderNonce = randomBytes(16);
  const header = der(
    pkiHeader(
      {
        sender: context.sender,
        recipient: context.recipient,
        protectionAlg: pbmAlgorithm(parameters),
        senderKID: Buffer.from(context.reference, 'utf8'),
        transactionID: context.transactionID,
        senderNonce,
        recipNonce,
      },
      now,
    ),
  );
  const body = der(pkiBody(bodyTag, content));
  const protection = pbmProtection(parameters, context.secret, sequenceOfEncoded(header, body));
  return { der: pkiMessage(header, body, protection), senderNonce };
}
