import { mkdir, readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  CredroamError,
  type EventLog,
  FileSyncStateStore,
  readFileNoFollow,
  type SyncReport,
  writeFileAtomic,
} from '@credroam/core';
import type { LdapApi } from '@credroam/plugin-ldap';
import type { Pkcs12Api } from '@credroam/plugin-pkcs12';

import { type AgentConfig, defaultConfigPath, defaultHome, loadConfig } from '../config.js';
import { AGENT_EXEC_ARGV, type AgentAnswer, askAgent, socketPath } from '../daemon/ipc.js';
import { loadPolicy, openSession, removeSafelyRoamed, type Session } from '../session.js';
import { certificateId, credentialViews, findCredential, privateKeyId } from './credentials.js';
import { type CliIo, ExitCode, UsageError } from './io.js';
import { createHost } from './plugins.js';
import { readPassArg, readSecretFile, stripNewline } from './secrets.js';

/** The parsed command line every command receives. */
export interface Args {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  readonly positionals: readonly string[];
}

export interface Context {
  readonly io: CliIo;
  readonly log: EventLog;
  readonly json: boolean;
}

const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

/** Prints a result as JSON (`--json`) or as text. */
function out(ctx: Context, value: unknown, text: string): void {
  ctx.io.stdout(ctx.json ? `${JSON.stringify(value, null, 2)}\n` : text.endsWith('\n') ? text : `${text}\n`);
}

/** The roaming password: --password-stdin, --password-file FILE, or $CREDROAM_PASSWORD_FILE. */
export async function roamingPassword(args: Args, io: CliIo): Promise<string> {
  if (args.values['password-stdin']) return stripNewline(await io.stdin());
  const file = str(args.values['password-file']) ?? (io.env.CREDROAM_PASSWORD_FILE || undefined);
  if (file) return readSecretFile(file, 'roaming password');
  throw new UsageError(
    'this command needs the roaming password: --password-stdin, --password-file FILE or $CREDROAM_PASSWORD_FILE',
  );
}

async function withSession<T>(args: Args, ctx: Context, work: (s: Session) => Promise<T>): Promise<T> {
  const config = await loadConfig(str(args.values.config), ctx.io.env);
  // The roaming password, read only if something needs it (a directory that binds with it).
  const session = await openSession(config, ctx.log, { password: () => roamingPassword(args, ctx.io) });
  try {
    return await work(session);
  } finally {
    await session.dispose();
  }
}

async function unlock(session: Session, password: string): Promise<{ created: boolean; offline: boolean }> {
  if (!session.protector.unlock) return { created: false, offline: false };
  return session.protector.unlock({ password });
}

// --- init --------------------------------------------------------------------------------------

