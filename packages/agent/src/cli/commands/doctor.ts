import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { CredroamError } from '@credroam/core';
import type { LdapApi } from '@credroam/plugin-ldap';
import { type AgentConfig, loadConfig } from '../../config.js';
import { loadPolicy } from '../../session.js';
import { ExitCode } from '../io.js';
import { createHost } from '../plugins.js';
import { type Args, type Context, out, roamingPassword, str } from './shared.js';

// --- doctor ----------------------------------------------------------------------------------------

export async function doctor(args: Args, ctx: Context): Promise<number> {
  const config = await loadConfig(str(args.values.config), ctx.io.env);
  const policy = await loadPolicy(config);
  const host = await createHost(config, ctx.log);
  try {
    await host.start();
    let checks: Array<{ check: string; ok: boolean; detail: string; fix?: string; warning?: string }>;
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
