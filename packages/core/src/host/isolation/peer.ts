import { isErrorCode } from '../../api/error-codes.js';
import { AuthenticationError, ConflictError, CredroamError, errorMessage } from '../../api/errors.js';
import {
  type CallMessage,
  isRemote,
  type ReleaseMessage,
  type Remote,
  type ResultMessage,
  type WireError,
} from './protocol.js';

/** Nesting deeper than this does not cross (a value that deep is not one the API hands over). */
const MAX_DEPTH = 32;

type Outgoing = CallMessage | ResultMessage | ReleaseMessage;

/**
 * One side of the channel between the host and an isolated plugin: requests with ids and their
 * results, and the remotes (functions, objects with methods) each side holds for the other. Both
 * the host and the plugin's process use it; neither trusts what the other sends beyond its shape.
 */
export class Peer {
  readonly #send: (message: unknown) => void;
  readonly #plugin: string;
  #nextId = 1;
  #nextHandle = 1;
  readonly #pending = new Map<number, { resolve(value: unknown): void; reject(error: unknown): void }>();
  readonly #held = new Map<number, unknown>();
  #closed: Error | undefined;

  /** `plugin` names the plugin in the errors that cross (details.plugin). */
  constructor(send: (message: unknown) => void, plugin: string) {
    this.#send = send;
    this.#plugin = plugin;
  }

  /** Sends `message` with a fresh id and resolves with the result's value (or rejects with its error). */
  request(message: { readonly t: string; readonly [k: string]: unknown }): Promise<unknown> {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      try {
        this.#send({ ...message, id });
      } catch (error) {
        this.#pending.delete(id);
        reject(error);
      }
    });
  }

  /** Settles the request a result answers; unknown ids are ignored. */
  settle(message: ResultMessage): void {
    const pending = this.#pending.get(message.id);
    if (!pending) return;
    this.#pending.delete(message.id);
    if (message.ok) pending.resolve(this.decode(message.value));
    else pending.reject(fromWireError(message.error, this.#plugin));
  }

  /** Runs a call the other side made on one of our remotes, and answers it. */
  async answer(message: CallMessage): Promise<void> {
    const run = async (): Promise<unknown> => {
      const target = this.#held.get(message.handle);
      const args = (Array.isArray(message.args) ? message.args : []).map((a) => this.decode(a));
      if (message.method === undefined) {
        if (typeof target !== 'function') throw new CredroamError('E_PLUGIN', 'no such function');
        return await target(...args);
      }
      const method =
        typeof target === 'object' && target !== null && methodNames(target).includes(message.method)
          ? (target as Record<string, (...a: unknown[]) => unknown>)[message.method]
          : undefined;
      if (typeof method !== 'function')
        throw new CredroamError('E_PLUGIN', `no such method: ${String(message.method)}`);
      return await method.apply(target, args);
    };
    let reply: ResultMessage;
    try {
      reply = { t: 'result', id: message.id, ok: true, value: this.encode(await run()) };
    } catch (error) {
      reply = { t: 'result', id: message.id, ok: false, error: toWireError(error) };
    }
    this.#post(reply);
  }

  /** The other side no longer holds a remote of ours. */
  release(message: ReleaseMessage): void {
    this.#held.delete(message.handle);
  }

  /** A value as it crosses: functions and objects with methods become remotes held here. */
  encode(value: unknown, depth = 0): unknown {
    if (depth > MAX_DEPTH)
      throw new CredroamError('E_PLUGIN', 'a value nested too deeply to cross to or from a plugin');
    if (typeof value === 'function') return this.#hold(value, undefined);
    if (typeof value !== 'object' || value === null) return value;
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date) return value;
    if (Array.isArray(value)) return value.map((v) => this.encode(v, depth + 1));
    const methods = methodNames(value);
    const data: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      if (typeof v !== 'function') data[k] = this.encode(v, depth + 1);
    return methods.length > 0 ? this.#hold(value, methods, data) : data;
  }

  /** A value as it arrived: remotes become functions and objects that call the other side. */
  decode(value: unknown, depth = 0): unknown {
    if (depth > MAX_DEPTH || typeof value !== 'object' || value === null) return value;
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date) return value;
    if (Array.isArray(value)) return value.map((v) => this.decode(v, depth + 1));
    if (isRemote(value)) return this.#proxy(value, depth);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (k !== '__proto__') out[k] = this.decode(v, depth + 1);
    return out;
  }

  /** The channel is gone: every request waiting fails with `error`, and new ones at once. */
  close(error: Error): void {
    this.#closed ??= error;
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
    this.#held.clear();
  }

  #hold(value: unknown, methods: readonly string[] | undefined, data?: Record<string, unknown>): Remote {
    const handle = this.#nextHandle++;
    this.#held.set(handle, value);
    return methods === undefined ? { $remote: handle } : { $remote: handle, methods, data: data ?? {} };
  }

  #proxy(remote: Remote, depth: number): unknown {
    const call =
      (method: string | undefined) =>
      (...args: unknown[]) => {
        const sent = this.request({
          t: 'call',
          handle: remote.$remote,
          ...(method !== undefined ? { method } : {}),
          args: args.map((a) => this.encode(a)),
        });
        // A caller that does not wait (a trigger's `fire`) must not leave a rejection unhandled.
        sent.catch(() => undefined);
        return sent;
      };
    if (!Array.isArray(remote.methods)) return call(undefined);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(remote.data ?? {}))
      if (k !== '__proto__') out[k] = this.decode(v, depth + 1);
    // Never a thenable: awaiting a proxy must not hand the other side the await's callbacks.
    for (const m of remote.methods)
      if (typeof m === 'string' && m !== '__proto__' && m !== 'then') out[m] = call(m);
    return out;
  }

  #post(message: Outgoing): void {
    if (this.#closed) return;
    try {
      this.#send(message);
    } catch {
      // The channel closed under us: the close handler fails what waits.
    }
  }
}

