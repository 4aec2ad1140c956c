import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { CredroamError } from '@credroam/core/api';
import { protocolError } from './protocol-error.js';

/** The largest reply credroam reads from a SCEP server (1 MiB); more is refused, not read. */
export const SCEP_REPLY_MAX_BYTES = 1_048_576;

/** A SCEP server's answer: the status, its content type, and the whole body. */
export interface ScepReply {
  readonly status: number;
  readonly contentType: string;
  readonly body: Uint8Array;
}

/** One exchange: a GET with `operation` and `message` in the query, or a POST of `body`. */
export interface ScepExchange {
  readonly operation: 'GetCACaps' | 'GetCACert' | 'PKIOperation';
  /** The query's `message` (a CA identifier, a base64 pkiMessage for a GET PKIOperation). */
  readonly message?: string;
  /** A POST PKIOperation's pkiMessage (DER). */
  readonly body?: Uint8Array;
}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED',
]);

/**
 * HTTP to a SCEP server (RFC 8894 §4.1): `url` with `operation` (and `message`) set in its query.
 * http: as SCEP is specified (its messages are signed and encrypted), https: verified as Node
 * verifies by default, nothing switched off. No redirect is followed, nothing pooled.
 *
 * Bounded: the whole exchange ends within `timeoutMs`, and a reply larger than
 * `SCEP_REPLY_MAX_BYTES` is cut off as it comes (`E_ENROLL_PROTOCOL`, see protocol-error.ts).
 * Unreachable (refused, reset, no route, no name, timed out) is `E_UNREACHABLE`. Any HTTP status
 * is returned, for the caller to judge. Errors name the URL without its query.
 */
export function exchange(url: string, what: ScepExchange, timeoutMs: number): Promise<ScepReply> {
  const target = new URL(url);
  target.searchParams.set('operation', what.operation);
  if (what.message !== undefined) target.searchParams.set('message', what.message);
  const shown = shownUrl(target);
  const client = target.protocol === 'https:' ? https : http;
  return new Promise<ScepReply>((resolve, reject) => {
    let settled = false;
    const finish = (error: unknown, reply?: ScepReply): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      request.destroy();
      if (error) reject(mapped(error, shown, what.operation, timeoutMs));
      else resolve(reply!);
    };
    const request = client.request(target, {
      method: what.body ? 'POST' : 'GET',
      agent: false,
      headers: {
        accept: '*/*',
        'accept-encoding': 'identity',
        'user-agent': 'credroam-enroll-scep',
        ...(what.body
          ? { 'content-type': 'application/x-pki-message', 'content-length': String(what.body.length) }
          : {}),
      },
    });
    const deadline = setTimeout(
      () => finish(Object.assign(new Error('timed out'), { code: 'CREDROAM_TIMEOUT' })),
      timeoutMs,
    );
    request.on('error', (error) => finish(error));
    request.on('response', (response) => {
      readBody(response, shown, what.operation).then(
        (body) =>
          finish(undefined, {
            status: response.statusCode ?? 0,
            contentType: (response.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase(),
            body,
          }),
        (error: unknown) => finish(error),
      );
    });
    request.end(what.body ? Buffer.from(what.body) : undefined);
  });
}

/** The URL as messages name it: scheme, host and path, never the query. */
export const shownUrl = (url: URL): string => `${url.protocol}//${url.host}${url.pathname}`;

async function readBody(response: IncomingMessage, shown: string, operation: string): Promise<Uint8Array> {
  const tooLarge = (what: string) =>
    protocolError(
      `the SCEP server at ${shown} ${what} bytes in reply to ${operation}, more than the ${SCEP_REPLY_MAX_BYTES} credroam reads: refused`,
      { url: shown, maxBytes: SCEP_REPLY_MAX_BYTES },
    );
  const announced = Number(response.headers['content-length']);
  if (Number.isFinite(announced) && announced > SCEP_REPLY_MAX_BYTES)
    throw tooLarge(`announced ${announced}`);
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > SCEP_REPLY_MAX_BYTES) throw tooLarge(`sent more than ${SCEP_REPLY_MAX_BYTES}`);
    chunks.push(chunk);
  }
  if (!response.complete)
    throw new CredroamError(
      'E_UNREACHABLE',
      `the SCEP server at ${shown} closed the connection mid-reply to ${operation}`,
      {
        url: shown,
      },
    );
  return new Uint8Array(Buffer.concat(chunks, length));
}

function mapped(error: unknown, shown: string, operation: string, timeoutMs: number): Error {
  if (error instanceof CredroamError) return error;
  const code = (error as { code?: unknown }).code;
  if (code === 'CREDROAM_TIMEOUT')
    return new CredroamError(
      'E_UNREACHABLE',
      `the SCEP server at ${shown} did not answer ${operation} within ${timeoutMs / 1000} s (timeoutSeconds)`,
      { url: shown },
    );
  if (typeof code === 'string' && UNREACHABLE.has(code))
    return new CredroamError('E_UNREACHABLE', `cannot reach the SCEP server at ${shown}: ${code}`, {
      url: shown,
    });
  if (typeof code === 'string' && /CERT|SSL|TLS|SELF_SIGNED|ISSUER/.test(code))
    return new CredroamError(
      'E_TLS_UNTRUSTED',
      `the certificate of the SCEP server at ${shown} is not trusted or does not name it (${code})`,
      { url: shown },
    );
  return new CredroamError(
    'E_UNREACHABLE',
    `${operation} to the SCEP server at ${shown} failed: ${(error as Error).message ?? String(error)}`,
    { url: shown },
  );
}