export async function init(args: Args, ctx: Context): Promise<number> {
  const directory = str(args.values.directory);
  if (!directory) {
    throw new UsageError(
      'usage: credroam init --config FILE --directory URL [--home DIR] [--user NAME] [--policy FILE]\n' +
        '       LDAP: --directory ldaps://HOST:PORT|ldap://HOST:PORT --ca-file FILE (--user-dn DN | --base DN --filter F)\n' +
        '             [--bind-password-file FILE] [--profile openldap|ad] [--tls-server-name NAME]',
    );
  }
  const file = path.resolve(
    str(args.values.config) ?? (ctx.io.env.CREDROAM_CONFIG || defaultConfigPath(ctx.io.env)),
  );
  if (!args.values.force && (await exists(file))) {
    throw new CredroamError('E_EXISTS', `${file} already exists; add --force to replace it`);
  }
  let url: URL;
  try {
    url = new URL(directory);
  } catch {
    throw new UsageError(
      `--directory '${directory}' is not a URL (file:///path, ldaps://host:port or ldap://host:port)`,
    );
  }
  const home = path.resolve(str(args.values.home) ?? defaultHome(ctx.io.env));
  const user = str(args.values.user) ?? os.userInfo().username;
  let selection: { use: string; settings: Record<string, unknown> };
  if (url.protocol === 'file:') {
    const root = fileURLToPath(url);
    await mkdir(root, { recursive: true, mode: 0o700 });
    selection = { use: 'folder', settings: { url: pathToFileURL(root).href } };
  } else if (url.protocol === 'ldaps:' || url.protocol === 'ldap:') {
    const caFile = str(args.values['ca-file']);
    if (!caFile)
      throw new UsageError('an LDAP directory needs --ca-file: the CA that issued the server certificate');
    const userDn = str(args.values['user-dn']);
    const base = str(args.values.base);
    if (!userDn && !base)
      throw new UsageError('an LDAP directory needs --user-dn DN, or --base DN [--filter F]');
    const optional = (name: string, key: string, resolve = false) => {
      const v = str(args.values[name]);
      return v === undefined ? {} : { [key]: resolve ? path.resolve(v) : v };
    };
    selection = {
      use: 'ldap',
      settings: {
        url: `${url.protocol}//${url.host}`,
        caFile: path.resolve(caFile),
        ...(userDn ? { userDn } : { base, filter: str(args.values.filter) ?? '(uid={user})' }),
        ...optional('bind-password-file', 'bindPasswordFile', true),
        ...optional('profile', 'profile'),
        ...optional('tls-server-name', 'tlsServerName'),
      },
    };
  } else {
    throw new UsageError(
      `--directory: ${url.protocol} is not a directory credroam knows (file:, ldaps:, ldap:)`,
    );
  }
  await mkdir(home, { recursive: true, mode: 0o700 });
  const config = {
    user,
    home,
    directory: selection,
    localStore: { use: 'pkcs12' },
    protector: { use: 'pkcs12' },
    ...(str(args.values.policy) ? { policy: path.resolve(str(args.values.policy)!) } : {}),
  };
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, `${JSON.stringify(config, null, 2)}\n`);
  out(
    ctx,
    { config: file, ...config },
    `wrote ${file}\n  user ${user}\n  home ${home}\n  directory ${directory}`,
  );
  return ExitCode.Done;
}

const exists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );

// --- doctor ----------------------------------------------------------------------------------------

