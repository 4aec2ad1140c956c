import net from 'node:net';
import path from 'node:path';
import { CredroamError } from '@credroam/core/api';
import type { AgentConfig } from '../config.js';

/**
 * The agent's control socket: `<home>/run/agent.sock`, in a 0700 folder of the user's, so only
 * the user reaches it. Requests and answers are one JSON line each. The logon password travels
 * this way from `credroam logon` (what PAM runs) to the agent: never on disk, never in argv.
 */
export const socketPath = (config: AgentConfig): string => path.join(config.home, 'run', 'agent.sock');

/**
 * Node options the agent runs with: a 1 MiB young generation and no compiler but the interpreter
 * keep an agent with 2 000 credentials small: 75 MB idle, about 90 MB right after a run of syncs.
 * They cost CPU while it syncs: over 20 store changes (`pnpm bench:commands`, BENCH_ONLY=agent,
 * one loaded 2-core machine) it spent 24 s, against 17 s with `--no-opt` (141 MB after the
 * syncs) and 14 s with every compiler (85 MB idle, 149 MB after). `--lite-mode` is not accepted in
 * NODE_OPTIONS: give these on the node command line.
 *
 * On V8 before 13 (Node 20, 22) `--lite-mode` turns WebAssembly off, and V8 prints a line that is
 * not JSON into the agent's log at each start ("disabling flag --expose_wasm due to conflicting
 * flags") unless `--no-expose-wasm` says so first; V8 13 (Node 24) has no such flag, and refuses it.
 * The agent is started with the Node that runs this code (`process.execPath`): the test is on its V8.
 */
export const AGENT_EXEC_ARGV: readonly string[] = [
  '--max-semi-space-size=1',
  '--lite-mode',
  ...(Number.parseInt(process.versions.v8, 10) < 13 ? ['--no-expose-wasm'] : []),
];

/** The longest request line the agent reads (daemon/agent.ts drops a connection that sends more). */
export const MAX_REQUEST_CHARS = 65_536;

export type AgentRequest =
  | { readonly cmd: 'status' }
  | {
      readonly cmd: 'logon';
      readonly password: string;
      /** Sent by `credroam logon --pam`, with the PAM hook's proof token when it ran as root. */
      readonly pam?: boolean;
      readonly proof?: string;
    }
  | { readonly cmd: 'trigger'; readonly event: string }
  | { readonly cmd: 'passwd'; readonly oldPassword: string; readonly newPassword: string }
  /**
   * `credroam import` while the agent holds the keys: one credential for the agent to store, the
   * key encrypted at rest under them (base64 DER certificate, base64 PKCS#8 key), with its CA
   * chain (base64 DER each, issuer order) and friendly name when the file had them.
   */
  | {
      readonly cmd: 'import';
      readonly cert: string;
      readonly key?: string;
      readonly chain?: readonly string[];
      readonly friendlyName?: string;
    }
  /**
   * `credroam export` while the agent holds the keys: answers `cert`, `key`, `chain` (base64) and
   * `friendlyName` of one credential.
   */
  | { readonly cmd: 'export'; readonly sha256: string }
  /**
   * `credroam sync` while the agent holds the keys: the agent syncs (after the sync in progress,
   * if any) and answers `report` (the engine's), `mirrors` and `lastSync`.
   */
  | { readonly cmd: 'sync'; readonly full?: boolean }
  /** `credroam enroll` while the agent holds the keys: answers the enrollment report. */
  | { readonly cmd: 'enroll'; readonly dryRun?: boolean }
  | { readonly cmd: 'stop' };

export type AgentAnswer =
  | ({ readonly ok: true } & Record<string, unknown>)
  | {
      readonly ok: false;
      /** The error's code, message and the ids involved (its `details`; never a secret). */
      readonly error: {
        readonly code: string;
        readonly message: string;
        readonly details?: Readonly<Record<string, unknown>>;
      };
    };

/** How long a command waits for the answer to a request, unless it says otherwise (a sync: 30 minutes). */
export const AGENT_REQUEST_MS = 120_000;

/** How long a command waits for a running agent to say it is there, before it sends its request. */
export const AGENT_PING_MS = 5_000;

/** How a user starts an agent that holds the keys, as they can type it (FILE: the roaming password's file). */
export const START_AGENT_COMMAND = 'credroam logon --start-agent --password-file FILE (or --password-stdin)';

/**
 * What to do about an agent that does not answer, as a user can type it: a new agent takes the
 * socket over (daemon/agent.ts, event 2204), and the old one, should it run again, finds its socket
 * replaced and stops by itself (event 2205). Nothing needs to be ended first.
 */
export const NEW_AGENT_ADVICE = `start a new agent, which takes the socket over (the old one stops by itself if it runs again): ${START_AGENT_COMMAND}`;

/** How to give a running agent the keys, as a user can type it (FILE: the roaming password's file). */
export const LOGON_COMMAND = 'credroam logon --password-file FILE, or --password-stdin';

/** What the agent says when it holds no keys (logged off, or started without a password). */
export const AGENT_LOCKED = `the agent holds no keys: log on (${LOGON_COMMAND})`;

