import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CredroamError, errorMessage } from '@credroam/core/api';
import { EventLog } from '@credroam/core/host';
import type { AgentConfig } from '../../config.js';
import {
  AGENT_EXEC_ARGV,
  type AgentAnswer,
  type AgentRequest,
  agentStatus,
  askAgent,
  LOGON_COMMAND,
  START_AGENT_COMMAND,
  socketPath,
} from '../../daemon/ipc.js';
import { ExitCode, UsageError } from '../io.js';
import { stripNewline } from '../secrets.js';
import { type Args, agentAnswer, agentError, type Context, configOf, logonSyncNote, out } from './shared.js';

// --- the agent ------------------------------------------------------------------------------------

/** `credroam agent`: runs until SIGTERM (or `credroam trigger stop`). */
export async function agent(args: Args, ctx: Context): Promise<number> {
  const config = configOf(ctx);
  const { Agent } = await import('../../daemon/agent.js');
  // The daemon logs at info (journald keeps its start, plugins, keys and syncs); --verbose adds debug.
  const log = new EventLog({ write: ctx.io.stderr, level: args.values.verbose ? 'debug' : 'info' });
  const daemon = new Agent(config, log);
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
  // A logon that fails (a wrong password) is in the log (event 2211, with its code); the agent waits for the next.
  if (password !== undefined) await askAgent(config, { cmd: 'logon', password });
  await daemon.stopped;
  process.removeListener('SIGTERM', stop);
  process.removeListener('SIGINT', stop);
  // Stopped: nothing of the agent should keep the process alive. If something does (a handle a
  // plugin or a library left open), the agent still ends, and says what it was.
  setTimeout(() => {
    ctx.io.stderr(
      `credroam agent: stopped, but ${process.getActiveResourcesInfo().join(', ') || 'something'} kept the process alive: exiting\n`,
    );
    process.exit(ExitCode.Done);
  }, 5_000).unref();
  return ExitCode.Done;
}

/** How long `credroam logon --start-agent` waits for the agent it started to answer (it opens its plugins first). */
const AGENT_START_MS = 60_000;

/**
 * Starts the agent in the background, then gives it the password over its control socket, as
 * `credroam logon` gives a running agent (never on disk, never in argv), and says what the logon
 * made of it. An old agent that does not answer (stopped, hung) is not waited for: the new one takes
 * its socket over. An agent whose logon failed (a wrong password) would hold no keys: it is
 * stopped, and the error says so.
 */
