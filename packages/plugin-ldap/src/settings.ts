import { readFile } from 'node:fs/promises';
import { CredroamError } from '@credroam/core/api';

/** The `directory.settings` of the ldap contribution in the agent manifest. */
export interface LdapSettings {
  /** `ldaps://host:port` (TLS from the start) or `ldap://host:port` (StartTLS before anything else). */
  readonly url: string;
  /** PEM file of the CA(s) that issued the server's certificate. Required: no implicit trust. */
  readonly caFile: string;
  /** The name to verify the server's certificate against, when it differs from the URL's host. */
  readonly tlsServerName?: string;
  /** The user's entry; else found under `base` with `filter` (`{user}` is replaced, escaped). */
  readonly userDn?: string;
  readonly base?: string;
  readonly filter?: string;
  /**
   * How credroam authenticates to the directory (docs/decisions/005-directory-binds.md):
   * - `gssapi`: SASL GSSAPI with the user's Kerberos ticket; no password is sent.
   * - `external`: SASL EXTERNAL with a client certificate (`clientCertFile`, `clientKeyFile`).
   * - `simple`: as `bindDn` (default the user's entry) with the password in `bindPasswordFile`
   *   (a service account), or else the roaming password: then the directory receives what opens
   *   the user's keys, and the bind is refused unless the site policy sets `trustWithPassword`.
   */
  readonly bind: 'simple' | 'external' | 'gssapi';
  readonly bindDn?: string;
  /** File with the bind password; without it a simple bind sends the roaming password (see `bind`). */
  readonly bindPasswordFile?: string;
  readonly clientCertFile?: string;
  readonly clientKeyFile?: string;
  /**
   * `gssapi`: the directory's Kerberos service as a GSS host-based name, `ldap@<host>` (its
   * principal is `ldap/<host>@<REALM>`, the realm found by krb5.conf's `domain_realm`); default
   * `ldap@` and `tlsServerName`, else the URL's host.
   */
  readonly kerberosService?: string;
  readonly profile: 'openldap' | 'ad';
  /** Attribute names, when a site's schema differs from the profile's. */
  readonly attributes?: { readonly tokens?: string; readonly keys?: string; readonly stamp?: string };
  readonly timeoutMs: number;
  /**
   * Ask for values in ranges of this many (`attr;range=0-N`), as ADSI does; without it the server
   * decides (Active Directory answers in ranges past MaxValRange, 1 500 by default).
   */
  readonly rangeSize?: number;
  /** The largest modify request sent at once; larger writes are split (slapd's default limit is 4 MiB). */
  readonly maxRequestBytes: number;
}

export const LDAP_SETTINGS_SCHEMA = {
  type: 'object',
  required: ['url', 'caFile'],
  additionalProperties: false,
  properties: {
    url: { type: 'string', pattern: '^ldaps?://[^/?#]+/?$' },
    caFile: { type: 'string', minLength: 1 },
    tlsServerName: { type: 'string', minLength: 1 },
    userDn: { type: 'string', minLength: 1 },
    base: { type: 'string', minLength: 1 },
    filter: { type: 'string', minLength: 1 },
    bind: { enum: ['simple', 'external', 'gssapi'], default: 'simple' },
    bindDn: { type: 'string', minLength: 1 },
    bindPasswordFile: { type: 'string', minLength: 1 },
    clientCertFile: { type: 'string', minLength: 1 },
    clientKeyFile: { type: 'string', minLength: 1 },
    kerberosService: { type: 'string', pattern: '^[^@\\s]+@[^@\\s]+$' },
    profile: { enum: ['openldap', 'ad'], default: 'openldap' },
    attributes: {
      type: 'object',
      additionalProperties: false,
      properties: { tokens: { type: 'string' }, keys: { type: 'string' }, stamp: { type: 'string' } },
    },
    timeoutMs: { type: 'integer', minimum: 100, maximum: 600_000, default: 15_000 },
    rangeSize: { type: 'integer', minimum: 1, maximum: 100_000 },
    maxRequestBytes: { type: 'integer', minimum: 65_536, maximum: 16_000_000, default: 4_000_000 },
  },
} as const;

/**
 * The `settings` of the ldap policy source: the directory store's (the same server, bind and TLS
 * settings), and where the signed policy bundle is. `userDn` (or `base` and `filter`) is needed
 * only to read the user's entry, or for a simple bind as the user.
 */
export interface LdapPolicySourceSettings
  extends Omit<LdapSettings, 'attributes' | 'rangeSize' | 'maxRequestBytes'> {
  /**
   * The site entry that holds the bundle (an organizationalUnit or the domain object with the
   * credroamSite class, as Group Policy lives on an OU); without it, the user's own entry.
   */
  readonly policyDn?: string;
  /** The attribute, when a site's schema names it otherwise (default `credroamPolicyBundle`). */
  readonly policyAttribute?: string;
}

const { attributes: _a, rangeSize: _r, maxRequestBytes: _m, ...storeOnly } = LDAP_SETTINGS_SCHEMA.properties;

export const LDAP_POLICY_SOURCE_SETTINGS_SCHEMA = {
  type: 'object',
  required: ['url', 'caFile'],
  additionalProperties: false,
  properties: {
    ...storeOnly,
    policyDn: { type: 'string', minLength: 1 },
    policyAttribute: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9-]*$' },
  },
} as const;

export async function readPasswordFile(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
  } catch (error) {
    throw new CredroamError(
      'E_SECRET',
      `cannot read the bind password file ${file}: ${(error as NodeJS.ErrnoException).code}`,
      { file },
    );
  }
}
