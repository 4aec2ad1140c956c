import { type ContributionRequest, CredroamError } from '@credroam/core/api';
import type { BindCredentials } from './connection.js';
import { type LdapSettings, readPasswordFile } from './settings.js';

/**
 * What each bind gives the directory (R11; docs/decisions/005-directory-binds.md):
 *
 * | bind | the directory receives | opens the user's keys? |
 * |---|---|---|
 * | `gssapi` | a Kerberos service ticket for itself | no |
 * | `external` | the client certificate (TLS) | no |
 * | `simple` + `bindPasswordFile` | a service account's password | no (the account can write entries) |
 * | `simple`, no file | the roaming password | **yes**: allowed only when the policy trusts the directory |
 */
export type BindKind = 'gssapi' | 'external' | 'service-account' | 'roaming-password';

export function bindKind(settings: LdapSettings): BindKind {
  if (settings.bind !== 'simple') return settings.bind;
  return settings.bindPasswordFile ? 'service-account' : 'roaming-password';
}

/** The directory section of the site policy, read when a bind happens (a refresh applies from the next one). */
export function trustsDirectoryWithPassword(request: Pick<ContributionRequest, 'policy'>): boolean {
  return request.policy.trustWithPassword === true;
}

/**
 * The credentials of a simple bind, settled before any connection: with the roaming password only
 * when the site policy says it trusts the directory with it; else an error that says what to do.
 */
export function simpleBindCredentials(
  settings: LdapSettings,
  request: Pick<ContributionRequest, 'policy' | 'password'>,
  dn: string,
): () => Promise<BindCredentials> {
  return async () => {
    if (settings.bindPasswordFile) {
      const file = settings.bindPasswordFile;
      return { dn, password: () => readPasswordFile(file) };
    }
    if (!trustsDirectoryWithPassword(request)) throw untrusted(settings.url);
    return request.password ? { dn, password: request.password } : { dn };
  };
}

function untrusted(url: string): CredroamError {
  return new CredroamError(
    'E_BIND_UNTRUSTED',
    `refusing a simple bind to ${url} with the roaming password: whoever runs the directory would ` +
      'receive it and could open every private key of this user. Bind with "gssapi" (Kerberos) or ' +
      '"external" (a client certificate), or as a service account (bindPasswordFile); or, if the ' +
      "site trusts the directory and its operators with users' passwords, set " +
      '"directory": {"trustWithPassword": true} in the site policy (docs/admin/ldap.md)',
    { url },
  );
}