export async function doctor(args: Args, ctx: Context): Promise<number> {
  const config = await loadConfig(str(args.values.config), ctx.io.env);
  const policy = await loadPolicy(config);
  const host = await createHost(config, ctx.log);
  try {
    await host.start();
    let checks: Array<{ check: string; ok: boolean; detail: string; fix?: string }>;
    if (config.directory.use === 'ldap') {
      await host.activateByEvent('onCommand:doctor');
      const api = host.api<LdapApi>('credroam.ldap');
      if (!api)
        throw new CredroamError(
          'E_PLUGIN_FAILED',
          'doctor needs the credroam.ldap plugin, which is not active',
        );
      checks = await api.doctor({
        user: config.user,
        home: config.home,
        settings: config.directory.settings,
        policy: policy.protection,
        password: () => roamingPassword(args, ctx.io),
      });
    } else {
      checks = await folderDoctor(config);
    }
    const ok = checks.every((c) => c.ok);
    out(
      ctx,
      { ok, directory: config.directory.use, checks },
      checks
        .map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.check}: ${c.detail}${c.fix ? `\n     fix: ${c.fix}` : ''}`)
        .join('\n'),
    );
    return ok ? ExitCode.Done : ExitCode.Failed;
  } finally {
    await host.dispose();
  }
}

async function folderDoctor(
  config: AgentConfig,
): Promise<Array<{ check: string; ok: boolean; detail: string; fix?: string }>> {
  const root = fileURLToPath(String(config.directory.settings.url));
  const st = await stat(root).catch(() => undefined);
  if (!st?.isDirectory()) {
    return [
      {
        check: 'reachability',
        ok: false,
        detail: `${root} is not a folder`,
        fix: 'create it, or mount the share',
      },
    ];
  }
  const { constants, access } = await import('node:fs/promises');
  const writable = await access(root, constants.W_OK).then(
    () => true,
    () => false,
  );
  return [
    { check: 'reachability', ok: true, detail: `${root} is a folder` },
    writable
      ? { check: 'write', ok: true, detail: 'this user may write it' }
      : {
          check: 'write',
          ok: false,
          detail: `${root} is not writable`,
          fix: 'give the user write access to the folder',
        },
  ];
}

// --- sync, logon, logoff --------------------------------------------------------------------------

async function recordStatus(config: AgentConfig, entry: Record<string, unknown>): Promise<void> {
  await writeFileAtomic(path.join(config.home, 'status.json'), JSON.stringify({ lastSync: entry }));
}

async function runSync(
  session: Session,
  ctx: Context,
  options: { dryRun?: boolean; full?: boolean },
): Promise<number> {
  let report: SyncReport;
  try {
    report = await session.engine.sync(options);
  } catch (error) {
    if (!options.dryRun) {
      await recordStatus(session.config, {
        at: new Date().toISOString(),
        outcome: 'failed',
        error: error instanceof Error ? error.message : String(error),
      });
    }
    throw error;
  }
  if (!options.dryRun) {
    await recordStatus(session.config, {
      at: new Date().toISOString(),
      outcome: report.outcome,
      counts: report.counts,
      skipped: report.skipped.length,
    });
  }
  out(ctx, report, formatReport(report));
  return report.skipped.length > 0 ? ExitCode.Skipped : ExitCode.Done;
}

function formatReport(r: SyncReport): string {
  const c = r.counts;
  const lines = [
    r.outcome === 'unchanged'
      ? 'nothing changed since the last sync (one read of the change stamp)'
      : r.changes.length === 0 && r.skipped.length === 0
        ? 'in sync: nothing to do'
        : `${r.outcome === 'planned' ? 'would upload' : 'uploaded'} ${c.uploaded}, ${r.outcome === 'planned' ? 'download' : 'downloaded'} ${c.downloaded}, removed ${c.removed}, tombstones ${c.tombstoned}, archived ${c.archived}, pruned ${c.pruned}, conflicts ${c.conflicts}`,
  ];
  for (const ch of r.changes) lines.push(`  ${ch.action} ${ch.kind} ${ch.id.slice(0, 16)}…  ${ch.reason}`);
  for (const s of r.skipped)
    lines.push(`  skipped ${s.kind ?? 'value'} ${s.id?.slice(0, 16) ?? ''} (event ${s.event}): ${s.reason}`);
  return lines.join('\n');
}

export async function sync(args: Args, ctx: Context): Promise<number> {
  const password = await roamingPassword(args, ctx.io);
  return withSession(args, ctx, async (s) => {
    await unlock(s, password);
    return runSync(s, ctx, { dryRun: Boolean(args.values['dry-run']), full: Boolean(args.values.full) });
  });
}

/** Prints an agent's answer, or fails with its error. */
function agentAnswer(
  ctx: Context,
  answer: AgentAnswer,
  text: (a: Record<string, unknown>) => string,
): number {
  if (!answer.ok) throw new CredroamError(answer.error.code, answer.error.message);
  out(ctx, answer, text(answer));
  return ExitCode.Done;
}

export async function logon(args: Args, ctx: Context): Promise<number> {
  // pam_exec (expose_authtok) writes the password, possibly NUL-terminated.
  const pam = Boolean(args.values.pam);
  const password = (await roamingPassword(args, ctx.io)).replace(/\0+$/, '');
  const config = await loadConfig(str(args.values.config), ctx.io.env);
  // A running agent takes the password over its socket and keeps the keys for the session.
  const answer = await askAgent(config, { cmd: 'logon', password, ...(pam ? { rewrap: true } : {}) });
  if (answer) {
    return agentAnswer(
      ctx,
      answer,
      (a) => `logged on through the agent${a.rewrapped ? ' (keys re-wrapped for the changed password)' : ''}`,
    );
  }
  if (args.values['start-agent'] || pam) return startAgent(config, password, ctx);
  return withSession(args, ctx, async (s) => {
    const opened = await unlock(s, password);
    if (opened.created) ctx.log.info('first logon: created this user’s master key in the directory');
    if (opened.offline) {
      out(
        ctx,
        { outcome: 'offline' },
        'logged on offline: the directory is unreachable; changes roam when it returns',
      );
      return ExitCode.Done;
    }
    return runSync(s, ctx, { full: true });
  });
}

export async function logoff(args: Args, ctx: Context): Promise<number> {
  const config = await loadConfig(str(args.values.config), ctx.io.env);
  const answer = await askAgent(config, { cmd: 'trigger', event: 'logoff' });
  if (answer)
    return agentAnswer(
      ctx,
      answer,
      (a) => `logged off through the agent (${String(a.removed ?? 0)} removed)`,
    );
  const password = await roamingPassword(args, ctx.io);
  return withSession(args, ctx, async (s) => {
    await unlock(s, password);
    const code = await runSync(s, ctx, {});
    const last = JSON.parse(await readFile(path.join(s.config.home, 'status.json'), 'utf8')) as {
      lastSync: { outcome: string };
    };
    if (s.policy.roaming.removeOnLogoff && last.lastSync.outcome !== 'failed') {
      const removed = await removeSafelyRoamed(s);
      ctx.log.info('logged off', { removed });
      if (!ctx.json)
        ctx.io.stdout(`removed ${removed} credential part(s) that the directory holds (removeOnLogoff)\n`);
    }
    return code;
  });
}

// --- status, list -------------------------------------------------------------------------------

export async function status(args: Args, ctx: Context): Promise<number> {
  const config = await loadConfig(str(args.values.config), ctx.io.env);
  const state = await new FileSyncStateStore(path.join(config.home, 'state', 'sync.json')).load();
  const statusFile = await readFileNoFollow(path.join(config.home, 'status.json')).catch(() => undefined);
  const last = statusFile
    ? (JSON.parse(statusFile.toString('utf8')) as { lastSync?: unknown }).lastSync
    : undefined;
  return withSession(args, ctx, async (s) => {
    const listing = await s.local.list();
    const views = credentialViews(listing, state);
    const revision = await s.local.revision();
    const result = {
      user: config.user,
      config: config.file ?? null,
      home: config.home,
      directory: { use: config.directory.use, ...config.directory.settings },
      credentials: views.length,
      archived: views.filter((v) => v.archived).length,
      pending: {
        localChanges: state === undefined || state.localRevision !== revision,
        credentials: views.filter((v) => v.state !== 'synced').length,
      },
      lastSync: last ?? null,
      agent: await agentStatus(config),
    };
    const lastText = last
      ? `${(last as { at: string }).at} ${(last as { outcome: string }).outcome}`
      : 'never';
    out(
      ctx,
      result,
      [
        `user ${result.user} on ${config.directory.use} ${String(config.directory.settings.url ?? '')}`,
        `credentials ${result.credentials} (${result.archived} archived), ${result.pending.credentials} not yet in the directory`,
        `last sync: ${lastText}`,
        result.agent.running
          ? `agent: running (pid ${String(result.agent.pid)}), keys ${result.agent.unlocked ? 'open' : 'locked: log on'}${result.agent.syncing ? ', syncing' : ''}`
          : 'agent: not running',
      ].join('\n'),
    );
    return ExitCode.Done;
  });
}

async function agentStatus(
  config: AgentConfig,
): Promise<{ running: boolean; pid?: unknown; unlocked?: unknown; syncing?: unknown }> {
  const answer = await askAgent(config, { cmd: 'status' }, 5_000).catch(() => undefined);
  if (!answer?.ok) return { running: false };
  return { running: true, pid: answer.pid, unlocked: answer.unlocked, syncing: answer.syncing };
}

export async function list(args: Args, ctx: Context): Promise<number> {
  const config = await loadConfig(str(args.values.config), ctx.io.env);
  const state = await new FileSyncStateStore(path.join(config.home, 'state', 'sync.json')).load();
  return withSession(args, ctx, async (s) => {
    if (args.values['password-stdin'] || args.values['password-file'] || ctx.io.env.CREDROAM_PASSWORD_FILE) {
      await unlock(s, await roamingPassword(args, ctx.io));
    }
    const listing = await s.local.list();
    const credentials = credentialViews(listing, state);
    const unreadable = listing.unreadable
      .filter((u) => !/^locked/.test(u.reason))
      .map((u) => ({ name: u.name, reason: u.reason }));
    const text = credentials
      .map(
        (v) =>
          `${v.sha256}  ${v.subject}\n  sha1 ${v.sha1}  until ${v.notAfter}${v.archived ? ' (archived)' : ''}  key ${v.hasKey ? 'yes' : 'no'}  ${v.state}`,
      )
      .concat(unreadable.map((u) => `unreadable ${u.name}: ${u.reason}`))
      .join('\n');
    out(ctx, { credentials, unreadable }, text || 'no credentials');
    return unreadable.length > 0 ? ExitCode.Skipped : ExitCode.Done;
  });
}

// --- import, export, remove ------------------------------------------------------------------------

export async function importCredential(args: Args, ctx: Context): Promise<number> {
  const files = args.positionals;
  if (files.length === 0 || files.length > 2) {
    throw new UsageError(
      'usage: credroam import FILE.p12 [--passin SPEC] | credroam import CERT.pem KEY.pem [--passin SPEC]',
    );
  }
  const passin = str(args.values.passin);
  if (passin === 'stdin' && args.values['password-stdin']) {
    throw new UsageError('--passin stdin and --password-stdin cannot both read standard input');
  }
  const filePassword = passin ? await readPassArg(passin, '--passin', ctx.io) : undefined;
  const data = await Promise.all(
    files.map(async (f) => {
      try {
        return new Uint8Array(await readFile(f));
      } catch (error) {
        throw new CredroamError('E_IMPORT', `cannot read ${f}: ${(error as NodeJS.ErrnoException).code}`);
      }
    }),
  );
  return withSession(args, ctx, async (s) => {
    await s.host.activateByEvent('onCommand:import');
    const api = s.host.api<Pkcs12Api>('credroam.pkcs12');
    if (!api)
      throw new CredroamError(
        'E_PLUGIN_FAILED',
        'import needs the credroam.pkcs12 plugin, which is not active',
      );
    const read = await api.readCredentials(data, filePassword);
    const withKeys = read.credentials.some((c) => c.key);
    if (withKeys) await unlock(s, await roamingPassword(args, ctx.io));
    const now = Date.now();
    // Everything was read and checked above; only now is anything written.
    const imported: Array<{ sha256: string; hasKey: boolean }> = [];
    for (const c of read.credentials) {
      const id = certificateId(c.cert);
      if (c.key)
        await s.local.put({
          kind: 'key',
          id: privateKeyId(c.key),
          content: c.key,
          archived: false,
          modified: now,
        });
      await s.local.put({ kind: 'cert', id, content: c.cert, archived: false, modified: now });
      imported.push({ sha256: id, hasKey: Boolean(c.key) });
    }
    out(
      ctx,
      { imported, ignoredCertificates: read.ignoredCertificates },
      imported.map((i) => `imported ${i.sha256}${i.hasKey ? ' with its private key' : ''}`).join('\n') +
        (read.ignoredCertificates > 0
          ? `\n(${read.ignoredCertificates} CA certificate(s) in the file were not imported)`
          : ''),
    );
    return ExitCode.Done;
  });
}

export async function exportCredential(args: Args, ctx: Context): Promise<number> {
  const [thumbprint] = args.positionals;
  const target = str(args.values.out);
  const passout = str(args.values.passout);
  if (!thumbprint || !target || !passout || args.positionals.length !== 1) {
    throw new UsageError(
      'usage: credroam export THUMBPRINT --out FILE.p12 --passout file:PATH|env:VAR|fd:N|stdin',
    );
  }
  if (passout === 'stdin' && args.values['password-stdin']) {
    throw new UsageError('--passout stdin and --password-stdin cannot both read standard input');
  }
  const filePassword = await readPassArg(passout, '--passout', ctx.io);
  const password = await roamingPassword(args, ctx.io);
  return withSession(args, ctx, async (s) => {
    await unlock(s, password);
    const listing = await s.local.list();
    const view = findCredential(credentialViews(listing, undefined), thumbprint);
    if (!view)
      throw new CredroamError('E_NOT_FOUND', `no credential with thumbprint ${thumbprint} on this endpoint`);
    const cert = listing.items.find((i) => i.kind === 'cert' && i.id === view.sha256)!;
    const key = listing.items.find((i) => i.kind === 'key' && i.id === view.keyId);
    await s.host.activateByEvent('onCommand:export');
    const api = s.host.api<Pkcs12Api>('credroam.pkcs12');
    if (!api)
      throw new CredroamError(
        'E_PLUGIN_FAILED',
        'export needs the credroam.pkcs12 plugin, which is not active',
      );
    const pfx = await api.writePkcs12(
      { cert: cert.content, ...(key ? { key: key.content } : {}) },
      filePassword,
    );
    const file = path.resolve(target);
    if (
      !args.values.force &&
      (await stat(file).then(
        () => true,
        () => false,
      ))
    ) {
      throw new CredroamError('E_EXISTS', `${file} already exists; add --force to replace it`);
    }
    await writeFileAtomic(file, pfx);
    out(
      ctx,
      { sha256: view.sha256, file, hasKey: Boolean(key) },
      `exported ${view.sha256}${key ? ' with its private key' : ''} to ${file}`,
    );
    return ExitCode.Done;
  });
}

export async function remove(args: Args, ctx: Context): Promise<number> {
  const [thumbprint] = args.positionals;
  if (!thumbprint || args.positionals.length !== 1) throw new UsageError('usage: credroam remove THUMBPRINT');
  return withSession(args, ctx, async (s) => {
    const listing = await s.local.list();
    const view = findCredential(credentialViews(listing, undefined), thumbprint);
    if (!view)
      throw new CredroamError('E_NOT_FOUND', `no credential with thumbprint ${thumbprint} on this endpoint`);
    const keepUntil = Date.now() + s.policy.roaming.tombstoneLifetimeDays * 86_400_000;
    await s.local.remove('cert', view.sha256, { keepUntil });
    if (view.hasKey) await s.local.remove('key', view.keyId, { keepUntil });
    out(
      ctx,
      { removed: view.sha256, hasKey: view.hasKey, keptUntil: new Date(keepUntil).toISOString() },
      `removed ${view.sha256}; the deletion roams at the next sync (a copy stays in the store's removed/ folder until ${new Date(keepUntil).toISOString()})`,
    );
    return ExitCode.Done;
  });
}

