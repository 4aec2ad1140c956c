import { CredroamError } from '@credroam/core/api';

/** How a profile names its attributes and encodes values. */
export interface Profile {
  readonly attributes: { readonly tokens: string; readonly keys: string; readonly stamp: string };
  encode(value: Uint8Array, userDn: string): Buffer | string;
  /** Undefined for a value that is not in this profile's form (it is left alone). */
  decode(value: Buffer | string): Uint8Array | undefined;
  /** Values are strings (DN-binary) rather than octets. */
  readonly textual: boolean;
}

/** OpenLDAP with credroam's schema: octet-string values. */
export const OPENLDAP: Profile = {
  attributes: { tokens: 'credroamToken', keys: 'credroamKey', stamp: 'credroamStamp' },
  encode: (value) => Buffer.from(value),
  decode: (value) => new Uint8Array(typeof value === 'string' ? Buffer.from(value, 'binary') : value),
  textual: false,
};

/**
 * Active Directory and Samba AD: DN-binary values `B:<hex digit count>:<HEX>:<the user's own DN>`,
 * in linked attributes (the only kind AD replicates value by value).
 */
export const AD: Profile = {
  attributes: { tokens: 'credroamToken', keys: 'credroamKey', stamp: 'credroamStamp' },
  encode: (value, userDn) => {
    const hex = Buffer.from(value).toString('hex').toUpperCase();
    return `B:${hex.length}:${hex}:${userDn}`;
  },
  decode: (raw) => {
    const s = typeof raw === 'string' ? raw : raw.toString('utf8');
    const m = /^B:(\d+):([0-9A-Fa-f]*):/.exec(s);
    if (!m || Number(m[1]) !== m[2]!.length || m[2]!.length % 2 !== 0) return undefined;
    return new Uint8Array(Buffer.from(m[2]!, 'hex'));
  },
  textual: true,
};

export function profileFor(name: 'openldap' | 'ad', overrides?: Partial<Profile['attributes']>): Profile {
  const base = name === 'ad' ? AD : name === 'openldap' ? OPENLDAP : undefined;
  if (!base) throw new CredroamError('E_CONFIG', `unknown LDAP profile '${name}'`, { profile: name });
  return { ...base, attributes: { ...base.attributes, ...overrides } };
}
