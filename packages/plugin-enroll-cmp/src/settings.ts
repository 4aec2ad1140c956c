import { CredroamError } from '@credroam/core/api';
import { configurationValidator, parseDistinguishedName } from '@credroam/core/kit';

/** The profile's `ca.settings` for the `cmp` enroller (the CA's URL and pinned fingerprint are the profile's `ca`). */
export interface CmpSettings {
  /**
   * The reference the CA knows the shared secret by: sent as the senderKID of every request's
   * password-based MAC (RFC 4210 §5.1.3.1; `openssl cmp -ref`, the mock server's `-srv_ref`).
   */
  readonly reference: string;
  /** The HTTP path on the CA's server (the CMP alias), when it is not the URL's own path. */
  readonly path?: string;
  /** The CA's name (RFC 4514) as the requests' recipient; the empty name (NULL-DN) when absent. */
  readonly recipient?: string;
  /** Each message's round trip (connect, send, the whole reply) must end within this many seconds (default 30). */
  readonly timeoutSeconds: number;
  /** The PBM iteration count of requests (default 10 000; RFC 9483 §6: at least 1 000 … at most 100 000 here). */
  readonly pbmIterations: number;
}

export const CMP_SETTINGS_SCHEMA = {
  type: 'object',
  required: ['reference'],
  additionalProperties: false,
  properties: {
    reference: { type: 'string', minLength: 1, maxLength: 256 },
    path: { type: 'string', pattern: '^/[\\x21-\\x7e]*$', maxLength: 1024 },
    recipient: { type: 'string', maxLength: 1024 },
    timeoutSeconds: { type: 'integer', minimum: 1, maximum: 300, default: 30 },
    pbmIterations: { type: 'integer', minimum: 1000, maximum: 100000, default: 10000 },
  },
} as const;

const validate = configurationValidator(
  CMP_SETTINGS_SCHEMA as unknown as Record<string, unknown>,
  '/enrollers/cmp/settings',
);

/** Checks the settings (the schema, and a recipient that parses as RFC 4514); defaults filled in. */
export function cmpSettings(raw: unknown): CmpSettings {
  const checked = validate(raw);
  if (!checked.ok)
    throw new CredroamError('E_CONFIG', `invalid cmp enroller settings: ${checked.problems.join('; ')}`);
  const settings = checked.value as unknown as Partial<CmpSettings> & { reference: string };
  if (settings.recipient !== undefined) {
    const parsed = parseDistinguishedName(settings.recipient);
    if (!parsed.ok)
      throw new CredroamError(
        'E_CONFIG',
        `the cmp enroller's recipient is not an RFC 4514 name: ${parsed.reason}`,
      );
  }
  return { timeoutSeconds: 30, pbmIterations: 10_000, ...settings };
}
