import type { EventLog } from '@credroam/core';
import { CredroamError, isErrorCode } from '@credroam/core/api';
import type { AgentConfig } from '../../config.js';
import { AGENT_PING_MS, type AgentAnswer, type AgentRequest, askAgent } from '../../daemon/ipc.js';
import type { Session } from '../../session.js';
import { type CliIo, ExitCode, UsageError } from '../io.js';
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

/** Prints a result as JSON (`--json`) or as text. */
export function out(ctx: Context, value: unknown, text: string): void {
  ctx.io.stdout(ctx.json ? `${JSON.stringify(value, null, 2)}\n` : text.endsWith('\n') ? text : `${text}\n`);
}

/** The roaming password: --password-stdin, --password-file FILE, or $CREDROAM_PASSWORD_FILE. */
export async function roamingPassword(args: Args, io: CliIo): Promise<string> {
  const file = str(args.values['password-file']) ?? (io.env.CREDROAM_PASSWORD_FILE || undefined);
  if (args.values['password-stdin'] || file) {
    const password = args.values['password-stdin']
      ? stripNewline(await io.stdin())
      : await readSecretFile(file!, 'roaming password');
    // An empty password would wrap the keys at a first logon with nothing at all.
    if (password.replace(/\0+$/, '') === '')
      throw new UsageError(
        'the roaming password is empty (nothing came on standard input, or the file is empty)',
      );
    return password;
  }
  throw new UsageError(
    'this command needs the roaming password: --password-stdin, --password-file FILE or $CREDROAM_PASSWORD_FILE',
  );
}

/** Whether the roaming password was given: a flag, or $CREDROAM_PASSWORD_FILE. */
export const passwordGiven = (args: Args, io: CliIo): boolean =>
  Boolean(args.values['password-stdin'] || args.values['password-file'] || io.env.CREDROAM_PASSWORD_FILE);

/**
 * Where a command that reads or writes private keys gets the user's keys: the roaming password
 * when one was given; else the running agent, when it holds them (the command then hands the
 * operation to it over its owner-only socket); else a usage error that names both ways.
 */
export async function userKeys(args: Args, ctx: Context): Promise<{ password: string } | { agent: true }> {
  if (passwordGiven(args, ctx.io)) return { password: await roamingPassword(args, ctx.io) };
  const answer = await askAgent(configOf(ctx), { cmd: 'status' }, AGENT_PING_MS).catch(() => undefined);
  if (answer?.ok && answer.unlocked === true) return { agent: true };
  throw new UsageError(
    `${ctx.command} needs the user's keys: ${answer?.ok ? 'the running agent holds none (log on first), or give' : 'log on with an agent that holds them (credroam logon --start-agent), or give'} the roaming password: --password-stdin, --password-file FILE or $CREDROAM_PASSWORD_FILE`,
    { command: ctx.command, agent: answer?.ok ? 'locked' : 'none' },
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
  if (!answer.ok)
    throw new CredroamError(
      isErrorCode(answer.error.code) ? answer.error.code : 'E_AGENT',
      answer.error.message,
      { ...answer.error.details },
    );
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

export async function unlock(
  session: Session,
  password: string,
): Promise<{ created: boolean; offline: boolean }> {
  if (!session.protector.unlock) return { created: false, offline: false };
  return session.protector.unlock({ password });
}

/** Prints an agent's answer, or fails with its error. */
export function agentAnswer(
  ctx: Context,
  answer: AgentAnswer,
  text: (a: Record<string, unknown>) => string,
): number {
  if (!answer.ok)
    throw new CredroamError(
      isErrorCode(answer.error.code) ? answer.error.code : 'E_AGENT',
      answer.error.message,
      { ...answer.error.details },
    );
  out(ctx, answer, text(answer));
  return ExitCode.Done;
}
