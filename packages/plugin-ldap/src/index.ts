import {
  type ContributionRequest,
  CredroamError,
  DirectoryStore,
  type PluginContext,
  PolicySource,
} from '@credroam/core/api';
import { configurationValidator } from '@credroam/core/kit';
import { simpleBindCredentials } from './bind-credentials.js';
import { LdapSession } from './connection.js';
import { type DoctorCheck, doctor } from './doctor.js';
import { LdapDirectoryStore } from './ldap-directory.js';
import { LdapPolicySource, POLICY_BUNDLE_ATTRIBUTE } from './ldap-policy-source.js';
import { profileFor } from './profiles.js';
import {
  LDAP_POLICY_SOURCE_SETTINGS_SCHEMA,
  LDAP_SETTINGS_SCHEMA,
  type LdapPolicySourceSettings,
  type LdapSettings,
} from './settings.js';

export { LdapSession } from './connection.js';
export type { DoctorCheck } from './doctor.js';
export { LdapDirectoryStore } from './ldap-directory.js';
export { LdapPolicySource, POLICY_BUNDLE_ATTRIBUTE } from './ldap-policy-source.js';
export { AD, OPENLDAP, profileFor } from './profiles.js';
export {
  LDAP_POLICY_SOURCE_SETTINGS_SCHEMA,
  LDAP_SETTINGS_SCHEMA,
  type LdapPolicySourceSettings,
  type LdapSettings,
} from './settings.js';

/** What this plugin offers the agent (the `activate` result). */
export interface LdapApi {
  /** Checks reachability, TLS, bind, entry, schema and write permission; says what to fix. */
  doctor(request: ContributionRequest): Promise<DoctorCheck[]>;
}

const validate = configurationValidator(
  LDAP_SETTINGS_SCHEMA as unknown as Record<string, unknown>,
  '/directory/settings',
);

const validatePolicySource = configurationValidator(
  LDAP_POLICY_SOURCE_SETTINGS_SCHEMA as unknown as Record<string, unknown>,
  '/policySources/settings',
);

/**
 * The plugin's policy source for a contribution request (what the agent's `ldap` policy source
 * gets): the signed bundle in `credroamPolicyBundle` of the site entry `policyDn`, else of the
 * user's entry, read over the same connection code, binds and TLS as the directory store.
 */
export function ldapPolicySource(request: ContributionRequest): LdapPolicySource {
  const checked = validatePolicySource(request.settings);
  if (!checked.ok)
    throw new CredroamError(
      'E_CONFIG',
      `invalid ldap policy source settings: ${checked.problems.join('; ')}`,
    );
  const { policyDn, policyAttribute, ...rest } = checked.value as unknown as LdapPolicySourceSettings;
  const settings: LdapSettings = { ...rest, maxRequestBytes: 4_000_000 };
  if (!policyDn && !settings.userDn && !(settings.base && settings.filter)) {
    throw new CredroamError(
      'E_CONFIG',
      "the ldap policy source needs policyDn (the site entry that holds the bundle), or the user's entry: userDn, or base and filter",
    );
  }
  const { session, store } = connect(settings, request);
  const entry = policyDn ? async () => policyDn : () => store.dn();
  return new LdapPolicySource(session, entry, policyAttribute ?? POLICY_BUNDLE_ATTRIBUTE, settings.url);
}

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
  const { session, store } = connect(settings, request);
  return { settings, session, store, profile: profileFor(settings.profile, settings.attributes) };
}

/** The session (connection, TLS, bind) and the user's entry, as the settings say; shared by the store and the policy source. */
function connect(
  settings: LdapSettings,
  request: ContributionRequest,
): { session: LdapSession; store: LdapDirectoryStore } {
  const bindDn = (settings.bindDn ?? settings.userDn)?.replaceAll('{user}', request.user);
  if (settings.bind === 'simple' && !bindDn) {
    throw new CredroamError(
      'E_CONFIG',
      'a simple bind needs userDn or bindDn (which may use {user}, as in {user}@example.org)',
    );
  }
  const session = new LdapSession(settings, simpleBindCredentials(settings, request, bindDn ?? ''));
  const store = new LdapDirectoryStore(
    session,
    profileFor(settings.profile, settings.attributes),
    {
      name: request.user,
      ...(settings.userDn ? { dn: settings.userDn } : {}),
      ...(settings.base ? { base: settings.base } : {}),
      ...(settings.filter ? { filter: settings.filter } : {}),
    },
    settings.maxRequestBytes,
    settings.rangeSize,
  );
  return { session, store };
}

export function activate(context: PluginContext): LdapApi {
  context.contribute(DirectoryStore, 'ldap', ldapDirectoryStore);
  context.contribute(PolicySource, 'ldap', ldapPolicySource);
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
