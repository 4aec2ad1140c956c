import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CredroamError } from '@credroam/core/api';
import { EventLog } from '@credroam/core/host';
import type { AgentConfig } from '../../config.js';
import { AGENT_EXEC_ARGV, AGENT_PING_MS, agentStatus, askAgent, socketPath } from '../../daemon/ipc.js';
import { ExitCode, UsageError } from '../io.js';
import { stripNewline } from '../secrets.js';
import { type Args, agentAnswer, type Context, configOf, out } from './shared.js';

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

/** Starts the agent in the background and hands it the password through a pipe (never disk or argv). */
export async function startAgent(config: AgentConfig, password: string, ctx: Context): Promise<number> {
  const { spawn } = await import('node:child_process');
  const { open } = await import('node:fs/promises');
  const bin = fileURLToPath(new URL('../../bin/credroam.js', import.meta.url));
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
    // Briefly: until the new agent takes the socket over, an old one that is hung may hold it.
    const answer = await askAgent(config, { cmd: 'status' }, AGENT_PING_MS).catch(() => undefined);
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
  if (!event || !events.includes(event)) {
    throw new UsageError(`'${event}' is not an event the agent takes: ${events.join(', ')}`, { event });
  }
  const config = configOf(ctx);
  // A stopped or hung agent is said at once, with the way out (it cannot take the event).
  const answer =
    (await agentStatus(config)) &&
    (await askAgent(config, event === 'stop' ? { cmd: 'stop' } : { cmd: 'trigger', event }));
  if (!answer)
    throw new CredroamError('E_NO_AGENT', `no agent is running for ${config.home} (${socketPath(config)})`);
  return agentAnswer(ctx, answer, () => `the agent took '${event}'`);
}
