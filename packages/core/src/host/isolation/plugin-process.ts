import { type ChildProcess, spawn } from 'node:child_process';
import type { Duplex } from 'node:stream';
import type { ContributionRequest } from '../../api/contribution.js';
import { CredroamError } from '../../api/errors.js';
import { EventId, type Logger } from '../../api/events.js';
import type { PluginServices } from '../../api/plugin.js';
import { Channel } from './channel.js';
import { Peer } from './peer.js';
import type { ActivateParams, PluginMessage, WireRequest } from './protocol.js';
import type { Launch } from './sandbox.js';

export interface PluginProcessOptions {
  readonly launch: Launch;
  readonly params: ActivateParams;
  /** The services granted (`PluginServices`): they cross as remotes. */
  readonly services?: PluginServices;
  /** The plugin's scoped logger: its `log` lines land there. */
  readonly logger: Logger;
  /** How often the host checks that the process still answers, and how long it waits for the answer. */
  readonly pingIntervalMs: number;
  readonly pingTimeoutMs: number;
  /** Called once if the process ends without being asked to (it exited, crashed, or stopped answering). */
  readonly onLost: (reason: string) => void;
}

/** What a log record's own members are: a plugin's fields never stand for them. */
const RECORD_KEYS = new Set(['time', 'level', 'event', 'message', 'plugin', 'pluginEvent', '__proto__']);
const MAX_FIELDS = 64;
/** Log lines an isolated plugin may write per window. */
const LOG_LINES = 1_000;
const LOG_WINDOW_MS = 10_000;
const MAX_FIELDS_JSON = 16 * 1024;

/**
 * The fields of a plugin's log line as they go into the event log: its own keys but those a record
 * is made of (a field `event`, `level` or `plugin` would pass the line off as another record), at
 * most 64, and at most 16 KiB as JSON (else only a note that they were dropped).
 */
export function logFields(raw: unknown): Record<string, unknown> | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const out: Record<string, unknown> = {};
  let n = 0;
  for (const [k, v] of Object.entries(raw)) {
    if (RECORD_KEYS.has(k)) continue;
    if (++n > MAX_FIELDS) break;
    out[k] = v;
  }
  try {
    if (JSON.stringify(out).length <= MAX_FIELDS_JSON) return out;
  } catch {
    // not JSON (nested too deep, a BigInt): dropped as too big is
  }
  return { fieldsDropped: `not JSON of at most ${MAX_FIELDS_JSON} bytes` };
}

const READ_ONLY_DIRECTORY = ['readStamp', 'read', 'readKeys', 'close'];

/**
 * The host's side of one isolated plugin's process: starts it (as `launch` says), activates the
 * plugin in it, calls contribution factories there and hands back proxies, and deactivates or
 * kills it. A process that exits unasked, or does not answer a ping in time, is killed and
 * reported once through `onLost`; everything waiting on it fails with E_PLUGIN_CRASHED.
 */
export class PluginProcess {
  readonly #options: PluginProcessOptions;
  readonly #child: ChildProcess;
  readonly #peer: Peer;
  readonly #channel: Channel;
  readonly exited: Promise<void>;
  #ending = false;
  #lost = false;
  #ping: NodeJS.Timeout | undefined;
  #logWindow = 0;
  #logLines = 0;
  #pingDeadline: NodeJS.Timeout | undefined;

