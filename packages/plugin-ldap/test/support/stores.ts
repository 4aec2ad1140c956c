import { LdapDirectoryStore, LdapSession, type LdapSettings, profileFor } from '../../src/index.js';
import { type Slapd, userDn } from '../../src/testing/slapd.js';

/** A directory store for `uid` on `server`, bound as that user with its password. */
export function storeFor(
  server: Slapd,
  uid: string,
  overrides: Partial<LdapSettings> & { password?: string; bindAs?: string } = {},
): LdapDirectoryStore {
  const settings: LdapSettings = {
    url: server.ldapsUrl,
    caFile: server.tls.ca,
    bind: 'simple',
    profile: 'openldap',
    timeoutMs: 5000,
    maxRequestBytes: 4_000_000,
    ...overrides,
  };
  const bindUid = overrides.bindAs ?? uid;
  const session = new LdapSession(settings, async () => ({
    dn: userDn(bindUid),
    password: async () => overrides.password ?? `${bindUid} password`,
  }));
  return new LdapDirectoryStore(
    session,
    profileFor(settings.profile, settings.attributes),
    {
      ...(settings.base ? {} : { dn: settings.userDn ?? userDn(uid) }),
      name: uid,
      ...(settings.base ? { base: settings.base } : {}),
      ...(settings.filter ? { filter: settings.filter } : {}),
    },
    settings.maxRequestBytes,
  );
}

export const enc = (s: string) => new TextEncoder().encode(s);
export const dec = (v: readonly Uint8Array[]) => v.map((x) => new TextDecoder().decode(x)).sort();
