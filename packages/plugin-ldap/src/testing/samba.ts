/**
 * A real Samba AD domain controller for tests (Debian's samba): provisioned into a temporary
 * folder, LDAP only (no winbindd, no DNS), on loopback only (`interfaces = lo`: Samba's LDAP ports
 * are 389 and 636, not configurable), with a TLS certificate made here, credroam's schema
 * extension loaded and the ACL of `schema/ad-acl.md` applied. Stopped by its own process id.
 * Provisioning takes a few seconds; keep Samba tests small (it slows down badly with thousands
 * of large linked values).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stopWithProcess } from '@credroam/core/testing';
import { listening, makeTls, type TlsFiles } from './slapd.js';

const run = promisify(execFile);
const AD_SCHEMA = fileURLToPath(new URL('../../../schema/ad-schema.ldif', import.meta.url));
export const AD_BASE = 'DC=credroam,DC=test';
export const AD_REALM = 'credroam.test';
const ATTRIBUTE_GUIDS = [
  'd549d008-b1cc-4d8c-806d-5f6549cb7dc2',
  '1017bda2-828a-4128-ac83-85e7d20519b2',
  'fa787e98-ebdf-476f-8977-dfb4d3c1cb91',
];
const USER_CLASS_GUID = 'bf967aba-0de6-11d0-a285-00aa003049e2';

export interface SambaDc {
  readonly dir: string;
  readonly tls: TlsFiles;
  readonly ldapsUrl: string;
  readonly ldapUrl: string;
  readonly pid: number;
  readonly adminPassword: string;
  /** A user's DN and password (users are `CN=<name>,CN=Users,<base>`). */
  userDn(name: string): string;
  password(name: string): string;
  stop(): Promise<void>;
}

export async function startSambaDc(options: { users: readonly string[] }): Promise<SambaDc> {
  // Another suite on this machine may run its Samba DC: wait for the port (within ava's 120 s timeout).
  const free = Date.now() + 100_000;
  while (await listening(636)) {
    if (Date.now() > free)
      throw new Error('something has listened on 127.0.0.1:636 for 100 s; Samba AD needs that port');
    await new Promise((r) => setTimeout(r, 1_000));
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'credroam-samba-'));
  const tls = await makeTls(path.join(dir, 'tls'));
  const adminPassword = `Adm1n-${Math.random().toString(36).slice(2, 10)}!`;
  const password = (name: string) => `${name[0]!.toUpperCase()}${name.slice(1)}-Passw0rd-1!`;
  const conf = path.join(dir, 'etc', 'smb.conf');
  const opts = [
    'interfaces=lo',
    'bind interfaces only=yes',
    'server services=ldap',
    `pid directory=${dir}/run`,
    `tls keyfile=${tls.key}`,
    `tls certfile=${tls.cert}`,
    `tls cafile=${tls.ca}`,
    'dsdb:schema update allowed=true',
    `log file=${dir}/log.%m`,
  ];
  await mkdir(path.join(dir, 'run'), { recursive: true });
  await run('samba-tool', [
    'domain',
    'provision',
    `--realm=${AD_REALM.toUpperCase()}`,
    '--domain=CREDROAM',
    '--server-role=dc',
    '--dns-backend=NONE',
    `--adminpass=${adminPassword}`,
    `--targetdir=${dir}`,
    '--host-ip=127.0.0.1',
    ...opts.map((o) => `--option=${o}`),
  ]);
  for (const u of options.users) await run('samba-tool', ['user', 'create', u, password(u), '-s', conf]);
  for (const guid of ATTRIBUTE_GUIDS) {
    await run('samba-tool', [
      'dsacl',
      'set',
      '-H',
      path.join(dir, 'private', 'sam.ldb'),
      `--objectdn=CN=Users,${AD_BASE}`,
      `--sddl=(OA;CI;RPWP;${guid};${USER_CLASS_GUID};PS)`,
    ]);
  }
  const log = createWriteStream(path.join(dir, 'samba.out'));
  const child: ChildProcess = spawn('samba', ['-i', '-s', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  stopWithProcess(child);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(child.pid!, 'SIGTERM');
      const timer = setTimeout(() => child.exitCode === null && process.kill(child.pid!, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    log.end();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 30_000;
    while (!(await listening(636))) {
      if (child.exitCode !== null)
        throw new Error(`samba exited: ${await readFile(path.join(dir, 'samba.out'), 'utf8')}`);
      if (Date.now() > deadline) throw new Error('samba did not listen on 636 within 30 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    const ldif = (await readFile(AD_SCHEMA, 'utf8')).replaceAll('DC=EXAMPLE,DC=ORG', AD_BASE);
    await writeFile(path.join(dir, 'schema.ldif'), ldif);
    await writeFile(path.join(dir, 'admin.pw'), adminPassword, { mode: 0o600 });
    await run(
      'ldapmodify',
      [
        '-H',
        'ldaps://127.0.0.1',
        '-D',
        `Administrator@${AD_REALM}`,
        '-y',
        path.join(dir, 'admin.pw'),
        '-f',
        path.join(dir, 'schema.ldif'),
      ],
      {
        env: { ...process.env, LDAPTLS_CACERT: tls.ca },
      },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    dir,
    tls,
    ldapsUrl: 'ldaps://127.0.0.1:636',
    ldapUrl: 'ldap://127.0.0.1:389',
    pid: child.pid!,
    adminPassword,
    userDn: (name) => `CN=${name},CN=Users,${AD_BASE}`,
    password,
    stop,
  };
}
