import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { CredroamError } from '@credroam/core/api';
import { Attribute, Change } from 'ldapts';
import { bindKind } from './bind-credentials.js';
import type { LdapSession } from './connection.js';
import type { LdapDirectoryStore } from './ldap-directory.js';
import type { Profile } from './profiles.js';
import type { LdapSettings } from './settings.js';

export interface DoctorCheck {
  readonly check: 'reachability' | 'tls' | 'bind' | 'entry' | 'schema' | 'write';
  readonly ok: boolean;
  readonly detail: string;
  /** What to do about a failed check. */
  readonly fix?: string;
  /** A check that passed but should not be left as it is (a bind that sends the roaming password). */
  readonly warning?: string;
}

const FIXES: Record<string, string> = {
  E_UNREACHABLE: 'check the URL, the port and the firewall; is the server running?',
  E_TLS_UNTRUSTED: 'set caFile to the CA that issued the server certificate',
  E_TLS_HOSTNAME: 'connect by a name the certificate carries, or set tlsServerName',
  E_TLS_REQUIRED: 'use ldaps:// or ldap:// (StartTLS); credroam never binds in clear',
  E_STARTTLS: 'use ldaps://, or enable TLS (StartTLS) on the server',
  E_BIND: 'check the bind DN and password (or the bind password file)',
  E_BIND_UNTRUSTED:
    'bind with "gssapi" (Kerberos) or "external" (a client certificate), or as a service account ' +
    '(bindPasswordFile); or set directory.trustWithPassword in the site policy if the site trusts ' +
    "the directory's operators with users' passwords",
  E_KERBEROS: 'get a Kerberos ticket (kinit, or a Kerberos logon); check krb5.conf and kerberosService',
  E_NO_ENTRY: 'check userDn, or base and filter',
  E_SCHEMA: 'load schema/credroam.ldif (OpenLDAP) or the AD schema extension',
  E_ACCESS: 'give users write access to their own credroam attributes (schema/acl-example.ldif)',
  E_CONFIG: 'fix the agent manifest',
};

/** A refused bind's fix depends on the bind. */
const BIND_FIXES: Partial<Record<LdapSettings['bind'], string>> = {
  gssapi:
    "check the server's Kerberos setup: its keytab (ldap/<host>), olcSaslHost and olcSaslRealm, and an " +
    "olcAuthzRegexp that maps the user's principal to the user's entry",
  external:
    "check that the server trusts the certificate's issuer and maps its subject to the user's entry (olcAuthzRegexp)",
};

const BINDS: Record<ReturnType<typeof bindKind>, string> = {
  gssapi: 'SASL GSSAPI with the Kerberos ticket',
  external: 'SASL EXTERNAL with the client certificate',
  'service-account': 'simple bind over TLS with the bind password file (a service account)',
  'roaming-password': 'simple bind over TLS with the roaming password',
};

/** Checks, in order, what a sync needs of the directory; stops at the first failure and says what to fix. */
export async function doctor(
  settings: LdapSettings,
  session: LdapSession,
  store: LdapDirectoryStore,
  profile: Profile,
): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const url = new URL(settings.url);
  const port = Number(url.port || (url.protocol === 'ldaps:' ? 636 : 389));
  type Work = () => Promise<string | { readonly detail: string; readonly warning: string }>;
  const step = async (check: DoctorCheck['check'], work: Work): Promise<boolean> => {
    try {
      const passed = await work();
      checks.push({ check, ok: true, ...(typeof passed === 'string' ? { detail: passed } : passed) });
      return true;
    } catch (error) {
      const code = error instanceof CredroamError ? error.code : 'E_LDAP';
      const fix = (code === 'E_BIND' ? BIND_FIXES[settings.bind] : undefined) ?? FIXES[code];
      checks.push({ check, ok: false, detail: (error as Error).message, ...(fix ? { fix } : {}) });
      return false;
    }
  };
  // Each step runs only if the ones before passed: the first failure is the one to fix.
  const steps: Array<[DoctorCheck['check'], Work]> = [
    [
      'reachability',
      () => tcp(url.hostname, port, settings.timeoutMs).then(() => `${url.hostname}:${port} answers`),
    ],
    [
      'tls',
      async () => {
        await session.checkTls();
        return `${url.protocol === 'ldaps:' ? 'TLS' : 'StartTLS'} with a certificate verified against ${settings.caFile}`;
      },
    ],
    [
      'bind',
      async () => {
        await session.run(async () => undefined);
        const kind = bindKind(settings);
        // Allowed only because the site policy trusts the directory with the password: say what that costs.
        return kind === 'roaming-password'
          ? {
              detail: BINDS[kind],
              warning:
                'the directory receives the roaming password, so whoever runs it can open every private ' +
                'key of this user (the site policy trusts it: directory.trustWithPassword); prefer bind ' +
                '"gssapi" (Kerberos) or "external" (a client certificate)',
            }
          : BINDS[kind];
      },
    ],
    ['entry', async () => `found ${await store.dn()}`],
    [
      'schema',
      async () => {
        const names = Object.values(profile.attributes);
        const missing = await session.run(async (c) => {
          const root = await c.search('', {
            scope: 'base',
            filter: '(objectClass=*)',
            attributes: ['subschemaSubentry'],
          });
          const sub = String(root.searchEntries[0]?.subschemaSubentry ?? 'cn=Subschema');
          const schema = await c.search(sub, {
            scope: 'base',
            filter: '(objectClass=*)',
            attributes: ['attributeTypes'],
          });
          const types = ([] as unknown[]).concat(schema.searchEntries[0]?.attributeTypes ?? []).map(String);
          return names.filter((n) => !types.some((t) => new RegExp(`NAME (\\( )?'${n}'`, 'i').test(t)));
        });
        if (missing.length > 0)
          throw new CredroamError('E_SCHEMA', `the directory does not define ${missing.join(', ')}`, {
            attributes: missing,
          });
        return `attributes ${names.join(', ')} are defined`;
      },
    ],
    [
      'write',
      async () => {
        const dn = await store.dn();
        const probe = profile.encode(randomBytes(16), dn) as Buffer;
        const mod = (op: 'add' | 'delete') =>
          new Change({
            operation: op,
            modification: new Attribute({ type: profile.attributes.stamp, values: [probe] }),
          });
        await session.run((c) => c.modify(dn, [mod('add'), mod('delete')]), { dn });
        return 'this user may write its credroam attributes';
      },
    ],
  ];
  for (const [check, work] of steps) if (!(await step(check, work))) break;
  return checks;
}

function tcp(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, timeout: timeoutMs });
    s.once('connect', () => {
      s.destroy();
      resolve();
    });
    s.once('timeout', () => {
      s.destroy();
      reject(
        new CredroamError('E_UNREACHABLE', `no answer from ${host}:${port} within ${timeoutMs} ms`, {
          host,
          port,
        }),
      );
    });
    s.once('error', (e: NodeJS.ErrnoException) =>
      reject(new CredroamError('E_UNREACHABLE', `cannot reach ${host}:${port}: ${e.code}`, { host, port })),
    );
  });
}
