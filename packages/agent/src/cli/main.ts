import { parseArgs } from 'node:util';
import { CORE_VERSION, CredroamError, EventLog, errorMessage } from '@credroam/core';
import { loadConfig } from '../config.js';
import { type CliIo, ExitCode, UsageError } from './io.js';
import { createHost, formatPluginList } from './plugins.js';

const USAGE = `usage: credroam [--config FILE] <command> [options]

commands:
  plugins list [--json]   the plugins the agent manifest loads: id, version, state, contributions

global options:
  --config FILE   the agent manifest (else $CREDROAM_CONFIG, else $XDG_CONFIG_HOME/credroam/config.json)
  --json          machine-readable output with a stable shape
  --help          this text
  --version       the version

exit codes: 0 done, 1 failed, 2 usage, 3 done with skipped items
`;

const OPTIONS = {
  config: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
  version: { type: 'boolean', default: false },
} as const;

/** Runs one CLI invocation; returns the exit code. Never calls process.exit. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    io.stderr(`credroam: ${errorMessage(error)}\n${USAGE}`);
    return ExitCode.Usage;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(USAGE);
    return ExitCode.Done;
  }
  if (values.version) {
    io.stdout(`credroam ${CORE_VERSION}\n`);
    return ExitCode.Done;
  }
  const log = new EventLog({ write: io.stderr, level: values.json ? 'warn' : 'info' });
  try {
    const [command, sub, ...rest] = positionals;
    switch (command) {
      case 'plugins': {
        if (sub !== 'list' || rest.length > 0) throw new UsageError(`usage: credroam plugins list [--json]`);
        const config = await loadConfig(values.config, io.env);
        const host = await createHost(config, log);
        try {
          await host.start();
          const plugins = host.list();
          io.stdout(values.json ? `${JSON.stringify({ plugins }, null, 2)}\n` : formatPluginList(plugins));
          return plugins.some((p) => p.state === 'failed') ? ExitCode.Skipped : ExitCode.Done;
        } finally {
          await host.dispose();
        }
      }
      case undefined:
        throw new UsageError('no command given');
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`credroam: ${error.message}\n${USAGE}`);
      return ExitCode.Usage;
    }
    const code = error instanceof CredroamError ? ` [${error.code}]` : '';
    io.stderr(`credroam: ${errorMessage(error)}${code}\n`);
    return ExitCode.Failed;
  }
}
