/**
 * The entry module of an isolated plugin's process (started by `PluginProcess`, never by hand): it
 * imports the plugin's entry module, runs its `activate` with a context whose logger, contributions
 * and services go through the IPC channel, and answers the host's calls (protocol.ts).
 *
 * It exits when the channel closes (the host exited or was killed): a plugin never outlives its host.
 */
import net from 'node:net';
import { pathToFileURL } from 'node:url';
import type { ContributionFactory } from '../../api/contribution.js';
import { DisposableStore } from '../../api/disposable.js';
import { CredroamError } from '../../api/errors.js';
import type { Logger, LogLevel } from '../../api/events.js';
import type { PluginContext, PluginModule, PluginServices } from '../../api/plugin.js';
import { CHANNEL_FD, Channel } from './channel.js';
import { Peer, toWireError } from './peer.js';
import type { ActivateParams, HostMessage, WireRequest } from './protocol.js';

if (process.env.CREDROAM_PLUGIN_CHANNEL !== String(CHANNEL_FD)) {
  process.stderr.write('credroam: the plugin runner is started by the plugin host only\n');
  process.exit(2);
}
// The host's end closed (it exited or was killed), or it sent what is no message: this ends too.
const channel = new Channel(new net.Socket({ fd: CHANNEL_FD, readable: true, writable: true }), {
  message: (raw) => receive(raw),
  bad: () => process.exit(1),
  closed: () => process.exit(0),
});
const send = (message: unknown) => channel.send(message);

let peer = new Peer(send, 'plugin');
let plugin: PluginModule | undefined;
let subscriptions: DisposableStore | undefined;
const factories = new Map<string, ContributionFactory<unknown>>();

function receive(raw: unknown): void {
  const message = raw as HostMessage;
  switch (message?.t) {
    case 'activate':
      reply(message.id, () => activate(message.params));
      break;
    case 'deactivate':
      reply(message.id, deactivate);
      break;
    case 'create':
      reply(message.id, () => create(message.point, message.contribution, message.request));
      break;
    case 'call':
      void peer.answer(message);
      break;
    case 'result':
      peer.settle(message);
      break;
    case 'release':
      peer.release(message);
      break;
    case 'ping':
      send({ t: 'pong', id: message.id });
      break;
  }
}

function reply(id: number, work: () => unknown): void {
  Promise.resolve()
    .then(work)
    .then(
      (value) => send({ t: 'result', id, ok: true, value: peer.encode(value) }),
      (error) => send({ t: 'result', id, ok: false, error: toWireError(error) }),
    )
    .catch(() => undefined);
}

async function activate(params: ActivateParams): Promise<{ contributions: string[] }> {
  peer = new Peer(send, params.id);
  const mod = (await import(pathToFileURL(params.mainFile).href)) as Partial<PluginModule>;
  if (typeof mod.activate !== 'function') throw new Error('the entry module exports no activate function');
  plugin = mod as PluginModule;
  subscriptions = new DisposableStore();
  const store = subscriptions;
  const context: PluginContext = {
    id: params.id,
    version: params.version,
    subscriptions: store,
    logger: logger(),
    configuration: Object.freeze(params.configuration),
    stateDir: params.stateDir,
    services: Object.freeze((peer.decode(params.services) ?? {}) as PluginServices),
    dependency: (pluginId: string) => {
      throw new CredroamError(
        'E_UNSUPPORTED',
        `plugin '${params.id}' runs out of process: the API of '${pluginId}' does not cross to it`,
        { plugin: params.id, dependency: pluginId },
      );
    },
    contribute: (point, id, factory) => {
      const name = pointName(point);
      const k = `${name}/${id}`;
      if (!params.declared.includes(k)) {
        throw new CredroamError(
          'E_UNDECLARED_CONTRIBUTION',
          `plugin '${params.id}' provides ${name} '${id}', which its manifest does not declare`,
          { plugin: params.id, contribution: id },
        );
      }
      factories.set(k, factory as ContributionFactory<unknown>);
      return store.add({ dispose: () => void factories.delete(k) });
    },
  };
  await plugin.activate(context);
  return { contributions: [...factories.keys()] };
}

async function deactivate(): Promise<void> {
  try {
    await plugin?.deactivate?.();
  } finally {
    await subscriptions?.dispose();
  }
}

async function create(point: string, contribution: string, wire: WireRequest): Promise<unknown> {
  const factory = factories.get(`${point}/${contribution}`);
  if (!factory) {
    throw new CredroamError('E_CONTRIBUTION_NOT_PROVIDED', `${point} '${contribution}' was not provided`, {
      contribution,
    });
  }
  const request = peer.decode(wire) as Parameters<ContributionFactory<unknown>>[0];
  return factory(request);
}

function logger(): Logger {
  const line = (
    level: LogLevel,
    event: number | undefined,
    message: string,
    fields?: Record<string, unknown>,
  ) => {
    try {
      send({
        t: 'log',
        level,
        ...(event !== undefined ? { event } : {}),
        message: String(message),
        ...(fields ? { fields: structuredClone(fields) } : {}),
      });
    } catch {
      send({ t: 'log', level, ...(event !== undefined ? { event } : {}), message: String(message) });
    }
  };
  return {
    log: (level, event, message, fields) => line(level, event, message, fields),
    debug: (message, fields) => line('debug', undefined, message, fields),
    info: (message, fields) => line('info', undefined, message, fields),
    warn: (message, fields) => line('warn', undefined, message, fields),
    error: (message, fields) => line('error', undefined, message, fields),
  };
}

/** `Symbol.for('credroam.Trigger')` → `Trigger`. */
function pointName(point: symbol): string {
  const k = Symbol.keyFor(point);
  if (typeof k !== 'string' || !k.startsWith('credroam.'))
    throw new TypeError(`not a credroam extension point: ${String(point)}`);
  return k.slice('credroam.'.length);
}