// --- passwd, recover --------------------------------------------------------------------------------

/** Old and new password: `--password-stdin` gives two lines; else --old-password-file and --new-password-file. */
async function passwordPair(args: Args, io: CliIo): Promise<{ old?: string; next: string }> {
  if (args.values['password-stdin']) {
    const lines = (await io.stdin()).split(/\r?\n/);
    if (args.values['escrow-key'] || args.values['new-only']) return { next: lines[0] ?? '' };
    return { old: lines[0] ?? '', next: lines[1] ?? '' };
  }
  const newFile = str(args.values['new-password-file']);
  if (!newFile)
    throw new UsageError('give the new password with --new-password-file FILE (or both on --password-stdin)');
  const oldFile = str(args.values['old-password-file']);
  return {
    ...(oldFile ? { old: await readSecretFile(oldFile, 'old password') } : {}),
    next: await readSecretFile(newFile, 'new password'),
  };
}

export async function passwd(args: Args, ctx: Context): Promise<number> {
  const { old, next } = await passwordPair(args, ctx.io);
  if (next.length === 0) throw new UsageError('the new password is empty');
  if (old === undefined) {
    // Without the old password only a running agent, which holds the keys, can re-wrap them.
    const config = await loadConfig(str(args.values.config), ctx.io.env);
    const answer = await askAgent(config, { cmd: 'passwd', newPassword: next });
    if (answer)
      return agentAnswer(ctx, answer, () => 'the running agent re-wrapped the keys for the new password');
    throw new UsageError(
      'give the old password with --old-password-file FILE (or both on --password-stdin); no agent is running',
    );
  }
  return withSession(args, ctx, async (s) => {
    if (!s.protector.changePassword)
      throw new CredroamError('E_UNSUPPORTED', 'this token protector has no password');
    await s.protector.changePassword({ oldPassword: old, newPassword: next });
    out(ctx, { changed: true }, 'the roaming password was changed; other endpoints log on with the new one');
    return ExitCode.Done;
  });
}

