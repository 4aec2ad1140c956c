import { CredroamError } from '@credroam/core/api';
import { configurationValidator } from '@credroam/core/kit';

/** The `settings` of the `https` policy source in the agent manifest. */
export interface HttpsPolicySettings {
  /** Where the signed bundle is: an `https:` URL, no user name or password in it. */
  readonly url: string;
  /**
   * PEM file of the site's CA(s), the only ones trusted for this server. Required: with the
   * system's public CAs, anyone who can get a certificate for the name from any of them (or a
   * TLS-inspecting proxy with a CA the system trusts) could answer in the server's place. That
   * cannot change what an endpoint obeys (the bundle's signature is checked), but it can withhold
   * the site's bundles; the site's own CA keeps the answer to the site's own server.
   */
  readonly caFile: string;
  /** The whole fetch (connect, TLS, headers, body) must end within this many seconds (default 30). */
  readonly timeoutSeconds: number;
  /** The name the server's certificate must carry (and sent as SNI), when it differs from the URL's host. */
  readonly serverName?: string;
}

export const HTTPS_POLICY_SETTINGS_SCHEMA = {
  type: 'object',
  required: ['url', 'caFile'],
  additionalProperties: false,
  properties: {
    url: { type: 'string', minLength: 1 },
    caFile: { type: 'string', minLength: 1 },
    timeoutSeconds: { type: 'integer', minimum: 1, maximum: 300, default: 30 },
    serverName: { type: 'string', pattern: '^[A-Za-z0-9.-]+$' },
  },
} as const;

const validate = configurationValidator(
  HTTPS_POLICY_SETTINGS_SCHEMA as unknown as Record<string, unknown>,
  '/policySources/https/settings',
);

/** Checks the settings: an `https:` URL only (plain HTTP is refused here, before anything runs). */
export function httpsPolicySettings(raw: unknown): HttpsPolicySettings {
  const checked = validate(raw);
  if (!checked.ok)
    throw new CredroamError(
      'E_CONFIG',
      `invalid https policy source settings: ${checked.problems.join('; ')}`,
    );
  const settings = checked.value as unknown as HttpsPolicySettings;
  let url: URL;
  try {
    url = new URL(settings.url);
  } catch {
    throw new CredroamError('E_CONFIG', `the https policy source's url '${settings.url}' is not a URL`, {
      url: settings.url,
    });
  }
  if (url.protocol !== 'https:') {
    throw new CredroamError(
      'E_CONFIG',
      `the https policy source's url must be https:, not ${url.protocol} (plain HTTP is never used: ` +
        'whoever is on the network could withhold bundles unseen); serve the bundle over HTTPS',
      { url: `${url.protocol}//${url.host}${url.pathname}` },
    );
  }
  if (url.username || url.password) {
    throw new CredroamError(
      'E_CONFIG',
      "the https policy source's url carries a user name or password: remove it (a bundle is public, signed data; " +
        'the settings are not a place for secrets)',
      { url: `https://${url.host}${url.pathname}` },
    );
  }
  return settings;
}
