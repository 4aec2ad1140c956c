import { loadConfig } from '../../config.js';
import { ExitCode, UsageError } from '../io.js';
import { createHost, formatPluginList } from '../plugins.js';
import { type Args, type Context, str } from './shared.js';

// --- plugins list ----------------------------------------------------------------------------------

/** `credroam plugins list`: without an agent manifest, the first-party plugins one would load. */
export async function plugins(args: Args, ctx: Context): Promise<number> {
  if (args.positionals[0] !== 'list')
    throw new UsageError('the plugins command has one subcommand: credroam plugins list');
  const config = await loadConfig(str(args.values.config), ctx.io.env);
  const host = await createHost(config, ctx.log);
  try {
    await host.start();
    const list = host.list();
    ctx.io.stdout(ctx.json ? `${JSON.stringify({ plugins: list }, null, 2)}\n` : formatPluginList(list));
    return list.some((p) => p.state === 'failed') ? ExitCode.Skipped : ExitCode.Done;
  } finally {
    await host.dispose();
  }
}
