import os from 'node:os';
import path from 'node:path';
import { CredroamError, FolderDirectoryStore, folderFromUrl, LocalStore } from '@credroam/core';
import type { LdapApi } from '@credroam/plugin-ldap';
import type { Pkcs12Api } from '@credroam/plugin-pkcs12';
import type { AgentConfig } from '../../config.js';
import { discoverProfiles, Mirrors, PROFILE_ROOTS } from '../../mirrors/index.js';
import { describePolicyOrigin, hostPolicy } from '../../policy.js';
import { loadPolicy } from '../../session.js';
import { ExitCode } from '../io.js';
import { createHost } from '../plugins.js';
import { secretFileCheck } from '../secrets.js';
import { type Args, type Context, configOf, out, roamingPassword } from './shared.js';

// --- doctor ----------------------------------------------------------------------------------------

export async function doctor(args: Args, ctx: Context): Promise<number> {
  const config = configOf(ctx);
  const loaded = await loadPolicy(config);
  const policy = loaded.policy;
  const host = await createHost(config, ctx.log, hostPolicy(loaded));
  try {
    await host.start();
    let checks: Array<{ check: string; ok: boolean; detail: string; fix?: string; warning?: string }>;
    const store = await storeDoctor(host, config);
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
        policy: { ...policy.directory },
        password: () => roamingPassword(args, ctx.io),
      });
    } else {
      checks = await folderDoctor(config);
    }
    // A store that fails its check is not listed: listing it would repair what doctor reports.
    const destinations = store.every((c) => c.ok)
      ? await destinationChecks(host, config, ctx)
      : [
          {
            check: 'destination',
            ok: false,
            detail: `the ${config.localStore.use} store (primary): not listed while the store check fails (listing it would change what that check reports)`,
            fix: 'fix what the store check names, then run doctor again',
          },
        ];
    checks.unshift(...store, ...destinations, ...(await secretFileChecks(config, ctx)));
    // First: the checks after it stop at the first failure, which callers read as the last line.
    checks.unshift({
      check: 'policy',
      ok: !(loaded.origin.kind === 'bundle' && loaded.origin.expired),
      detail: describePolicyOrigin(loaded.origin),
      ...(loaded.origin.kind === 'bundle' && loaded.origin.expired
        ? { fix: 'sign and distribute a new bundle (docs/admin/policy.md)' }
        : {}),
      // A site root with no bundle accepted yet: only the first-party plugins may load.
      ...(loaded.origin.kind === 'defaults' && loaded.allowList !== undefined
        ? {
            warning:
              'a site policy root is installed but no bundle was accepted yet: only the first-party plugins may load; ' +
              '`credroam status` fetches from the sources and names what each one failed (docs/admin/policy.md)',
          }
        : {}),
    });
    const ok = checks.every((c) => c.ok);
    out(
      ctx,
      { ok, directory: config.directory.use, checks },
      checks
        .map(
          (c) =>
            `${c.ok ? (c.warning ? 'WARN' : 'ok  ') : 'FAIL'} ${c.check}: ${c.detail}` +
            `${c.warning ? `\n     warning: ${c.warning}` : ''}${c.fix ? `\n     fix: ${c.fix}` : ''}`,
        )
        .join('\n'),
    );
    return ok ? ExitCode.Done : ExitCode.Failed;
  } finally {
    await host.dispose();
  }
}

type Check = { check: string; ok: boolean; detail: string; fix?: string; warning?: string };

/**
 * Where credentials land: the primary store (always) and each mirror found (Chromium's database, each
 * Firefox and Thunderbird profile, databases and folders named), and whether each holds exactly
 * what it should. Reads only; a mirror that is not current is a warning (the next sync repairs it),
 * one that cannot be read is a failure.
 */
