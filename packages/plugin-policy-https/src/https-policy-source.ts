import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { CredroamError, POLICY_BUNDLE_MAX_BYTES, type PolicySource } from '@credroam/core/api';
import type { HttpsPolicySettings } from './settings.js';

/** Node's certificate verification failures: the chain does not lead to the configured CA. */
const TLS_UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
]);
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * The site's signed policy bundle from an HTTPS server: one GET, the server's certificate verified
 * against the site's CA (`caFile`) and the URL's host (or `serverName`), never anything else.
 *
 * - 200: the body, byte for byte; refused (`E_POLICY_TOO_LARGE`) as soon as it announces or sends
 *   more than `POLICY_BUNDLE_MAX_BYTES`: the connection is cut, nothing more is read.
 * - 404: the server holds no bundle (`undefined`).
 * - 304, to a conditional GET: the bundle this source fetched last is unchanged. After a 200 with
 *   an `ETag`, the next fetch sends `If-None-Match` with it; the bytes it returns are then the ones
 *   kept in memory (never a file: a bundle is re-verified by core each time anyway). A 304 to a
 *   request that was not conditional is an error.
 * - A redirect is not followed, to HTTPS or anywhere else (`E_POLICY_SOURCE`, naming where it
 *   pointed): the address in the agent manifest is the one the site's administrators chose and the
 *   site's CA vouches for; a redirect that any writer of the web server's configuration can add
 *   would send endpoints elsewhere. Set `url` to the final address instead.
 * - Any other status, or a compressed body (none is asked for), is `E_POLICY_SOURCE`.
 * - No answer (refused, reset, no route, or nothing within `timeoutSeconds` for the whole fetch):
 *   `E_UNREACHABLE`.
 *
 * The URL's query is never repeated in errors (a site may put a token there).
 */
export class HttpsPolicySource implements PolicySource {
  readonly #url: URL;
  /** The URL as errors name it: no query. */
  readonly #shown: string;
  /** The last 200's validator and body, for a conditional GET. */
  #last: { readonly etag: string; readonly body: Uint8Array } | undefined;

  constructor(private readonly settings: HttpsPolicySettings) {
    this.#url = new URL(settings.url);
    this.#shown = `https://${this.#url.host}${this.#url.pathname}`;
  }

