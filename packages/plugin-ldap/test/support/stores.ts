import { type LdapDirectoryStore, type LdapSettings, ldapDirectoryStore } from '../../src/index.js';
import { type Slapd, userDn } from '../../src/testing/slapd.js';

/**
 * A directory store for `uid` on `server`, made as the agent makes it (the plugin's contribution),
 * bound as that user with its password as the roaming password: a simple bind that the site policy
 * must trust the directory with, and here does (`trustWithPassword`). `bind` and its settings in
 * `overrides` bind otherwise.
 */
export function storeFor(
  server: Slapd,
  uid: string,
  overrides: Partial<LdapSettings> & { password?: string; bindAs?: string; trustWithPassword?: boolean } = {},
): LdapDirectoryStore {
  const { password, bindAs, trustWithPassword = true, ...settings } = overrides;
  const bindUid = bindAs ?? uid;
  return ldapDirectoryStore({
    user: uid,
    home: server.dir,
    settings: {
      url: server.ldapsUrl,
      caFile: server.tls.ca,
      bind: 'simple',
      ...(settings.base ? {} : { userDn: userDn(uid) }),
      bindDn: userDn(bindUid),
      ...settings,
    },
    policy: { trustWithPassword },
    password: async () => password ?? `${bindUid} password`,
  });
}

export const enc = (s: string) => new TextEncoder().encode(s);
export const dec = (v: readonly Uint8Array[]) => v.map((x) => new TextDecoder().decode(x)).sort();