export async function recover(args: Args, ctx: Context): Promise<number> {
  const keyFile = str(args.values['escrow-key']);
  if (!keyFile)
    throw new UsageError('usage: credroam recover --escrow-key FILE --new-password-file FILE [--user NAME]');
  const escrowPrivateKeyPem = await readFile(keyFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new CredroamError('E_ESCROW_KEY', `cannot read the escrow key ${keyFile}: ${error.code}`);
  });
  const { next } = await passwordPair(args, ctx.io);
  if (next.length === 0) throw new UsageError('the new password is empty');
  const config = await loadConfig(str(args.values.config), ctx.io.env);
  const user = str(args.values.user) ?? config.user;
  const session = await openSession({ ...config, user }, ctx.log, { password: async () => next });
  try {
    if (!session.protector.recover)
      throw new CredroamError('E_UNSUPPORTED', 'this token protector has no escrow recovery');
    await session.protector.recover({ escrowPrivateKeyPem, newPassword: next });
    out(ctx, { recovered: true, user }, `the keys of ${user} now open with the new password`);
    return ExitCode.Done;
  } finally {
    await session.dispose();
  }
}

// --- the agent ------------------------------------------------------------------------------------

/** `credroam agent`: runs until SIGTERM (or `credroam trigger stop`). */
export async function agent(args: Args, ctx: Context): Promise<number> {
  const config = await loadConfig(str(args.values.config), ctx.io.env);
  const { Agent } = await import('../daemon/agent.js');
  const daemon = new Agent(config, ctx.log);
  const password = args.values['password-stdin'] ? stripNewline(await ctx.io.stdin()) : undefined;
  try {
    await daemon.start();
  } catch (error) {
    if (error instanceof CredroamError && error.code === 'E_AGENT_RUNNING') {
      ctx.io.stderr(`credroam: ${error.message}\n`);
      return ExitCode.Done;
    }
    throw error;
  }
  const stop = () => void daemon.stop();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  if (password !== undefined) await askAgent(config, { cmd: 'logon', password });
  await daemon.stopped;
  process.removeListener('SIGTERM', stop);
  process.removeListener('SIGINT', stop);
  return ExitCode.Done;
}

