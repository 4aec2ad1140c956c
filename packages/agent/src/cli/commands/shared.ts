import type { EventLog } from '@credroam/core';
import { CredroamError, errorMessage, isErrorCode } from '@credroam/core/api';
import type { AgentConfig } from '../../config.js';
import {
  AGENT_LOCKED,
  type AgentAnswer,
  type AgentRequest,
  agentStatus,
  askAgent,
  START_AGENT_COMMAND,
} from '../../daemon/ipc.js';
import type { Session, SessionStores } from '../../session.js';
import { type CliIo, ExitCode, terminalText, UsageError } from '../io.js';
import { readSecretFile, stripNewline } from '../secrets.js';

/** The parsed command line every command receives. */
export interface Args {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  readonly positionals: readonly string[];
}

export interface Context {
  readonly io: CliIo;
  readonly log: EventLog;
  readonly json: boolean;
  /** The command being run, as typed. */
  readonly command: string;
  /** The agent manifest, read before the command runs (for the commands that need one). */
  readonly config?: AgentConfig;
}

/** The agent manifest of a command that needs one (the CLI reads it before running the command). */
export function configOf(ctx: Context): AgentConfig {
  if (!ctx.config) throw new Error(`credroam ${ctx.command} was run without its agent manifest`);
  return ctx.config;
}

export const str = (v: string | boolean | undefined): string | undefined =>
  typeof v === 'string' ? v : undefined;

/** Prints a result as JSON (`--json`) or as text (`terminalText`: nothing a terminal acts on but line breaks). */
export function out(ctx: Context, value: unknown, text: string): void {
  if (ctx.json) ctx.io.stdout(`${JSON.stringify(value, null, 2)}\n`);
  else ctx.io.stdout(terminalText(text.endsWith('\n') ? text : `${text}\n`));
}

/** Where the roaming password may come from, as a usage line says it. */
export const PASSWORD_SOURCES = '--password-stdin, --password-file FILE or $CREDROAM_PASSWORD_FILE';

/**
 * The roaming password: --password-stdin, --password-file FILE, or $CREDROAM_PASSWORD_FILE. Both
 * flags at once is a usage error; `missing` is the error when none was given.
 */
export async function roamingPassword(
  args: Args,
  io: CliIo,
  missing: () => Error = () => new UsageError(`this command needs the roaming password: ${PASSWORD_SOURCES}`),
): Promise<string> {
  if (args.values['password-stdin'] && args.values['password-file'] !== undefined)
    throw new UsageError('give one of --password-stdin, --password-file FILE, not both', {
      flags: ['--password-stdin', '--password-file'],
    });
  const file = str(args.values['password-file']) ?? (io.env.CREDROAM_PASSWORD_FILE || undefined);
  if (args.values['password-stdin'] || file) {
    const password = args.values['password-stdin']
      ? stripNewline(await io.stdin())
      : await readSecretFile(file!, 'roaming password', io.stderr);
    // An empty password would wrap the keys at a first logon with nothing at all.
    if (password.replace(/\0+$/, '') === '')
      throw new UsageError(
        'the roaming password is empty (nothing came on standard input, or the file is empty)',
      );
    return password;
  }
  throw missing();
}

/** Whether the roaming password was given: a flag, or $CREDROAM_PASSWORD_FILE. */
export const passwordGiven = (args: Args, io: CliIo): boolean =>
  Boolean(args.values['password-stdin'] || args.values['password-file'] || io.env.CREDROAM_PASSWORD_FILE);

/**
 * The roaming password when one was given, read now: a source that was given but cannot be read
 * is an error even where the running agent, not the password, will be used.
 */
export const givenPassword = async (args: Args, io: CliIo): Promise<string | undefined> =>
  passwordGiven(args, io) ? roamingPassword(args, io) : undefined;

/** No agent runs and no roaming password was given: what a command that needs the keys says. */
export const noAgentNoPassword = (ctx: Context): UsageError =>
  new UsageError(
    `no agent runs for ${configOf(ctx).home}: give the roaming password (${PASSWORD_SOURCES}), or start an agent that holds the keys: ${START_AGENT_COMMAND}`,
    { command: ctx.command, agent: 'none' },
    'E_KEYS_NEEDED',
  );

/**
 * Where a command that reads or writes private keys gets the user's keys: the roaming password
 * when one was given; else the running agent, when it holds them (the command then hands the
 * operation to it over its owner-only socket); else an error that names both ways. An agent that
 * does not answer is E_AGENT with the way out, not "no agent".
 */
