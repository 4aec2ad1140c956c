import {
  type ContributionRequest,
  CredroamError,
  configurationValidator,
  DirectoryStore,
  type PluginContext,
} from '@credroam/core/api';
import { simpleBindCredentials } from './bind-credentials.js';
import { LdapSession } from './connection.js';
import { type DoctorCheck, doctor } from './doctor.js';
import { LdapDirectoryStore } from './ldap-directory.js';
import { profileFor } from './profiles.js';
import { LDAP_SETTINGS_SCHEMA, type LdapSettings } from './settings.js';

export { LdapSession } from './connection.js';
export type { DoctorCheck } from './doctor.js';
export { LdapDirectoryStore } from './ldap-directory.js';
export { AD, OPENLDAP, profileFor } from './profiles.js';
export { LDAP_SETTINGS_SCHEMA, type LdapSettings } from './settings.js';

/** What this plugin offers the agent (the `activate` result). */
export interface LdapApi {
  /** Checks reachability, TLS, bind, entry, schema and write permission; says what to fix. */
  doctor(request: ContributionRequest): Promise<DoctorCheck[]>;
}

const validate = configurationValidator(
  LDAP_SETTINGS_SCHEMA as unknown as Record<string, unknown>,
  '/directory/settings',
);

/**
 * The plugin's directory store for a contribution request (what the agent's `ldap` selection
 * gets); exported for tests that go the agent's way. The caller closes the store.
 */
export function ldapDirectoryStore(request: ContributionRequest): LdapDirectoryStore {
  return build(request).store;
}

function build(request: ContributionRequest): {
  settings: LdapSettings;
  session: LdapSession;
  store: LdapDirectoryStore;
  profile: ReturnType<typeof profileFor>;
} {
  const checked = validate(request.settings);
  if (!checked.ok)
    throw new CredroamError('E_CONFIG', `invalid ldap directory settings: ${checked.problems.join('; ')}`);
  const settings = checked.value as unknown as LdapSettings;
  if (!settings.userDn && !(settings.base && settings.filter)) {
    throw new CredroamError('E_CONFIG', 'the ldap directory needs userDn, or base and filter');
  }
  const bindDn = (settings.bindDn ?? settings.userDn)?.replaceAll('{user}', request.user);
  if (settings.bind === 'simple' && !bindDn) {
    throw new CredroamError(
      'E_CONFIG',
      'a simple bind needs userDn or bindDn (which may use {user}, as in {user}@example.org)',
    );
  }
  const profile = profileFor(settings.profile, settings.attributes);
  const session = new LdapSession(settings, simpleBindCredentials(settings, request, bindDn ?? ''));
  const store = new LdapDirectoryStore(
    session,
    profile,
    {
      name: request.user,
      ...(settings.userDn ? { dn: settings.userDn } : {}),
      ...(settings.base ? { base: settings.base } : {}),
      ...(settings.filter ? { filter: settings.filter } : {}),
    },
    settings.maxRequestBytes,
    settings.rangeSize,
  );
  return { settings, session, store, profile };
}

export function activate(context: PluginContext): LdapApi {
  context.contribute(DirectoryStore, 'ldap', ldapDirectoryStore);
  return {
    async doctor(request) {
      const { settings, session, store, profile } = build(request);
      try {
        return await doctor(settings, session, store, profile);
      } finally {
        await session.close();
      }
    },
  };
}
