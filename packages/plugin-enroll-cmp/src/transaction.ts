import { CredroamError } from '@credroam/core/api';
import type * as asn1js from 'asn1js';
import { MalformedAsn1 } from './asn1/der.js';
import { readErrorMsg } from './asn1/error-msg.js';
import { BODY, bodyName, type ReceivedMessage } from './asn1/pki-message.js';
import { describeStatus } from './asn1/pki-status.js';
import { protectedMessage, type TransactionContext } from './messages.js';
import { checkReply } from './replies.js';
import { postCmp } from './transport.js';

/**
 * One CMP transaction with the CA: each `exchange` sends a protected request (the CA's last nonce
 * as its recipNonce), and returns the checked reply, or throws: `E_ENROLL_REFUSED` for an `error`
 * reply (the CA's status named), `E_ENROLL_PROTOCOL` for a reply that fails a check (replies.ts),
 * `E_UNREACHABLE` from the transport.
 */
export class CmpTransaction {
  /** The CA's senderNonce in its last reply (the next request's recipNonce). */
  caNonce: Uint8Array | undefined;

  constructor(
    private readonly context: TransactionContext,
    private readonly url: URL,
    private readonly timeoutMs: number,
    private readonly profile: string,
    caNonce?: Uint8Array,
  ) {
    this.caNonce = caNonce;
  }

  get transactionID(): Uint8Array {
    return this.context.transactionID;
  }

  async exchange(
    bodyTag: number,
    content: asn1js.BaseBlock,
    expected: readonly number[],
  ): Promise<ReceivedMessage> {
    const sent = protectedMessage(this.context, bodyTag, content, this.caNonce);
    const reply = await postCmp({ url: this.url, body: sent.der, timeoutMs: this.timeoutMs });
    const checked = checkReply(reply, {
      secret: this.context.secret,
      transactionID: this.context.transactionID,
      senderNonce: sent.senderNonce,
    });
    const what = `profile '${this.profile}': the CA's answer to ${bodyName(bodyTag)}`;
    if (!checked.ok) throw new CredroamError('E_ENROLL_PROTOCOL', `${what} is refused: ${checked.reason}`);
    const { message } = checked;
    if (message.bodyType === BODY.error) {
      let status: string;
      try {
        status = describeStatus(readErrorMsg(message.body).status);
      } catch (error) {
        if (!(error instanceof MalformedAsn1)) throw error;
        status = `a malformed error message (${error.message})`;
      }
      const note = checked.authenticated
        ? ''
        : " (not authenticated: its MAC does not verify with the profile's shared secret; check the challenge and ca.settings.reference)";
      throw new CredroamError('E_ENROLL_REFUSED', `${what} is an error: ${status}${note}`);
    }
    if (!expected.includes(message.bodyType))
      throw new CredroamError(
        'E_ENROLL_PROTOCOL',
        `${what} is refused: ${bodyName(message.bodyType)}, not ${expected.map(bodyName).join(' or ')}`,
      );
    this.caNonce = message.senderNonce;
    return message;
  }
}
