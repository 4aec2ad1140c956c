import type { Socket } from 'node:net';
import { Ber, BerReader, type BerWriter, BindRequest, ProtocolOperation } from 'ldapts';

/**
 * A SASL bind of several round trips on one LDAP connection (RFC 4511 §4.2, §4.2.2).
 *
 * ldapts's `bindSASL` sends one BindRequest whose credentials are a string, and decodes the
 * server's `serverSaslCreds` as UTF-8: enough for EXTERNAL and PLAIN, not for GSSAPI, whose tokens
 * are binary and whose exchange takes several requests answered with `saslBindInProgress` (14).
 * This writes the requests itself (ldapts's `BindRequest`, with binary credentials) on the
 * connection's socket, and reads the responses from the same socket with its own listener, under
 * message ids that ldapts never uses. ldapts's own listener sees those responses too and drops
 * them (no request of its own has their id). Use it on a connection with no other operation in
 * flight, and `close()` it before the connection is used for anything else.
 *
 * ```
 * BindRequest  ::= [APPLICATION 0]  SEQUENCE { version 3, name "", authentication [3] SEQUENCE {
 *                                     mechanism LDAPString, credentials OCTET STRING OPTIONAL } }
 * BindResponse ::= [APPLICATION 1]  SEQUENCE { resultCode ENUMERATED, matchedDN, diagnosticMessage,
 *                                     referral [3] OPTIONAL, serverSaslCreds [7] OCTET STRING OPTIONAL }
 * ```
 */
export class SaslBindExchange {
  static readonly SUCCESS = 0;
  static readonly IN_PROGRESS = 14;

  /** Far above the ids ldapts counts up from 1 on a connection. */
  #nextId = 2_000_000_000;
  #buffer: Buffer = Buffer.alloc(0);
  #pending: { readonly id: number; resolve(r: SaslBindResult): void; reject(e: Error): void } | undefined;
  readonly #onData = (data: Buffer) => this.#read(data);
  readonly #onClose = () => this.#fail(new Error('the connection closed during the SASL bind'));
  readonly #onError = (error: Error) => this.#fail(error);

  constructor(
    private readonly socket: Socket,
    private readonly timeoutMs: number,
  ) {
    socket.on('data', this.#onData);
    socket.once('close', this.#onClose);
    socket.on('error', this.#onError);
  }

  /** Sends one BindRequest and waits for its BindResponse (a timeout is an error with "timed out"). */
  step(mechanism: string, credentials: Uint8Array): Promise<SaslBindResult> {
    if (this.#pending) throw new Error('one SASL bind step at a time');
    if (this.socket.destroyed) throw new Error('not connected: the connection is closed');
    const id = this.#nextId++;
    return new Promise<SaslBindResult>((resolve, reject) => {
      const timer = setTimeout(
        () => this.#fail(new Error(`SASL ${mechanism} bind step timed out after ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      this.#pending = {
        id,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.socket.write(new SaslBindRequest(id, mechanism, Buffer.from(credentials)).write());
    });
  }

  /** Stops listening; the connection stays open for ldapts. */
  close(): void {
    this.socket.off('data', this.#onData);
    this.socket.off('close', this.#onClose);
    this.socket.off('error', this.#onError);
    this.#fail(new Error('the SASL bind was abandoned'));
  }

  #fail(error: Error): void {
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.reject(error);
  }

  #read(data: Buffer): void {
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, data]) : data;
    for (;;) {
      const reader = new BerReader(this.#buffer);
      let tag: number | null;
      try {
        tag = reader.readSequence();
      } catch {
        this.#fail(new Error('the directory sent something that is not an LDAP message'));
        return;
      }
      if (tag === null || reader.remain < reader.length) return; // wait for the rest
      const end = reader.offset + reader.length;
      const message = this.#buffer.subarray(0, end);
      this.#buffer = this.#buffer.subarray(end);
      const response = parseResponse(message);
      if (response.kind === 'unreadable' || response.kind === 'disconnect') {
        this.#fail(
          new Error(
            response.kind === 'unreadable'
              ? 'the directory sent an unreadable bind response'
              : `the directory ended the connection: ${response.diagnosticMessage}`,
          ),
        );
        return;
      }
      if (response.kind === 'bind' && response.id === this.#pending?.id) {
        const pending = this.#pending;
        this.#pending = undefined;
        pending.resolve(response.result);
      }
    }
  }
}

export interface SaslBindResult {
  readonly resultCode: number;
  readonly diagnosticMessage: string;
  /** The server's token for the next step (binary). */
  readonly serverSaslCreds: Buffer;
}

/** A SASL BindRequest whose credentials are bytes, not a string (ldapts writes them with `writeString`). */
class SaslBindRequest extends BindRequest {
  constructor(
    messageId: number,
    mechanism: string,
    private readonly credentials: Buffer,
  ) {
    super({ messageId, mechanism });
  }

  override writeMessage(writer: BerWriter): void {
    writer.writeInt(this.version);
    writer.writeString('');
    writer.startSequence(ProtocolOperation.LDAP_REQ_BIND_SASL);
    writer.writeString(this.mechanism ?? '');
    writer.writeBuffer(this.credentials, Ber.OctetString);
    writer.endSequence();
  }
}

const SERVER_SASL_CREDS = Ber.Context | 7;
const REFERRAL = Ber.Context | Ber.Constructor | 3;

type Response =
  | { readonly kind: 'bind'; readonly id: number; readonly result: SaslBindResult }
  | { readonly kind: 'disconnect'; readonly diagnosticMessage: string }
  | { readonly kind: 'other' }
  | { readonly kind: 'unreadable' };

/** Reads one LDAPMessage: a BindResponse, a notice of disconnection (RFC 4511 §4.4.1), or other. */
function parseResponse(message: Buffer): Response {
  try {
    const reader = new BerReader(message);
    reader.readSequence();
    const id = reader.readInt() ?? -1;
    const op = reader.readSequence();
    const disconnect = id === 0 && op === ProtocolOperation.LDAP_RES_EXTENSION;
    if (op !== ProtocolOperation.LDAP_RES_BIND && !disconnect) return { kind: 'other' };
    const resultCode = reader.readEnumeration() ?? -1;
    reader.readString(); // matchedDN
    const diagnosticMessage = reader.readString() ?? '';
    if (disconnect) return { kind: 'disconnect', diagnosticMessage };
    let serverSaslCreds: Buffer = Buffer.alloc(0);
    if (reader.peek() === REFERRAL) {
      reader.readSequence(REFERRAL);
      reader.offset += reader.length;
    }
    if (reader.peek() === SERVER_SASL_CREDS) {
      serverSaslCreds = reader.readString(SERVER_SASL_CREDS, true) ?? serverSaslCreds;
    }
    return { kind: 'bind', id, result: { resultCode, diagnosticMessage, serverSaslCreds } };
  } catch {
    return { kind: 'unreadable' };
  }
}