  constructor(options: PluginProcessOptions) {
    this.#options = options;
    const { launch } = options;
    this.#child = spawn(launch.command, [...launch.args], {
      env: { ...launch.env },
      // The channel is a socket pair of its own (channel.ts), not Node's IPC: bytes that are no
      // message must cost the plugin its process, never the host its own.
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
      cwd: options.params.stateDir,
    });
    const plugin = options.params.id;
    this.#channel = new Channel(this.#child.stdio[3] as Duplex, {
      message: (raw) => this.#receive(raw as PluginMessage),
      bad: (reason) => {
        this.#lose(`its process sent ${reason}: cut off`);
        this.#child.kill('SIGKILL');
      },
      closed: () => undefined,
    });
    this.#peer = new Peer((m) => this.#channel.send(m), plugin);
    this.exited = new Promise((resolve) => {
      this.#child.once('exit', (code, signal) => {
        const how = signal ? `was killed (${signal})` : `exited with code ${code}`;
        this.#ended(`its process ${how}`, `the process of plugin '${plugin}' ${how}`);
        resolve();
      });
      // A send to a process that just exited fails too: only a process that never started ends here.
      this.#child.on('error', (error) => {
        if (this.#child.pid !== undefined) return;
        this.#ended(
          `its process cannot start: ${error.message}`,
          `cannot start the process of plugin '${plugin}': ${error.message}`,
        );
        resolve();
      });
    });
    this.#ping = setInterval(() => this.#sendPing(), options.pingIntervalMs);
    this.#ping.unref();
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Runs the plugin's `activate` in the process; resolves with the contributions it provided (`Trigger/id`). */
  async activate(): Promise<string[]> {
    const services = this.#options.services ? this.#peer.encode(this.#options.services) : undefined;
    const params = { ...this.#options.params, ...(services !== undefined ? { services } : {}) };
    const result = (await this.#peer.request({ t: 'activate', params })) as {
      contributions?: unknown;
    };
    const list = Array.isArray(result?.contributions) ? result.contributions : [];
    return list.filter(
      (c): c is string => typeof c === 'string' && this.#options.params.declared.includes(c),
    );
  }

  /**
   * Calls a contribution's factory in the process and returns its proxy. The request's directory
   * store crosses only with `directory:read` (its read methods) or `directory:write`, its password
   * only with `password`.
   */
  async create(point: string, contribution: string, request: ContributionRequest): Promise<unknown> {
    const granted = this.#options.params.granted;
    // Copies as plain data: the agent's `policy` is a live view of the section in force (a Proxy),
    // which does not cross; the plugin sees the section as it was when the contribution was made.
    const wire: Record<string, unknown> = {
      user: request?.user,
      settings: this.#peer.encode(request?.settings ?? {}),
      home: request?.home,
      policy: this.#peer.encode(request?.policy ?? {}),
    };
    if (request?.directory && (granted.includes('directory:write') || granted.includes('directory:read'))) {
      const store = request.directory as unknown as Record<string, unknown>;
      const allowed = granted.includes('directory:write')
        ? [...READ_ONLY_DIRECTORY, 'write']
        : READ_ONLY_DIRECTORY;
      const view: Record<string, unknown> = {};
      for (const m of allowed) {
        const f = store[m];
        if (typeof f === 'function') view[m] = (...args: unknown[]) => f.apply(store, args);
      }
      wire.directory = this.#peer.encode(view);
    }
    if (request?.password && granted.includes('password'))
      wire.password = this.#peer.encode(request.password);
    return this.#peer.request({ t: 'create', point, contribution, request: wire as unknown as WireRequest });
  }

  /** Runs the plugin's `deactivate` and disposes its subscriptions in the process. */
  async deactivate(): Promise<void> {
    await this.#peer.request({ t: 'deactivate' });
  }

  /** Ends the process (SIGKILL) and waits for it; not reported as lost. */
  async kill(): Promise<void> {
    this.#ending = true;
    this.#stopPinging();
    if (this.#child.pid !== undefined && this.#child.exitCode === null && this.#child.signalCode === null) {
      this.#child.kill('SIGKILL');
    }
    await this.exited;
  }

  #receive(message: PluginMessage): void {
    switch (message?.t) {
      case 'result':
        this.#peer.settle(message);
        break;
      case 'call':
        void this.#peer.answer(message);
        break;
      case 'release':
        this.#peer.release(message);
        break;
      case 'pong':
        clearTimeout(this.#pingDeadline);
        this.#pingDeadline = undefined;
        break;
      case 'log': {
        const { logger } = this.#options;
        if (!this.#logAllowed()) break;
        const text = String(message.message).slice(0, 4096);
        const fields = logFields(message.fields);
        const level = ['debug', 'info', 'warn', 'error'].includes(message.level) ? message.level : 'info';
        if (typeof message.event === 'number') logger.log(level, message.event, text, fields);
        else logger[level](text, fields);
        break;
      }
    }
  }

  /**
   * Whether one more log line of the plugin goes to the event log: at most LOG_LINES per
   * LOG_WINDOW_MS (a plugin that floods would fill the journal); past that, one PluginLogDropped.
   */
  #logAllowed(): boolean {
    const now = Date.now();
    if (now - this.#logWindow >= LOG_WINDOW_MS) {
      this.#logWindow = now;
      this.#logLines = 0;
    }
    if (++this.#logLines <= LOG_LINES) return true;
    if (this.#logLines === LOG_LINES + 1) {
      this.#options.logger.log(
        'warn',
        EventId.PluginLogDropped,
        `plugin '${this.#options.params.id}' wrote more than ${LOG_LINES} log lines in ${LOG_WINDOW_MS / 1000} s: the rest of them are dropped`,
      );
    }
    return false;
  }

  #ended(reason: string, message: string): void {
    this.#stopPinging();
    const plugin = this.#options.params.id;
    this.#peer.close(new CredroamError('E_PLUGIN_CRASHED', message, { plugin }));
    if (!this.#ending) this.#lose(reason);
  }

  #sendPing(): void {
    if (this.#pingDeadline !== undefined || this.#lost) return;
    try {
      this.#channel.send({ t: 'ping', id: 0 });
    } catch {
      return;
    }
    this.#pingDeadline = setTimeout(() => {
      this.#lose(`its process stopped answering (no answer within ${this.#options.pingTimeoutMs} ms)`);
      this.#child.kill('SIGKILL');
    }, this.#options.pingTimeoutMs);
    this.#pingDeadline.unref();
  }

  #stopPinging(): void {
    clearInterval(this.#ping);
    clearTimeout(this.#pingDeadline);
    this.#pingDeadline = undefined;
  }

  #lose(reason: string): void {
    if (this.#lost || this.#ending) return;
    this.#lost = true;
    this.#options.onLost(reason);
  }
}
