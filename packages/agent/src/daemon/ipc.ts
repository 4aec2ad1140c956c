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
 */
export const AGENT_EXEC_ARGV: readonly string[] = ['--max-semi-space-size=1', '--lite-mode'];

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

/** Sends one request to a running agent; undefined when no agent listens. */
export async function askAgent(
  config: AgentConfig,
  request: AgentRequest,
  timeoutMs = 120_000,
): Promise<AgentAnswer | undefined> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath(config));
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new CredroamError('E_AGENT', `the agent did not answer within ${timeoutMs} ms`, {
          socket: socketPath(config),
        }),
      );
    }, timeoutMs);
    socket.once('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk) => {
      data += chunk.toString('utf8');
      const nl = data.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
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
      clearTimeout(timer);
      reject(
        new CredroamError('E_AGENT', 'the agent closed the connection without answering', {
          socket: socketPath(config),
        }),
      );
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
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
