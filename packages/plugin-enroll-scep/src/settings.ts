import { CredroamError } from '@credroam/core/api';
import { configurationValidator } from '@credroam/core/kit';

/** The `ca.settings` of a SCEP enrollment profile. */
export interface ScepSettings {
  /**
   * The CA identifier some servers (an NDES, a multi-CA server) need, sent as the `message` of
   * GetCACaps and GetCACert (RFC 8894 §4.2). Printable ASCII; not a secret.
   */
  readonly caIdentifier?: string;
  /** Each HTTP exchange with the CA (connect, request, whole reply) must end within this many seconds (default 30). */
  readonly timeoutSeconds: number;
}

export const SCEP_SETTINGS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    caIdentifier: { type: 'string', minLength: 1, maxLength: 256, pattern: '^[\\x21-\\x7e]+$' },
    timeoutSeconds: { type: 'integer', minimum: 1, maximum: 300, default: 30 },
  },
} as const;

const validate = configurationValidator(
  SCEP_SETTINGS_SCHEMA as unknown as Record<string, unknown>,
  '/enrollers/scep/settings',
);

/** Checks a profile's `ca.settings` (absent is `{}`), defaults applied. */
export function scepSettings(raw: unknown): ScepSettings {
  const checked = validate(raw ?? {});
  if (!checked.ok)
    throw new CredroamError('E_CONFIG', `invalid scep enroller settings: ${checked.problems.join('; ')}`, {
      contribution: 'scep',
    });
  return checked.value as unknown as ScepSettings;
}