/** Starts the agent in the background and hands it the password through a pipe (never disk or argv). */
async function startAgent(config: AgentConfig, password: string, ctx: Context): Promise<number> {
  const { spawn } = await import('node:child_process');
  const { open } = await import('node:fs/promises');
  const bin = fileURLToPath(new URL('../bin/credroam.js', import.meta.url));
  await mkdir(config.home, { recursive: true, mode: 0o700 });
  const log = await open(path.join(config.home, 'agent.log'), 'a', 0o600);
  const child = spawn(
    process.execPath,
    [
      ...AGENT_EXEC_ARGV,
      bin,
      ...(config.file ? ['--config', config.file] : []),
      'agent',
      '--password-stdin',
      '--verbose',
    ],
    {
      detached: true,
      stdio: ['pipe', log.fd, log.fd],
      env: ctx.io.env,
    },
  );
  child.stdin!.end(`${password}\n`);
  child.unref();
  await log.close();
  for (let i = 0; i < 150; i++) {
    const answer = await askAgent(config, { cmd: 'status' }).catch(() => undefined);
    if (answer?.ok && answer.unlocked && answer.lastSync) {
      out(
        ctx,
        { ...answer, started: true },
        `started the agent (pid ${String(answer.pid)}); it holds the keys for this session`,
      );
      return ExitCode.Done;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new CredroamError('E_AGENT', `the agent did not come up; see ${path.join(config.home, 'agent.log')}`);
}

/** `credroam trigger logon|logoff|lock|unlock|refresh|resume|stop`: tells the running agent. */
export async function trigger(args: Args, ctx: Context): Promise<number> {
  const [event] = args.positionals;
  const events = ['logon', 'logoff', 'lock', 'unlock', 'refresh', 'resume', 'stop'];
  if (!event || !events.includes(event) || args.positionals.length !== 1) {
    throw new UsageError(`usage: credroam trigger ${events.join('|')}`);
  }
  const config = await loadConfig(str(args.values.config), ctx.io.env);
  const answer = await askAgent(config, event === 'stop' ? { cmd: 'stop' } : { cmd: 'trigger', event });
  if (!answer)
    throw new CredroamError('E_NO_AGENT', `no agent is running for ${config.home} (${socketPath(config)})`);
  return agentAnswer(ctx, answer, () => `the agent took '${event}'`);
}