  async fetch(): Promise<Uint8Array | undefined> {
    const s = this.settings;
    const ca = await readFile(s.caFile).catch((error: NodeJS.ErrnoException) => {
      throw new CredroamError('E_CONFIG', `cannot read caFile ${s.caFile}: ${error.code}`, {
        file: s.caFile,
      });
    });
    const timeoutMs = s.timeoutSeconds * 1000;
    const last = this.#last;
    return new Promise<Uint8Array | undefined>((resolve, reject) => {
      let settled = false;
      const finish = (error: unknown, value?: Uint8Array) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        request.destroy();
        if (error) reject(this.#map(error, timeoutMs));
        else resolve(value);
      };
      const request = https.request(this.#url, {
        method: 'GET',
        ca,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
        // A fresh connection per fetch, closed after it: no pool that outlives it.
        agent: false,
        headers: {
          accept: 'application/pkcs7-mime, application/octet-stream',
          'accept-encoding': 'identity',
          'user-agent': 'credroam-policy-https',
          ...(last ? { 'if-none-match': last.etag } : {}),
        },
        ...(s.serverName
          ? {
              servername: s.serverName,
              checkServerIdentity: (_host: string, cert: PeerCertificate) =>
                checkServerIdentity(s.serverName!, cert),
            }
          : {}),
      });
      const deadline = setTimeout(
        () => finish(Object.assign(new Error('timed out'), { code: 'CREDROAM_TIMEOUT' })),
        timeoutMs,
      );
      request.on('error', (error) => finish(error));
      request.on('response', (response) => {
        this.#read(response, last).then(
          (value) => finish(undefined, value),
          (error: unknown) => finish(error),
        );
      });
      request.end();
    });
  }

  /** The body of a 200, within the bound; undefined for a 404; an error for anything else. */
  async #read(
    response: IncomingMessage,
    last: { readonly etag: string; readonly body: Uint8Array } | undefined,
  ): Promise<Uint8Array | undefined> {
    const status = response.statusCode ?? 0;
    const ids = { url: this.#shown, status };
    if (status === 404) {
      this.#last = undefined;
      response.resume();
      return undefined;
    }
    if (status === 304 && last) {
      response.resume();
      return last.body.slice();
    }
    if (status >= 300 && status < 400 && status !== 304) {
      const location = response.headers.location;
      throw new CredroamError(
        'E_POLICY_SOURCE',
        `${this.#shown} answered ${status}, a redirect${location ? ` to ${redacted(location, this.#url)}` : ''}: ` +
          'credroam follows no redirect for the policy bundle. Set url in the https policy source settings to the final address',
        { ...ids, ...(location ? { location: redacted(location, this.#url) } : {}) },
      );
    }
    if (status !== 200) {
      throw new CredroamError(
        'E_POLICY_SOURCE',
        `${this.#shown} answered ${status}${response.statusMessage ? ` ${response.statusMessage}` : ''}, ` +
          'where 200 (the bundle) or 404 (none published) was expected: check the web server',
        ids,
      );
    }
    const encoding = response.headers['content-encoding'];
    if (encoding && encoding !== 'identity') {
      throw new CredroamError(
        'E_POLICY_SOURCE',
        `${this.#shown} sent the bundle with Content-Encoding ${encoding}, which credroam did not ask for: ` +
          'serve the file as it is (application/pkcs7-mime or application/octet-stream, no compression)',
        ids,
      );
    }
    const announced = Number(response.headers['content-length']);
    if (Number.isFinite(announced) && announced > POLICY_BUNDLE_MAX_BYTES)
      throw this.#tooLarge(`announces ${announced}`);
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of response as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (length > POLICY_BUNDLE_MAX_BYTES) throw this.#tooLarge(`sent more than ${POLICY_BUNDLE_MAX_BYTES}`);
      chunks.push(chunk);
    }
    if (!response.complete) {
      throw new CredroamError(
        'E_UNREACHABLE',
        `${this.#shown} closed the connection before the whole bundle came`,
        ids,
      );
    }
    const body = new Uint8Array(Buffer.concat(chunks, length));
    const etag = response.headers.etag;
    this.#last = etag && etag.length <= 256 ? { etag, body: body.slice() } : undefined;
    return body;
  }

  #tooLarge(what: string): CredroamError {
    return new CredroamError(
      'E_POLICY_TOO_LARGE',
      `${this.#shown} ${what} bytes, more than the ${POLICY_BUNDLE_MAX_BYTES} a policy bundle may: refused, the rest not read. ` +
        'Publish the signed bundle itself (DER)',
      { url: this.#shown, maxBytes: POLICY_BUNDLE_MAX_BYTES },
    );
  }

  #map(error: unknown, timeoutMs: number): Error {
    if (error instanceof CredroamError) return error;
    const e = error as { code?: unknown; message?: string };
    const ids = { url: this.#shown };
    const code = typeof e.code === 'string' ? e.code : undefined;
    if (code === 'CREDROAM_TIMEOUT') {
      return new CredroamError(
        'E_UNREACHABLE',
        `${this.#shown} did not deliver the policy bundle within ${timeoutMs / 1000} s (timeoutSeconds)`,
        ids,
      );
    }
    if (code && TLS_UNTRUSTED.has(code)) {
      return new CredroamError(
        'E_TLS_UNTRUSTED',
        `the certificate of ${this.#url.host} is not trusted (${code}): set caFile to the site's CA that issued it`,
        ids,
      );
    }
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      return new CredroamError(
        'E_TLS_HOSTNAME',
        `the certificate of ${this.#url.host} does not name it: ${e.message}; use a name it carries in url, or set serverName`,
        ids,
      );
    }
    if (code && UNREACHABLE.has(code)) {
      return new CredroamError('E_UNREACHABLE', `cannot reach ${this.#shown}: ${code}`, ids);
    }
    return new CredroamError(
      'E_POLICY_SOURCE',
      `fetching the policy bundle from ${this.#shown} failed: ${e.message ?? String(error)}${code ? ` (${code})` : ''}`,
      ids,
    );
  }
}

/** A redirect's target as errors may name it: resolved against the URL, without a query. */
function redacted(location: string, base: URL): string {
  try {
    const u = new URL(location, base);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return 'an address that is not a URL';
  }
}
