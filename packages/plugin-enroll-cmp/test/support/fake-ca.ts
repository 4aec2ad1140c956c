import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as asn1js from 'asn1js';
import type { ExecutionContext } from 'ava';
import { decode, der, explicit, integer, seq } from '../../src/asn1/der.js';
import { BODY, type ReceivedMessage, readPkiMessage } from '../../src/asn1/pki-message.js';
import { protectedMessage } from '../../src/messages.js';

/**
 * A hand-made CMP server on node:http (this side's loopback, port 0), to send what OpenSSL's mock
 * server never would. `answer` gets each request as read and returns the reply's bytes (or writes
 * the response itself and returns undefined).
 */
export interface FakeCa {
  readonly url: string;
  readonly requests: ReceivedMessage[];
}

export async function fakeCa(
  t: ExecutionContext,
  answer: (request: ReceivedMessage, response: http.ServerResponse) => Uint8Array | undefined,
): Promise<FakeCa> {
  const requests: ReceivedMessage[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const message = readPkiMessage(Buffer.concat(chunks));
      requests.push(message);
      const body = answer(message, res);
      if (body === undefined) return;
      res.writeHead(200, { 'content-type': 'application/pkixcmp' });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/pkix/`, requests };
}

export interface ReplyOptions {
  readonly secret: string;
  readonly certificate: Uint8Array;
  readonly caCertificate: Uint8Array;
  readonly transactionID?: Uint8Array;
  readonly recipNonce?: Uint8Array;
}

const emptyName = () => seq();

/** The reply a good CA makes to `request`: ip (or kup) with the certificate, pkiConf to certConf. */
export function reply(request: ReceivedMessage, o: ReplyOptions): Uint8Array {
  const context = {
    sender: emptyName(),
    recipient: emptyName(),
    reference: 'fake-ca',
    secret: o.secret,
    pbmIterations: 1000,
    transactionID: o.transactionID ?? request.transactionID!,
  };
  const recipNonce = o.recipNonce ?? request.senderNonce!;
  if (request.bodyType === BODY.certConf)
    return protectedMessage(context, BODY.pkiconf, new asn1js.Null(), recipNonce).der;
  const certRep = seq(
    explicit(1, seq(decode(o.caCertificate, 'ca'))),
    seq(seq(integer(0), seq(integer(0)), seq(explicit(0, decode(o.certificate, 'cert'))))),
  );
  return protectedMessage(context, request.bodyType === BODY.kur ? BODY.kup : BODY.ip, certRep, recipNonce)
    .der;
}

/** The same message without its protection. */
export function unprotected(message: Uint8Array): Uint8Array {
  const m = readPkiMessage(message);
  return der(seq(decode(m.headerDer, 'header'), decode(m.bodyDer, 'body')));
}