export async function startAgent(
  config: AgentConfig,
  logon: Extract<AgentRequest, { cmd: 'logon' }>,
  ctx: Context,
  { verbose = false }: { readonly verbose?: boolean } = {},
): Promise<number> {
  const { spawn } = await import('node:child_process');
  const { open } = await import('node:fs/promises');
  const bin = fileURLToPath(new URL('../../bin/credroam.js', import.meta.url));
  await mkdir(config.home, { recursive: true, mode: 0o700 });
  const logFile = path.join(config.home, 'agent.log');
  const log = await open(logFile, 'a', 0o600);
  // At the agent's own level (info), as the journal would keep it; `--verbose` (given to `logon`) adds debug.
  const child = spawn(
    process.execPath,
    [
      ...AGENT_EXEC_ARGV,
      bin,
      ...(config.file ? ['--config', config.file] : []),
      'agent',
      ...(verbose ? ['--verbose'] : []),
    ],
    { detached: true, stdio: ['ignore', log.fd, log.fd], env: ctx.io.env },
  );
  child.unref();
  await log.close();
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      resolve();
    }),
  );
  const pid = child.pid;
  const seeLog = `see ${logFile}`;

  // The agent that answers: the one started here, or one that came up meanwhile (this one then exits).
  const deadline = Date.now() + AGENT_START_MS;
  let status: AgentAnswer | undefined;
  for (;;) {
    // Short pings: until the new agent takes the socket over, an old one that is hung may hold it.
    status = await askAgent(config, { cmd: 'status' }, 1_000).catch(() => undefined);
    if (status?.ok && (status.pid === pid || exitCode !== undefined)) break;
    if (exitCode !== undefined && !status)
      throw new CredroamError(
        'E_AGENT',
        `the agent exited (code ${String(exitCode)}) before it answered; ${seeLog}`,
        {
          log: logFile,
        },
      );
    if (Date.now() > deadline)
      throw new CredroamError(
        'E_AGENT',
        `the agent started for this logon (pid ${String(pid)}) did not answer within ${AGENT_START_MS / 1000} s; ${seeLog}`,
        { log: logFile, pid },
      );
    await new Promise((r) => setTimeout(r, 100));
  }
  const ours = status.pid === pid;
  const answer = await askAgent(config, logon).catch((error: unknown) => {
    throw new CredroamError(
      'E_AGENT',
      `${errorMessage(error)}: the agent (pid ${String(status.pid)}) did not finish the logon, and is still running; ${seeLog}`,
      { log: logFile, pid: status.pid },
    );
  });
  if (!answer)
    throw new CredroamError('E_AGENT', `the agent stopped before it answered the logon; ${seeLog}`, {
      log: logFile,
    });
  if (!answer.ok) {
    const error = agentError(answer);
    let left = '';
    if (ours) {
      // It holds no keys: left running, it would only stand in the way of the next logon's agent.
      await askAgent(config, { cmd: 'stop' }).catch(() => undefined);
      // The wait ends with the agent: a timer left running would hold this command (and a PAM
      // logon waiting for it) for its whole length.
      let timer: NodeJS.Timeout | undefined;
      const stopped = await Promise.race([
        exited.then(() => true),
        new Promise<boolean>((r) => {
          timer = setTimeout(() => r(false), 10_000);
        }),
      ]);
      clearTimeout(timer);
      left = stopped
        ? ' (the agent started for this logon was stopped: it held no keys)'
        : ` (the agent started for this logon, pid ${String(pid)}, was asked to stop: it holds no keys)`;
    }
    throw new CredroamError(error.code, `${error.message}${left}`, { ...error.details });
  }
  out(
    ctx,
    { ...answer, pid: status.pid, started: ours },
    `${
      ours
        ? `started the agent (pid ${String(status.pid)}); it holds the keys for this session${answer.rewrapped ? ' (keys re-wrapped for the changed password)' : ''}`
        : `logged on through the agent (pid ${String(status.pid)}) that started meanwhile`
    }${logonSyncNote(answer)}`,
  );
  return ExitCode.Done;
}

/** `credroam trigger logon|logoff|lock|unlock|refresh|resume|stop`: tells the running agent. */
export async function trigger(args: Args, ctx: Context): Promise<number> {
  const [event] = args.positionals;
  const events = ['logon', 'logoff', 'lock', 'unlock', 'refresh', 'resume', 'stop'];
  if (!event || !events.includes(event)) {
    throw new UsageError(`'${event}' is not an event the agent takes: ${events.join(', ')}`, { event });
  }
  const config = configOf(ctx);
  // A stopped or hung agent is said at once, with the way out (it cannot take the event).
  const answer =
    (await agentStatus(config)) &&
    (await askAgent(config, event === 'stop' ? { cmd: 'stop' } : { cmd: 'trigger', event }));
  if (!answer)
    throw new CredroamError(
      'E_NO_AGENT',
      `no agent is running for ${config.home} (${socketPath(config)}): start one with ${START_AGENT_COMMAND}, or \`systemctl --user start credroam-agent\` where its unit is installed`,
    );
  return agentAnswer(ctx, answer, (a) =>
    a.unlocked === false
      ? `the agent took '${event}'; it holds no keys, so it did not sync: log on (${LOGON_COMMAND})`
      : `the agent took '${event}'`,
  );
}
