import http from 'node:http';
import https from 'node:https';
import { CredroamError } from '@credroam/core/api';

/**
 * CMP over HTTP (RFC 6712): one POST of `application/pkixcmp`, one reply of the same type. The
 * reply is bounded (`MAX_REPLY_BYTES`) and the whole exchange (connect, send, read) by the
 * timeout. HTTPS verifies the server as Node does by default (there is no switch to turn it off).
 * No redirects are followed.
 */
export const MAX_REPLY_BYTES = 1024 * 1024;
const CONTENT_TYPE = 'application/pkixcmp';

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
]);
const TLS_HOSTNAME = new Set(['ERR_TLS_CERT_ALTNAME_INVALID']);

export interface PostOptions {
  readonly url: URL;
  readonly body: Uint8Array;
  readonly timeoutMs: number;
}

export function postCmp({ url, body, timeoutMs }: PostOptions): Promise<Uint8Array> {
  const where = `${url.protocol}//${url.host}${url.pathname}`;
  return new Promise((resolve, reject) => {
    const fail = (error: CredroamError): void => {
      request.destroy();
      reject(error);
    };
    const client = url.protocol === 'https:' ? https : http;
    const request = client.request(url, {
      method: 'POST',
      agent: false,
      headers: { 'content-type': CONTENT_TYPE, 'content-length': body.length, connection: 'close' },
    });
    const timer = setTimeout(
      () =>
        fail(
          new CredroamError(
            'E_UNREACHABLE',
            `the CMP server at ${where} did not answer within ${timeoutMs / 1000} s`,
            { url: where },
          ),
        ),
      timeoutMs,
    );
    request.once('close', () => clearTimeout(timer));
    request.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const code = error.code ?? '';
      if (TLS_HOSTNAME.has(code))
        reject(
          new CredroamError('E_TLS_HOSTNAME', `the CMP server's certificate does not name ${url.hostname}`, {
            url: where,
          }),
        );
      else if (UNREACHABLE.has(code) || !/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO/.test(code))
        reject(
          new CredroamError(
            'E_UNREACHABLE',
            `the CMP server at ${where} cannot be reached (${code || error.message})`,
            { url: where },
          ),
        );
      else
        reject(
          new CredroamError(
            'E_TLS_UNTRUSTED',
            `the CMP server's certificate at ${where} is not trusted (${code})`,
            { url: where },
          ),
        );
    });
    request.on('response', (response) => {
      const status = response.statusCode ?? 0;
      if (status !== 200) {
        response.resume();
        fail(
          new CredroamError(
            'E_ENROLL_REFUSED',
            `the CMP server at ${where} answered HTTP ${status}${status >= 300 && status < 400 ? ' (a redirect: not followed)' : ''}`,
            {
              url: where,
              status,
            },
          ),
        );
        return;
      }
      const type = (response.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
      if (type !== CONTENT_TYPE) {
        fail(
          new CredroamError(
            'E_ENROLL_PROTOCOL',
            `the CMP server at ${where} answered ${JSON.stringify(type ?? '')}, not ${CONTENT_TYPE}: is the URL a CMP endpoint?`,
            {
              url: where,
            },
          ),
        );
        return;
      }
      const declared = Number(response.headers['content-length'] ?? 0);
      if (declared > MAX_REPLY_BYTES) {
        fail(tooLarge(where));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_REPLY_BYTES) fail(tooLarge(where));
        else chunks.push(chunk);
      });
      response.once('end', () => {
        clearTimeout(timer);
        if (size <= MAX_REPLY_BYTES) resolve(new Uint8Array(Buffer.concat(chunks)));
      });
      response.once('error', () =>
        fail(
          new CredroamError('E_UNREACHABLE', `the CMP server at ${where} closed the connection mid-reply`, {
            url: where,
          }),
        ),
      );
    });
    request.end(body);
  });
}

const tooLarge = (where: string): CredroamError =>
  new CredroamError(
    'E_ENROLL_PROTOCOL',
    `the CMP server at ${where} sent a reply larger than ${MAX_REPLY_BYTES} bytes: refused`,
    {
      url: where,
    },
  );
