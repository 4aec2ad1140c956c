import type { PluginHost } from '@credroam/core';
import { loadConfig } from '../../config.js';
import { hostPolicy } from '../../policy.js';
import { loadPolicy } from '../../session.js';
import { ExitCode, UsageError } from '../io.js';
import { createHost, formatPluginList, sitePolicySummary } from '../plugins.js';
import { type Args, type Context, str } from './shared.js';

// --- plugins list ----------------------------------------------------------------------------------

/** `credroam plugins list`: without an agent manifest, the first-party plugins one would load. */
export async function plugins(args: Args, ctx: Context): Promise<number> {
  if (args.positionals[0] !== 'list')
    throw new UsageError('the plugins command has one subcommand: credroam plugins list');
  const config = await loadConfig(str(args.values.config), ctx.io.env);
  return listPlugins(await createHost(config, ctx.log, hostPolicy(await loadPolicy(config))), ctx);
}

/**
 * Starts a loaded host, prints its plugins (text, or JSON with `--json`): each one's state, whether
 * the site policy allows it and, if not, why; then shuts the host down. Exit 3 if any plugin failed.
 */
export async function listPlugins(host: PluginHost, ctx: Pick<Context, 'io' | 'json'>): Promise<number> {
  try {
    await host.start();
    const list = host.list();
    const sitePolicy = sitePolicySummary(host, list);
    ctx.io.stdout(
      ctx.json
        ? `${JSON.stringify({ sitePolicy, plugins: list }, null, 2)}\n`
        : formatPluginList(list, sitePolicy),
    );
    return list.some((p) => p.state === 'failed') ? ExitCode.Skipped : ExitCode.Done;
  } finally {
    await host.dispose();
  }
}
