import { CredroamError } from '@credroam/core/api';
import { caCertificatesOf } from './ca-certs.js';
import type { ScepSettings } from './settings.js';
import { exchange, type ScepReply, shownUrl } from './transport.js';

/**
 * The three operations of a SCEP server (RFC 8894 §4): GetCACert, GetCACaps and PKIOperation, over
 * `transport.ts`. A reply other than 200 to GetCACert or PKIOperation is the server refusing
 * (`E_ENROLL_REFUSED`, with the status and a short printable part of the body).
 */
export class ScepCaClient {
  /** The URL as messages name it (no query). */
  readonly shown: string;
  readonly #timeoutMs: number;

  constructor(
    private readonly url: string,
    private readonly settings: ScepSettings,
    /** Words that must never appear in an error (the challenge). */
    private readonly secrets: readonly string[] = [],
  ) {
    this.shown = shownUrl(checkedUrl(url));
    this.#timeoutMs = settings.timeoutSeconds * 1000;
  }

  /** GetCACert: the CA's certificates (DER), not yet checked against the pin. */
  async caCertificates(): Promise<Uint8Array[]> {
    const reply = await this.#get('GetCACert', this.settings.caIdentifier);
    return caCertificatesOf(this.#ok(reply, 'GetCACert'), this.shown);
  }

  /** GetCACaps: the capabilities the server names (`POSTPKIOperation`, `AES`, …); none when it does not answer 200. */
  async capabilities(): Promise<ReadonlySet<string>> {
    const reply = await this.#get('GetCACaps', this.settings.caIdentifier);
    if (reply.status !== 200) return new Set();
    const text = Buffer.from(reply.body).toString('latin1');
    return new Set(
      text
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => /^[\x21-\x7e]{1,64}$/.test(l)),
    );
  }

  /** PKIOperation: POST when the server takes it (POSTPKIOperation or SCEPStandard), else GET with base64. */
  async pkiOperation(message: Uint8Array, caps: ReadonlySet<string>): Promise<Uint8Array> {
    const post = caps.has('POSTPKIOperation') || caps.has('SCEPStandard');
    const reply = post
      ? await exchange(this.url, { operation: 'PKIOperation', body: message }, this.#timeoutMs)
      : await this.#get('PKIOperation', Buffer.from(message).toString('base64'));
    return this.#ok(reply, 'PKIOperation');
  }

  #get(
    operation: 'GetCACaps' | 'GetCACert' | 'PKIOperation',
    message: string | undefined,
  ): Promise<ScepReply> {
    return exchange(this.url, { operation, ...(message !== undefined ? { message } : {}) }, this.#timeoutMs);
  }

  #ok(reply: ScepReply, operation: string): Uint8Array {
    if (reply.status === 200) return reply.body;
    throw new CredroamError(
      'E_ENROLL_REFUSED',
      `the SCEP server at ${this.shown} answered ${operation} with HTTP ${reply.status}${excerpt(reply.body, this.secrets)}`,
      { url: this.shown, status: reply.status },
    );
  }
}

/** At most 200 printable characters of a body, quoted, with any secret blotted out; empty for none. */
function excerpt(body: Uint8Array, secrets: readonly string[]): string {
  let text = Buffer.from(body.subarray(0, 4096))
    .toString('latin1')
    .replace(/[^\x20-\x7e]+/g, ' ')
    .trim();
  for (const secret of secrets) if (secret !== '') text = text.split(secret).join('…');
  text = text.slice(0, 200);
  return text === '' ? '' : `: "${text}"`;
}

/** The profile's `ca.url`: http: or https:, with no user name or password, or `E_POLICY`. */
function checkedUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CredroamError('E_POLICY', "an enrollment profile's ca.url is not a URL");
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new CredroamError('E_POLICY', `a SCEP ca.url must be http: or https:, not ${parsed.protocol}`, {
      url: shownUrl(parsed),
    });
  if (parsed.username || parsed.password)
    throw new CredroamError('E_POLICY', 'a SCEP ca.url must not carry a user name or password', {
      url: shownUrl(parsed),
    });
  return parsed;
}