/** Why an agent on the socket did not answer, in words: a stopped or hung one, or another failure. */
export function notAnswering(config: AgentConfig, error: unknown): string {
  const timedOut = error instanceof CredroamError && error.details.timedOut === true;
  const why = timedOut
    ? `does not answer within ${AGENT_PING_MS / 1000} s (stopped or hung)`
    : `cannot be asked: ${error instanceof Error ? error.message : String(error)}`;
  return `the agent on ${socketPath(config)} ${why}`;
}

/**
 * The running agent's status, which a live agent answers at once; undefined when no agent listens.
 * One that does not answer within AGENT_PING_MS — stopped, hung, or a program squatting its socket
 * — is E_AGENT saying how to get out, at once rather than after the wait of the request the
 * command was about to send (up to 30 minutes for a sync).
 */
export async function agentStatus(config: AgentConfig): Promise<AgentAnswer | undefined> {
  return askAgent(config, { cmd: 'status' }, AGENT_PING_MS).catch((error: unknown) => {
    throw new CredroamError('E_AGENT', `${notAnswering(config, error)}: ${NEW_AGENT_ADVICE}`, {
      socket: socketPath(config),
    });
  });
}

/** How many status pings in a row an agent may leave unanswered while it handles a long request. */
const MISSED_PINGS = 2;

/**
 * Sends one request to a running agent; undefined when no agent listens. While it waits for the
 * answer to a request longer than the status ping (a sync: up to 30 minutes), it asks the agent's
 * status every AGENT_PING_MS on a second connection, which a live agent answers at once, syncing
 * or not: an agent that leaves MISSED_PINGS of them unanswered (stopped or hung since it was
 * asked) is E_AGENT with `stoppedAnswering`, after seconds rather than at the request's timeout.
 */
export async function askAgent(
  config: AgentConfig,
  request: AgentRequest,
  timeoutMs = AGENT_REQUEST_MS,
  options: {
    /** Ends the request at once (undefined: as if no agent listened); the status pings use it. */
    readonly cancel?: AbortSignal;
    /**
     * The process id of the agent the caller's status just found (the one this request goes to):
     * only its answers to the pings count. Without it, the first ping's answer tells it.
     */
    readonly agentPid?: unknown;
  } = {},
): Promise<AgentAnswer | undefined> {
  const { cancel, agentPid } = options;
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath(config));
    let data = '';
    let settled = false;
    let ping: NodeJS.Timeout | undefined;
    const pinging = new AbortController(); // a ping under way ends with the request
    const done = () => {
      settled = true;
      clearTimeout(timer);
      clearTimeout(ping);
      pinging.abort();
      cancel?.removeEventListener('abort', cancelled);
    };
    const cancelled = () => {
      done();
      socket.destroy();
      resolve(undefined);
    };
    cancel?.addEventListener('abort', cancelled);
    const timer = setTimeout(() => {
      done();
      socket.destroy();
      reject(
        new CredroamError('E_AGENT', `the agent did not answer within ${timeoutMs} ms`, {
          socket: socketPath(config),
          timedOut: true,
        }),
      );
    }, timeoutMs);
    if (request.cmd !== 'status' && timeoutMs > AGENT_PING_MS * MISSED_PINGS) {
      let missed = 0;
      /** The process id of the agent that took the request, once the first ping told it. */
      let pid: unknown = agentPid;
      let known = agentPid !== undefined;
      const check = async () => {
        const status = await askAgent(config, { cmd: 'status' }, AGENT_PING_MS, {
          cancel: pinging.signal,
        }).catch(() => undefined);
        if (settled) return;
        // Another agent answering on the socket (one that took it over) is no sign of this one.
        // Only the first ping, answered, tells which agent took the request: once one went
        // unanswered, whoever answers may be a new agent on the socket, never learned as this one.
        if (!known && missed === 0 && status?.ok) {
          pid = status.pid;
          known = true;
        }
        const answered = status !== undefined && (!status.ok || status.pid === pid);
        missed = answered ? 0 : missed + 1;
        if (missed < MISSED_PINGS) {
          ping = setTimeout(check, answered ? AGENT_PING_MS : 0);
          return;
        }
        done();
        socket.destroy();
        reject(
          new CredroamError(
            'E_AGENT',
            `the agent on ${socketPath(config)} stopped answering while it handled \`${request.cmd}\` (stopped or hung): ${NEW_AGENT_ADVICE}`,
            { socket: socketPath(config), stoppedAnswering: true },
          ),
        );
      };
      ping = setTimeout(check, AGENT_PING_MS);
    }
    socket.once('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk) => {
      data += chunk.toString('utf8');
      const nl = data.indexOf('\n');
      if (nl >= 0) {
        done();
        socket.end();
        try {
          resolve(JSON.parse(data.slice(0, nl)) as AgentAnswer);
        } catch {
          reject(
            new CredroamError('E_AGENT', 'the agent answered something that is not JSON', {
              socket: socketPath(config),
            }),
          );
        }
      }
    });
    // The agent gone before it answered (killed, or crashed, mid-sync): said now, not after the
    // wait (30 minutes for a sync). A settled promise ignores this (after an answer or an error).
    socket.once('close', () => {
      done();
      reject(
        new CredroamError('E_AGENT', 'the agent closed the connection without answering', {
          socket: socketPath(config),
        }),
      );
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      done();
      if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED') resolve(undefined);
      else
        reject(
          new CredroamError('E_AGENT', `cannot reach the agent: ${error.code}`, {
            socket: socketPath(config),
          }),
        );
    });
  });
}
