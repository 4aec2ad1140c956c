/**
 * Real OpenLDAP servers for tests and benchmarks: a private cn=config instance under a temporary
 * folder, TLS with a certificate made here by openssl for 127.0.0.1, listening on 127.0.0.1 only on
 * ports picked here, stopped by its own process id. `startProviders(2)` starts two providers that
 * replicate with delta-syncrepl (accesslog), as a multi-server site runs them.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stopWithProcess } from '@credroam/core/testing';
import { Client } from 'ldapts';

const run = promisify(execFile);
const SCHEMA = fileURLToPath(new URL('../../../schema/credroam.ldif', import.meta.url));
export const SUFFIX = 'dc=example,dc=org';
export const ADMIN_DN = `cn=admin,${SUFFIX}`;
export const ADMIN_PASSWORD = 'admin secret';
export const userDn = (uid: string) => `uid=${uid},ou=people,${SUFFIX}`;

export interface TlsFiles {
  readonly dir: string;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** Issues `<name>.crt` and `<name>.key` in `dir`, signed by the test CA there, with the given extensions. */
async function issue(
  dir: string,
  name: string,
  subject: string,
  extensions: string,
): Promise<{ cert: string; key: string }> {
  const o = (args: string[]) => run('openssl', args, { cwd: dir });
  await o(['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
  await writeFile(path.join(dir, `${name}.cnf`), extensions);
  await o([
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-extfile',
    `${name}.cnf`,
  ]);
  return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
}

/** A CA and a server certificate for IP 127.0.0.1 (and the name ldap.test). */
export async function makeTls(dir: string): Promise<TlsFiles> {
  await mkdir(dir, { recursive: true });
  await run(
    'openssl',
    [
      'req',
      '-x509',
      ...EC,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '2',
      '-subj',
      '/CN=credroam test CA',
    ],
    { cwd: dir },
  );
  const server = await issue(
    dir,
    'server',
    '/CN=ldap.test',
    'subjectAltName=IP:127.0.0.1,DNS:ldap.test\nextendedKeyUsage=serverAuth\n',
  );
  return { dir, ca: path.join(dir, 'ca.crt'), ...server };
}

/** A client certificate (for SASL EXTERNAL) whose subject `CN=<uid>` maps to that user's entry. */
export function makeClientCert(tls: TlsFiles, uid: string): Promise<{ cert: string; key: string }> {
  return issue(tls.dir, uid, `/CN=${uid}`, 'extendedKeyUsage=clientAuth\n');
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Waits until `child` (a server named `name`, logging to `log`) accepts connections on `port`. */
export async function waitForPort(
  name: string,
  port: number,
  child: ChildProcess,
  log: string,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(
        `${name} exited with ${child.exitCode}:\n${await readFile(log, 'utf8').catch(() => '')}`,
      );
    if (await listening(port)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${name} did not listen on ${port} within 10 s`);
}

/** Stops a test server by its pid: SIGTERM, SIGKILL after 5 s; resolves once it has exited. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => child.exitCode === null && process.kill(child.pid!, 'SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

export interface Slapd {
  readonly dir: string;
  readonly tls: TlsFiles;
  readonly ldapUrl: string;
  /** Nothing listens there when the server was started with `tls: false`. */
  readonly ldapsUrl: string;
  readonly pid: number;
  /** slapd's own `stats` log: one line per connection event and operation. */
  readonly log: string;
  stop(): Promise<void>;
  /** Starts it again on the same ports and data (after `stop`). */
  restart(): Promise<Slapd>;
}

interface ServerPlan {
  readonly id: number;
  readonly dir: string;
  readonly ldapPort: number;
  readonly ldapsPort: number;
  readonly options: StartOptions;
}

function configLdif(s: ServerPlan, tls: TlsFiles, peers: readonly ServerPlan[]): string {
  const replicating = peers.length > 0;
  const withTls = s.options.tls !== false;
  const kerberos = s.options.kerberos;
  const syncrepl = peers.map(
    (p, i) =>
      `olcSyncrepl: rid=${String(100 + i).padStart(3, '0')} provider=ldaps://127.0.0.1:${p.ldapsPort} bindmethod=simple ` +
      `binddn="${ADMIN_DN}" credentials="${ADMIN_PASSWORD}" searchbase="${SUFFIX}" logbase="cn=accesslog" ` +
      `logfilter="(&(objectClass=auditWriteObject)(reqResult=0))" schemachecking=on type=refreshAndPersist ` +
      `retry="1 +" syncdata=accesslog tls_cacert=${tls.ca} tls_reqcert=demand`,
  );
  const main = replicating ? 2 : 1;
  return `dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: ${s.dir}/slapd.pid
${[
  ...(withTls
    ? [
        `olcTLSCACertificateFile: ${tls.ca}`,
        `olcTLSCertificateFile: ${tls.cert}`,
        `olcTLSCertificateKeyFile: ${tls.key}`,
        'olcTLSVerifyClient: try',
      ]
    : []),
  'olcSockbufMaxIncomingAuth: 16777215',
  'olcLogLevel: stats sync',
  `olcAuthzRegexp: {0}"^cn=([^,]+)$" "uid=$1,ou=people,${SUFFIX}"`,
  ...(kerberos
    ? [
        `olcAuthzRegexp: {1}"^uid=([^,]+),cn=${kerberos.realm.toLowerCase()},cn=gssapi,cn=auth$" "uid=$1,ou=people,${SUFFIX}"`,
        `olcSaslHost: ${kerberos.host}`,
        `olcSaslRealm: ${kerberos.realm}`,
      ]
    : []),
].join('\n')}
${replicating ? `olcServerID: ${s.id}` : ''}

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb
${replicating ? 'olcModuleLoad: syncprov\nolcModuleLoad: accesslog' : ''}

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif
include: file:///etc/ldap/schema/cosine.ldif
include: file:///etc/ldap/schema/inetorgperson.ldif
include: file://${SCHEMA}

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: unlimited

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none
${
  replicating
    ? `
dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcDbDirectory: ${s.dir}/accesslog
olcSuffix: cn=accesslog
olcRootDN: ${ADMIN_DN}
olcDbIndex: default eq
olcDbIndex: entryCSN,objectClass,reqEnd,reqResult,reqStart,reqDN
olcDbMaxSize: 4294967296

dn: olcOverlay=syncprov,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcSyncProvConfig
olcOverlay: syncprov
olcSpNoPresent: TRUE
olcSpReloadHint: TRUE
`
    : ''
}
dn: olcDatabase={${main}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {${main}}mdb
olcDbDirectory: ${s.dir}/data
olcSuffix: ${SUFFIX}
olcRootDN: ${ADMIN_DN}
olcRootPW: ${ADMIN_PASSWORD}
olcDbMaxSize: 4294967296
olcDbIndex: objectClass eq
olcDbIndex: uid eq
olcDbIndex: entryCSN,entryUUID eq
olcLimits: dn.exact="${ADMIN_DN}" time=unlimited size=unlimited
olcAccess: {0}to attrs=credroamToken,credroamKey,credroamStamp by self write by dn.exact="${ADMIN_DN}" write by * none
olcAccess: {1}to attrs=credroamPolicyBundle by dn.exact="${ADMIN_DN}" write by users read by * none
olcAccess: {2}to attrs=objectClass val=credroamSite by dn.exact="${ADMIN_DN}" write by users read by * none
olcAccess: {3}to attrs=objectClass val=credroamUser by self write by dn.exact="${ADMIN_DN}" write by users read by * none
olcAccess: {4}to attrs=userPassword by self =w by anonymous auth by * none
olcAccess: {5}to * by self read by dn.exact="${ADMIN_DN}" write by users read by * none
${syncrepl.join('\n')}
${replicating ? 'olcMultiProvider: TRUE' : ''}
${
  replicating
    ? `
dn: olcOverlay=syncprov,olcDatabase={${main}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcSyncProvConfig
olcOverlay: syncprov

dn: olcOverlay=accesslog,olcDatabase={${main}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcAccessLogConfig
olcOverlay: accesslog
olcAccessLogDB: cn=accesslog
olcAccessLogOps: writes
olcAccessLogSuccess: TRUE
olcAccessLogPurge: 07+00:00 01+00:00
`
    : ''
}`;
}

const usersLdif = (users: readonly string[], passwords: Readonly<Record<string, string>>) => `dn: ${SUFFIX}
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=people,${SUFFIX}
objectClass: organizationalUnit
ou: people
${users
  .map(
    (u) => `
dn: ${userDn(u)}
objectClass: inetOrgPerson
uid: ${u}
cn: ${u}
sn: ${u}
mail: ${u}@example.org
userPassword: ${passwords[u] ?? `${u} password`}
`,
  )
  .join('')}`;

async function prepare(
  s: ServerPlan,
  tls: TlsFiles,
  peers: readonly ServerPlan[],
  data: string | undefined,
): Promise<void> {
  for (const d of ['config', 'data', 'accesslog']) await mkdir(path.join(s.dir, d), { recursive: true });
  await writeFile(path.join(s.dir, 'config.ldif'), configLdif(s, tls, peers));
  await run('slapadd', ['-n', '0', '-F', path.join(s.dir, 'config'), '-l', path.join(s.dir, 'config.ldif')]);
  if (data !== undefined) {
    await writeFile(path.join(s.dir, 'data.ldif'), data);
    await run('slapadd', [
      '-F',
      path.join(s.dir, 'config'),
      '-b',
      SUFFIX,
      '-l',
      path.join(s.dir, 'data.ldif'),
      ...(peers.length ? ['-w'] : []),
    ]);
  }
}

async function launch(s: ServerPlan, tls: TlsFiles): Promise<Slapd> {
  const log = path.join(s.dir, 'slapd.log');
  const out = createWriteStream(log);
  const kerberos = s.options.kerberos;
  const child = spawn(
    'slapd',
    [
      ...['stats', ...(s.options.debug ?? [])].flatMap((level) => ['-d', level]),
      '-F',
      path.join(s.dir, 'config'),
      '-h',
      s.options.tls === false
        ? `ldap://127.0.0.1:${s.ldapPort}/`
        : `ldap://127.0.0.1:${s.ldapPort}/ ldaps://127.0.0.1:${s.ldapsPort}/`,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Cyrus SASL's GSSAPI finds the service key in this keytab and the realm in this krb5.conf.
      ...(kerberos
        ? {
            env: {
              ...process.env,
              ...kerberos.env,
              KRB5_KTNAME: `FILE:${kerberos.keytab}`,
            },
          }
        : {}),
    },
  );
  stopWithProcess(child);
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  await waitForPort('slapd', s.ldapPort, child, log);
  const pid = child.pid!;
  return {
    dir: s.dir,
    tls,
    ldapUrl: `ldap://127.0.0.1:${s.ldapPort}`,
    ldapsUrl: `ldaps://127.0.0.1:${s.ldapsPort}`,
    pid,
    log,
    restart: () => launch(s, tls),
    async stop() {
      await stopChild(child);
      out.end();
    },
  };
}

/**
 * Waits until every provider serves a delta-syncrepl consumer search from each peer (a consumer
 * that started before its peer listened retries after a second).
 */
async function replicationEstablished(servers: readonly Slapd[]): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const counts = await Promise.all(
      servers.map(
        async (s) => ((await readFile(s.log, 'utf8')).match(/SRCH base="cn=accesslog"/g) ?? []).length,
      ),
    );
    if (counts.every((c) => c >= servers.length - 1)) return;
    if (Date.now() > deadline)
      throw new Error(`replication did not start within 15 s (${counts.join(', ')})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface StartOptions {
  readonly users?: readonly string[];
  readonly passwords?: Readonly<Record<string, string>>;
  /** `false`: no TLS at all (StartTLS is refused, nothing listens on `ldapsUrl`). */
  readonly tls?: boolean;
  /**
   * SASL GSSAPI (Cyrus SASL, Debian's `libsasl2-modules-gssapi-mit`): slapd takes `ldap/<host>` from
   * `keytab` and maps `<user>@<realm>` to `uid=<user>,ou=people,…`. See `startKdc`.
   */
  readonly kerberos?: {
    readonly realm: string;
    readonly host: string;
    readonly keytab: string;
    readonly env: Readonly<Record<string, string>>;
  };
  /** More of slapd's debug levels in its log, beside `stats` (e.g. `packets`: every PDU it received). */
  readonly debug?: readonly string[];
}

/** One or more providers; with two or more, they replicate with delta-syncrepl. */
export async function startProviders(
  count: number,
  options: StartOptions = {},
): Promise<{ servers: Slapd[]; stop(): Promise<void> }> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'credroam-slapd-'));
  const tls = await makeTls(path.join(root, 'tls'));
  const plans: ServerPlan[] = [];
  for (let i = 0; i < count; i++) {
    plans.push({
      id: i + 1,
      dir: path.join(root, `s${i + 1}`),
      ldapPort: await freePort(),
      ldapsPort: await freePort(),
      options,
    });
  }
  let data = usersLdif(options.users ?? ['alice', 'bob'], options.passwords ?? {});
  for (const [i, p] of plans.entries()) {
    await prepare(p, tls, count > 1 ? plans.filter((q) => q !== p) : [], data).catch(
      async (error: unknown) => {
        await rm(root, { recursive: true, force: true });
        throw error;
      },
    );
    if (i === 0 && count > 1) {
      // Every provider starts from the very same entries (same entryUUID and entryCSN, via
      // slapcat): a consumer with nothing to catch up on starts in delta mode at once, rather
      // than with a full refresh in plain syncrepl mode, which diverges under conflicting writes.
      data = (
        await run('slapcat', ['-F', path.join(p.dir, 'config'), '-b', SUFFIX], {
          maxBuffer: 64 * 1024 * 1024,
        })
      ).stdout;
    }
  }
  const servers: Slapd[] = [];
  try {
    for (const p of plans) servers.push(await launch(p, tls));
    if (count > 1) await replicationEstablished(servers);
  } catch (error) {
    await Promise.all(servers.map((s) => s.stop()));
    await rm(root, { recursive: true, force: true });
    throw error;
  }
  return {
    servers,
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
      await rm(root, { recursive: true, force: true });
    },
  };
}

let marks = 0;

/**
 * slapd's log once it has caught up with every operation the caller has seen answered. slapd's
 * output reaches the file through a pipe and this process's event loop, so a read made right after
 * an answer may miss the operation's last lines: an anonymous search for a unique base is sent, and
 * the file is read until that search's line is in it.
 */
export async function settledLog(server: Slapd): Promise<string> {
  const mark = `cn=log-mark-${process.pid}-${++marks}`;
  const client = new Client({ url: server.ldapUrl, timeout: 5000, connectTimeout: 5000 });
  try {
    await client.search(mark, { scope: 'base' }).catch(() => undefined);
  } finally {
    await client.unbind().catch(() => undefined);
  }
  const deadline = Date.now() + 10_000;
  for (;;) {
    const log = await readFile(server.log, 'utf8');
    if (log.includes(`SRCH base="${mark}"`)) return log;
    if (Date.now() > deadline) throw new Error(`slapd's log did not show ${mark} within 10 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Every byte slapd read from its clients at the LDAP layer (after TLS: the requests as the server
 * received them), from the log of a server started with `debug: ['packets']`, where each read is
 * an `ldap_read: want=N, got=M` line followed by a hex dump of the M bytes, in that thread's lines.
 */
export async function receivedBytes(server: Slapd): Promise<Buffer> {
  const left = new Map<string, number>();
  const chunks: Buffer[] = [];
  for (const line of (await settledLog(server)).split('\n')) {
    const m = /^\S+ (0x[0-9a-f]+) (.*)$/.exec(line);
    if (!m) continue;
    const [, thread = '', rest = ''] = m;
    const read = /^ldap_read: want=\d+, got=(\d+)/.exec(rest);
    if (read) {
      left.set(thread, Number(read[1]));
      continue;
    }
    const dump = /^\s*[0-9a-f]{4}: {2}((?:[0-9a-f]{2} {1,2}){1,16})/.exec(rest);
    const wanted = left.get(thread) ?? 0;
    if (dump && wanted > 0) {
      const bytes = Buffer.from(dump[1]!.replace(/\s+/g, ''), 'hex').subarray(0, wanted);
      chunks.push(bytes);
      left.set(thread, wanted - bytes.length);
    } else if (!dump) left.delete(thread);
  }
  return Buffer.concat(chunks);
}