async function destinationChecks(
  host: Awaited<ReturnType<typeof createHost>>,
  config: AgentConfig,
  ctx: Context,
): Promise<Check[]> {
  const checks: Check[] = [];
  // The primary is always shown, mirrors or not; one that cannot be listed is a failure, said here.
  let destinations: Awaited<ReturnType<Mirrors['inspect']>>;
  try {
    const primary = await (await host.contribution(LocalStore, config.localStore.use))({
      user: config.user,
      home: config.home,
      settings: config.localStore.settings,
      policy: {},
    });
    destinations = await new Mirrors({ config, host, log: ctx.log, primary }).inspect();
  } catch (error) {
    return [
      {
        check: 'destination',
        ok: false,
        detail: `the ${config.localStore.use} store (primary): ${error instanceof CredroamError ? `${error.message} [${error.code}]` : (error as Error).message}`,
        fix: 'docs/admin/stores.md; docs/admin/errors.md for the code',
      },
    ];
  }
  for (const d of destinations) {
    if (!d.ok) {
      checks.push({
        check: 'destination',
        ok: false,
        detail: `${d.description}: ${d.error}`,
        fix: 'docs/admin/stores.md (mirrors); the sync goes on without this mirror (event 3021)',
      });
      continue;
    }
    const holds = `holds ${d.holds.length} credential(s)${d.others > 0 ? (d.role === 'primary' ? `, ${d.others} archived` : `, and ${d.others} certificate(s) of the user's own (left alone)`) : ''}`;
    checks.push({
      check: 'destination',
      ok: true,
      detail: `${d.description}: ${d.role === 'primary' ? holds : `${d.current ? 'current' : 'not current'}, ${holds}`}`,
      ...(d.current
        ? {}
        : {
            warning: `${d.missing.length} credential(s) missing or changed by hand, ${d.extra.length} the primary no longer holds: the next sync brings it in step`,
          }),
    });
  }
  // A profile mirror that finds no profile here: said, as it is probably not what the site meant.
  for (const app of ['firefox', 'thunderbird'] as const) {
    if (!config.mirrors.some((m) => m.use === app) || discoverProfiles(os.homedir(), app).length > 0)
      continue;
    checks.push({
      check: 'destination',
      ok: true,
      detail: `${app}: no profile found (${path.join(os.homedir(), PROFILE_ROOTS[app][0]!, 'profiles.ini')})`,
      warning: `the manifest mirrors to every ${app} profile, and this user has none yet: the first sync after ${app} makes one fills it`,
    });
  }
  return checks;
}

/** The local store (pkcs12), checked first: links inside it, and files or folders that others could use. */
async function storeDoctor(
  host: Awaited<ReturnType<typeof createHost>>,
  config: AgentConfig,
): Promise<Check[]> {
  if (config.localStore.use !== 'pkcs12') return [];
  await host.activateByEvent('onCommand:doctor');
  const api = host.api<Pkcs12Api>('credroam.pkcs12');
  if (!api) return [{ check: 'store', ok: false, detail: 'the credroam.pkcs12 plugin is not active' }];
  const problems = await api.auditStore({ home: config.home });
  if (problems.length === 0) {
    return [{ check: 'store', ok: true, detail: 'owner-only, and no links inside the store' }];
  }
  const links = problems.some((p) => /link|not a folder|not a regular file/.test(p.problem));
  return [
    {
      check: 'store',
      ok: false,
      detail: problems.map((p) => `${p.path}: ${p.problem}`).join('; '),
      fix: links
        ? 'replace each link with a real folder or file (credroam never follows them); the next sync makes modes owner-only'
        : 'run `credroam sync`: the store makes its files and folders owner-only (or chmod go-rwx them)',
    },
  ];
}

/**
 * The files that hold a secret every command reads without being told: the roaming password's
 * ($CREDROAM_PASSWORD_FILE, set for a session or a unit) and an LDAP service account's bind password
 * (bindPasswordFile). One that others may read is a warning with the fix, as each read says it.
 */
async function secretFileChecks(config: AgentConfig, ctx: Context): Promise<Check[]> {
  const checks: Check[] = [];
  const roaming = ctx.io.env.CREDROAM_PASSWORD_FILE;
  if (roaming) checks.push(await secretFileCheck(roaming, 'roaming password', '$CREDROAM_PASSWORD_FILE'));
  const bind = config.directory.settings.bindPasswordFile;
  if (config.directory.use === 'ldap' && typeof bind === 'string')
    checks.push(await secretFileCheck(bind, 'bind password', 'bindPasswordFile'));
  return checks;
}

/** The folder directory, as the store itself checks it: the same details and fixes as its errors. */
async function folderDoctor(config: AgentConfig): Promise<Check[]> {
  const store = new FolderDirectoryStore(folderFromUrl(config.directory.settings.url), config.user);
  return (await store.checkAccess()).map(({ check, ok, detail, fix }) => ({
    check,
    ok,
    detail,
    ...(fix === undefined ? {} : { fix }),
  }));
}