export async function userKeys(args: Args, ctx: Context): Promise<{ password: string } | { agent: true }> {
  if (passwordGiven(args, ctx.io)) return { password: await roamingPassword(args, ctx.io) };
  const answer = await agentStatus(configOf(ctx)).catch((error: unknown) => {
    throw new CredroamError(
      'E_AGENT',
      `${errorMessage(error)}; or give the roaming password (${PASSWORD_SOURCES})`,
      error instanceof CredroamError ? error.details : {},
    );
  });
  if (!answer) throw noAgentNoPassword(ctx);
  if (!answer.ok) throw agentError(answer);
  if (answer.unlocked === true) return { agent: true };
  throw new UsageError(
    `${ctx.command} needs the user's keys: ${AGENT_LOCKED}, or give the roaming password (${PASSWORD_SOURCES})`,
    { command: ctx.command, agent: 'locked' },
    'E_KEYS_NEEDED',
  );
}

/** Sends a request to the agent that `userKeys` found; its error, or its being gone, is an error here. */
export async function askAgentWithKeys(
  ctx: Context,
  request: AgentRequest,
): Promise<Record<string, unknown>> {
  const answer = await askAgent(configOf(ctx), request);
  if (!answer)
    throw new CredroamError('E_NO_AGENT', 'the agent stopped before it answered; nothing was done');
  if (!answer.ok) throw agentError(answer);
  return answer;
}

/** Opens the session the agent manifest describes (or `config`, for another user), runs `work`, closes it. */
export async function withSession<T>(
  args: Args,
  ctx: Context,
  work: (s: Session) => Promise<T>,
  config: AgentConfig = configOf(ctx),
  options: { readonly unlock?: string } = {},
): Promise<T> {
  // The roaming password, read only if something needs it (a directory that binds with it).
  // The session's modules (@credroam/core whole, the mirrors) load only for a command that opens one:
  // a command the running agent serves does not pay for them (decision 024).
  const { openSession } = await import('../../session.js');
  const session = await openSession(config, ctx.log, {
    password: () => roamingPassword(args, ctx.io),
    ...options,
  });
  try {
    return await work(session);
  } finally {
    await session.dispose();
  }
}

/**
 * As `withSession`, with only the session's first half (`openStores`: the plugins and the stores
 * they make); `completeSession` adds the engine when the work needs it. Disposed of after `work`.
 */
export async function withStores<T>(
  args: Args,
  ctx: Context,
  work: (stores: SessionStores) => Promise<T>,
  config: AgentConfig = configOf(ctx),
): Promise<T> {
  const { openStores } = await import('../../session.js');
  const stores = await openStores(config, ctx.log, { password: () => roamingPassword(args, ctx.io) });
  try {
    return await work(stores);
  } finally {
    await stores.unlocking?.catch(() => undefined);
    await stores.dispose();
  }
}

export async function unlock(
  session: Pick<Session, 'protector'>,
  password: string,
): Promise<{ created: boolean; offline: boolean }> {
  if (!session.protector.unlock) return { created: false, offline: false };
  return session.protector.unlock({ password });
}

/** The error an agent answered with, as this process's own. */
export function agentError(answer: Extract<AgentAnswer, { ok: false }>): CredroamError {
  return new CredroamError(
    isErrorCode(answer.error.code) ? answer.error.code : 'E_AGENT',
    answer.error.message,
    { ...answer.error.details },
  );
}

/** Prints an agent's answer, or fails with its error. */
/**
 * What a logon through the agent adds when the agent's logon sync failed: the keys are open (the
 * logon succeeded), but nothing roams until the cause is fixed, and the user is told so in words.
 */
export function logonSyncNote(answer: Record<string, unknown>): string {
  const last = answer.lastSync as { readonly outcome?: unknown; readonly error?: unknown } | null | undefined;
  return last?.outcome === 'failed'
    ? `\nbut its logon sync failed: ${String(last.error)}\n(the agent syncs again at the next change or trigger; \`credroam status\` shows the last outcome)`
    : '';
}

export function agentAnswer(
  ctx: Context,
  answer: AgentAnswer,
  text: (a: Record<string, unknown>) => string,
): number {
  if (!answer.ok) throw agentError(answer);
  out(ctx, answer, text(answer));
  return ExitCode.Done;
}