/** The callable members of an object: its own and those of its prototypes (below Object.prototype). */
function methodNames(value: object): string[] {
  const names = new Set<string>();
  for (let o: object | null = value; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const k of Object.getOwnPropertyNames(o)) {
      if (k === 'constructor') continue;
      const d = Object.getOwnPropertyDescriptor(o, k);
      if (d && typeof d.value === 'function') names.add(k);
    }
  }
  return [...names];
}

/** Only plain values of an error's details cross: no objects that might carry more than ids. */
function plainDetails(details: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (typeof details !== 'object' || details === null) return out;
  for (const [k, v] of Object.entries(details)) {
    const plain = (x: unknown) => x === null || ['string', 'number', 'boolean'].includes(typeof x);
    if (plain(v) || (Array.isArray(v) && v.length <= 100 && v.every(plain))) out[k] = v;
  }
  return out;
}

/** An error as it crosses: its code if it is one of the registry's, else `E_PLUGIN`; never its stack. */
export function toWireError(error: unknown): WireError {
  const e = error as { code?: unknown; details?: unknown };
  const details = plainDetails(e?.details);
  if (typeof e?.code === 'string' && isErrorCode(e.code)) {
    return { code: e.code, message: errorMessage(error), details };
  }
  const pluginCode = typeof e?.code === 'string' ? { pluginCode: e.code } : {};
  return { code: 'E_PLUGIN', message: errorMessage(error), details: { ...details, ...pluginCode } };
}

/** The error a wire error stands for, with `details.plugin` naming the plugin it came through. */
export function fromWireError(wire: WireError, plugin: string): CredroamError {
  const code = typeof wire?.code === 'string' && isErrorCode(wire.code) ? wire.code : 'E_PLUGIN';
  const message = typeof wire?.message === 'string' ? wire.message : 'an error without a message';
  const details = { ...plainDetails(wire?.details), plugin };
  if (code === 'E_CONFLICT') return new ConflictError(message, details);
  if (code === 'E_AUTH') return new AuthenticationError(message, details);
  return new CredroamError(code, message, details);
}
