import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
// Only what every invocation needs is imported here (decision 024): the plugin host's entry and the
// validators compiled at build time when a command runs, a command's own modules when it runs
// (command-table.ts), `@credroam/core` (engine, enrollment, policy bundles) with the session of the
// commands that open one.
import { CredroamError, errorMessage } from '@credroam/core/api';
import { printable } from '@credroam/core/printable';
import type { AgentConfig } from '../config.js';
import { COMMANDS, commandHelp, FLAGS, type Flag, GLOBAL_FLAGS, globalHelp } from './command-table.js';
import { type CliIo, ExitCode, UsageError } from './io.js';

type Values = Record<string, string | boolean | undefined>;

const OPTIONS = Object.fromEntries(
  Object.entries(FLAGS).map(([name, f]) => [
    name,
    { type: f.type, ...('short' in f ? { short: f.short } : {}) },
  ]),
) as Record<string, { type: 'string' | 'boolean'; short?: string }>;

/**
 * Reads the command line against the command's own table of flags. Any flag the command does not
 * take is a usage error that names the flag and the command (DESIGN §6: `--dry-run` is honoured or
 * refused, never ignored); so is a flag without its value, or a switch given one.
 */
function parse(argv: readonly string[]): { command?: string; values: Values; positionals: string[] } {
  const { values, positionals, tokens } = parseArgs({
    args: [...argv],
    options: OPTIONS,
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  const [command, ...rest] = positionals;
  const spec = command === undefined ? undefined : COMMANDS[command];
  const allowed = new Set<string>([...GLOBAL_FLAGS, ...(spec?.flags ?? [])]);
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const known = Object.hasOwn(FLAGS, token.name) ? FLAGS[token.name as Flag] : undefined;
    if (!known) throw new UsageError(`unknown flag ${token.rawName}`, { flag: token.rawName });
    const flag = `--${token.name}`;
    if (!allowed.has(token.name)) {
      throw new UsageError(
        spec
          ? `${command} does not take ${flag}`
          : `${flag} goes after a command: credroam <command> ${flag}`,
        spec ? { command, flag } : { flag },
      );
    }
    const missing =
      token.value === undefined || token.value === '' || (!token.inlineValue && token.value.startsWith('-'));
    if (known.type === 'string' && missing) {
      throw new UsageError(`${flag} needs a value: ${flag} ${'value' in known ? known.value : 'VALUE'}`, {
        flag,
      });
    }
    if (known.type === 'boolean' && token.inlineValue) {
      throw new UsageError(`${flag} takes no value`, { flag });
    }
  }
  return { ...(command !== undefined ? { command } : {}), values: values as Values, positionals: rest };
}

/** Runs one CLI invocation; returns the exit code. Never calls process.exit. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  // Read leniently first: which command, and whether errors are JSON (a bad command line's too).
  const lenient = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: false });
  const json = lenient.values.json === true;
  const command = lenient.positionals[0];
  const spec = command === undefined ? undefined : COMMANDS[command];
  try {
    const { values, positionals } = parse(argv);
    if (values.help) {
      io.stdout(spec && command ? commandHelp(command, spec) : globalHelp());
      return ExitCode.Done;
    }
    if (values.version) {
      const { CORE_VERSION } = await import('@credroam/core/host');
      io.stdout(`credroam ${CORE_VERSION}\n`);
      return ExitCode.Done;
    }
    if (command === undefined) throw new UsageError('no command given');
    if (!spec) throw new UsageError(`unknown command '${command}'`, { command });
    const operands = spec.operands ?? { min: 0, max: 0, names: '' };
    if (positionals.length < operands.min || positionals.length > operands.max) {
      // The arguments are not repeated: a mistyped secret must not reach a log.
      throw new UsageError(
        operands.max === 0
          ? `${command} takes no arguments, only flags (got ${positionals.length})`
          : `${command} takes ${operands.names} (got ${positionals.length} argument${positionals.length === 1 ? '' : 's'})`,
        { command, arguments: positionals.length },
      );
    }
    // Not the plugin host: a command the running agent serves loads no more than this (decision 024).
    const [{ EventLog }, { registerCompiledValidators }, { COMPILED_VALIDATORS }] = await Promise.all([
      import('@credroam/core/events'),
      import('@credroam/core/schemas'),
      import('./compiled-validators.js'),
    ]);
    // The first-party schemas, compiled at build time: a command compiles none at start.
    registerCompiledValidators(COMPILED_VALIDATORS);
    // The log goes to stderr as JSON lines; a person at a terminal sees warnings and errors only.
    const log = new EventLog({ write: io.stderr, level: values.verbose ? 'debug' : 'warn' });
    const config = spec.needsConfig ? await commandConfig(values, io.env) : undefined;
    return await spec.run({ values, positionals }, { io, log, json, command, ...(config ? { config } : {}) });
  } catch (error) {
    return report(error, { io, json, command: spec ? command : undefined });
  }
}

/** Prints an error: one line on stderr; with `--json`, also `{ error: { code, message, ids } }` on stdout. */
function report(error: unknown, at: { io: CliIo; json: boolean; command: string | undefined }): number {
  const usage = error instanceof UsageError;
  // One line, printable: a message may carry what others chose (a file's name, a server's text).
  const message = printable(errorMessage(error).replace(/\s*\n\s*/g, ' '), 4096);
  const code = usage ? error.code : error instanceof CredroamError ? error.code : 'E_INTERNAL';
  const ids = usage ? error.ids : error instanceof CredroamError ? error.details : {};
  const who = at.command ? `credroam ${at.command}` : 'credroam';
  const help = at.command ? `credroam ${at.command} --help` : 'credroam --help';
  at.io.stderr(
    usage
      ? // A command line credroam does not take points to the help; a closer code (E_KEYS_NEEDED,
        // E_THUMBPRINT_TOO_SHORT) is named as well, as every other failure names its code.
        `${who}: ${message}; see \`${help}\`${code === 'E_USAGE' ? '' : ` [${code}]`}\n`
      : `${who}: ${message}${error instanceof CredroamError ? ` [${error.code}]` : ''}\n`,
  );
  if (at.json) at.io.stdout(`${JSON.stringify({ error: { code, message, ids } }, null, 2)}\n`);
  return usage ? ExitCode.Usage : ExitCode.Failed;
}

/**
 * The agent manifest a command needs. Without one, the command says to write one with `credroam
 * init` rather than run on a built-in default the user never chose.
 */
async function commandConfig(values: Values, env: NodeJS.ProcessEnv): Promise<AgentConfig> {
  const { defaultConfigPath, loadConfig } = await import('../config.js');
  const explicit = typeof values.config === 'string' ? values.config : undefined;
  let config: AgentConfig;
  try {
    config = await loadConfig(explicit, env);
  } catch (error) {
    const file = error instanceof CredroamError ? error.details.file : undefined;
    if (typeof file === 'string' && !(await exists(file))) throw noConfig(file, true);
    throw error;
  }
  if (config.file === undefined) throw noConfig(defaultConfigPath(env), false);
  return config;
}

function noConfig(file: string, named: boolean): CredroamError {
  return new CredroamError(
    'E_NO_CONFIG',
    `cannot read the agent manifest ${file}: there is none; run \`credroam init${named ? ` --config ${file}` : ''} --directory URL\` to write one (see \`credroam init --help\`)`,
    { file },
  );
}

const exists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );
