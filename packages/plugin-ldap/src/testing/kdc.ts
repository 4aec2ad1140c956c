/**
 * A real MIT Kerberos KDC for tests (Debian's `krb5-kdc`, `krb5-admin-server` for `kadmin.local`,
 * `krb5-user` for `kinit`): a private realm in a temporary folder, its own `krb5.conf` and
 * `kdc.conf` there (never /etc), listening on 127.0.0.1 only, TCP only, on a port picked here,
 * stopped by its own process id. Principals get random keys, written to keytabs: no password
 * exists anywhere. `kinit(user)` puts a ticket into a cache file of that user's own, as a
 * Kerberos logon does.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stopWithProcess } from '@credroam/core/testing';
import { freePort, stopChild, waitForPort } from './slapd.js';

export const REALM = 'CREDROAM.TEST';
/** The host name the test slapd's service principal is for (its TLS certificate carries it too). */
export const LDAP_HOST = 'ldap.test';

export interface Kdc {
  readonly dir: string;
  readonly realm: string;
  readonly port: number;
  readonly pid: number;
  /** The `krb5.conf` every client and server of this realm uses (`KRB5_CONFIG`). */
  readonly krb5Config: string;
  /** The keytab holding `ldap/<LDAP_HOST>`: slapd's `KRB5_KTNAME`. */
  readonly ldapKeytab: string;
  /** The environment a Kerberos program of this realm needs (config, and a private replay cache folder). */
  readonly env: Readonly<Record<string, string>>;
  /** Gets a ticket-granting ticket for `user` into a new cache file; returns its `KRB5CCNAME` (`FILE:…`). */
  kinit(user: string): Promise<string>;
  /** The KDC's log: one line per ticket it issued or refused. */
  readonly log: string;
  stop(): Promise<void>;
}

/** Runs a Kerberos tool with the realm's configuration; stdin, when given, is written to it. */
function tool(
  command: string,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  stdin?: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} failed: ${stderr || error.message}`));
      else resolve(stdout);
    });
    // A tool that exits without reading its input (EPIPE) is reported by its exit, not a crash.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(stdin ?? '');
  });
}

/** Writes the realm's configuration into `dir`, creates its database, principals and keytabs. */
async function createRealm(
  dir: string,
  users: readonly string[],
): Promise<{ port: number; krb5Config: string; ldapKeytab: string; env: Record<string, string> }> {
  const port = await freePort();
  const krb5Config = path.join(dir, 'krb5.conf');
  const kdcConfig = path.join(dir, 'kdc.conf');
  // No DNS anywhere: host names are taken as written (no canonicalisation, no reverse lookup), the
  // realm is the default one, the KDC's address is given.
  await writeFile(
    krb5Config,
    `[libdefaults]
  default_realm = ${REALM}
  dns_lookup_kdc = false
  dns_lookup_realm = false
  dns_canonicalize_hostname = false
  rdns = false
  udp_preference_limit = 1
[realms]
  ${REALM} = {
    kdc = 127.0.0.1:${port}
  }
[domain_realm]
  ${LDAP_HOST} = ${REALM}
`,
  );
  await writeFile(
    kdcConfig,
    `[kdcdefaults]
  kdc_listen = ""
  kdc_tcp_listen = 127.0.0.1:${port}
[realms]
  ${REALM} = {
    database_name = ${dir}/principal
    key_stash_file = ${dir}/stash
    acl_file = ${dir}/kadm5.acl
  }
[logging]
  kdc = FILE:${dir}/kdc.log
  admin_server = FILE:${dir}/kadmin.log
  default = FILE:${dir}/krb5.log
`,
  );
  const env = { KRB5_CONFIG: krb5Config, KRB5_KDC_PROFILE: kdcConfig, KRB5RCACHEDIR: dir };
  // The database's master password is random and goes to kdb5_util on stdin (twice: it asks to confirm).
  const master = randomBytes(24).toString('base64');
  await tool('kdb5_util', ['create', '-s', '-r', REALM], env, `${master}\n${master}\n`);
  const kadmin = (query: string) => tool('kadmin.local', ['-r', REALM, '-q', query], env);
  const ldapPrincipal = `ldap/${LDAP_HOST}`;
  const ldapKeytab = path.join(dir, 'ldap.keytab');
  for (const name of [...users, ldapPrincipal]) await kadmin(`addprinc -randkey ${name}`);
  await kadmin(`ktadd -k ${ldapKeytab} ${ldapPrincipal}`);
  for (const user of users) await kadmin(`ktadd -k ${path.join(dir, `${user}.keytab`)} ${user}`);
  return { port, krb5Config, ldapKeytab, env };
}

/**
 * Creates the realm with a principal and keytab for each user and for `ldap/<LDAP_HOST>`, and
 * starts its KDC.
 */
export async function startKdc(options: { users: readonly string[] }): Promise<Kdc> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'credroam-kdc-'));
  const { port, krb5Config, ldapKeytab, env } = await createRealm(dir, options.users).catch(
    async (error: unknown) => {
      await rm(dir, { recursive: true, force: true });
      throw error;
    },
  );
  const log = path.join(dir, 'kdc.log');
  const out = createWriteStream(path.join(dir, 'krb5kdc.out'));
  const child = spawn('krb5kdc', ['-n', '-r', REALM, '-P', path.join(dir, 'kdc.pid')], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  stopWithProcess(child);
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  const pid = child.pid!;
  const stop = async () => {
    await stopChild(child);
    out.end();
  };
  try {
    await waitForPort('krb5kdc', port, child, log);
  } catch (error) {
    await stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const clientEnv = { KRB5_CONFIG: krb5Config, KRB5RCACHEDIR: dir };
  return {
    dir,
    realm: REALM,
    port,
    pid,
    krb5Config,
    ldapKeytab,
    env: clientEnv,
    log,
    async kinit(user) {
      const cache = `FILE:${path.join(dir, `${user}-${randomBytes(4).toString('hex')}.ccache`)}`;
      await tool('kinit', ['-k', '-t', path.join(dir, `${user}.keytab`), '-c', cache, user], clientEnv);
      return cache;
    },
    async stop() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
