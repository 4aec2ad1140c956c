/**
 * The messages between the plugin host and an isolated plugin's process (docs/plugins/isolation.md),
 * sent over a socket pair of their own (channel.ts: length-prefixed `v8.serialize` frames, bounded;
 * not Node's IPC channel, whose reader dies on a bad frame) as structured clones (byte arrays pass
 * as they are; functions and class instances do not).
 *
 * | direction      | message      | answered by             | what                                            |
 * |----------------|--------------|-------------------------|-------------------------------------------------|
 * | host → plugin  | `activate`   | `result` (contributions)| imports the entry module, runs `activate`        |
 * | host → plugin  | `deactivate` | `result`                | runs `deactivate`, disposes the subscriptions   |
 * | host → plugin  | `create`     | `result` (a remote)     | calls a contribution's factory                  |
 * | either way     | `call`       | `result`                | calls a method of a remote object or a function |
 * | either way     | `release`    | —                       | the other side no longer holds a remote         |
 * | host → plugin  | `ping`       | `pong`                  | the plugin's event loop still turns             |
 * | plugin → host  | `log`        | —                       | a line of the plugin's logger                   |
 *
 * A value that holds a function, or an object with methods (a contribution, the `Disposable` a
 * trigger's `start` returns, the `fire` callback it is given), crosses as a `Remote`: a handle the
 * other side calls through `call`. Everything else crosses as data. An error crosses as its
 * `CredroamError` code (one of `ERROR_CODES`; anything else is `E_PLUGIN`), message and plain
 * details: never its stack.
 */

import type { LogLevel } from '../../api/events.js';

/** A function or an object with methods, held by the side that sent it. */
export interface Remote {
  readonly $remote: number;
  /** For an object: its method names (calls go to `<handle>.<method>`); absent for a function. */
  readonly methods?: readonly string[];
  /** For an object: its data members, encoded. */
  readonly data?: Readonly<Record<string, unknown>>;
}

/** An error as it crosses: a registry code, a message, plain details. */
export interface WireError {
  readonly code: string;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
}

/** What the host tells the plugin's process about itself at `activate`. */
export interface ActivateParams {
  readonly id: string;
  readonly version: string;
  /** The entry module's absolute path. */
  readonly mainFile: string;
  readonly stateDir: string;
  readonly configuration: Readonly<Record<string, unknown>>;
  /** The permissions granted (docs/plugins/isolation.md). */
  readonly granted: readonly string[];
  /** The contributions its manifest declares, as `<point name>/<id>` (`Trigger/sessions`). */
  readonly declared: readonly string[];
  /** The host's services granted (`PluginServices`), their methods as remotes. */
  readonly services?: unknown;
}

/** The serialisable part of a contribution request (functions and stores cross as remotes). */
export interface WireRequest {
  readonly user: string;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly home: string;
  readonly policy: Readonly<Record<string, unknown>>;
  readonly directory?: Remote;
  readonly password?: Remote;
}

export type HostMessage =
  | { readonly t: 'activate'; readonly id: number; readonly params: ActivateParams }
  | { readonly t: 'deactivate'; readonly id: number }
  | {
      readonly t: 'create';
      readonly id: number;
      /** The extension point's name (`Trigger`). */
      readonly point: string;
      readonly contribution: string;
      readonly request: WireRequest;
    }
  | CallMessage
  | ResultMessage
  | ReleaseMessage
  | { readonly t: 'ping'; readonly id: number };

export type PluginMessage =
  | CallMessage
  | ResultMessage
  | ReleaseMessage
  | { readonly t: 'pong'; readonly id: number }
  | {
      readonly t: 'log';
      readonly level: LogLevel;
      /** An id the plugin gave (`logger.log`); absent for free text (`logger.info`). */
      readonly event?: number;
      readonly message: string;
      readonly fields?: Readonly<Record<string, unknown>>;
    };

/** Calls `method` of remote `handle` (or the remote function itself when `method` is absent). */
export interface CallMessage {
  readonly t: 'call';
  readonly id: number;
  readonly handle: number;
  readonly method?: string;
  readonly args: readonly unknown[];
}

export type ResultMessage =
  | { readonly t: 'result'; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly t: 'result'; readonly id: number; readonly ok: false; readonly error: WireError };

export interface ReleaseMessage {
  readonly t: 'release';
  readonly handle: number;
}

/** What `activate` answers: the contributions the plugin provided, as `<point name>/<id>`. */
export interface ActivateResult {
  readonly contributions: readonly string[];
}

export function isRemote(value: unknown): value is Remote {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { $remote?: unknown }).$remote === 'number'
  );
}
