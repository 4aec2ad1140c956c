import { type ErrorCode, isErrorCode } from './error-codes.js';

/**
 * The ids an error names, under these keys where they apply (others may follow): readers (the CLI's
 * `--json` output, logs) find them by name. Never a secret.
 */
export interface ErrorDetails {
  /** A plugin id. */
  readonly plugin?: string;
  /** A contribution id (`folder`, `ldap`, `store-watcher`). */
  readonly contribution?: string;
  /** The user being roamed. */
  readonly user?: string;
  /** A token's kind and id. */
  readonly kind?: string;
  readonly id?: string;
  /** A master key id. */
  readonly keyId?: string;
  /** A credential's certificate thumbprint (SHA-256, hex). */
  readonly sha256?: string;
  /** A file, or a folder or file of a store. */
  readonly file?: string;
  readonly path?: string;
  /** A directory server, an entry, an attribute. */
  readonly url?: string;
  readonly dn?: string;
  readonly attribute?: string;
  readonly [key: string]: unknown;
}

/**
 * The one error type credroam code throws across a boundary: a stable machine-readable `code` from
 * the closed set in `ERROR_CODES` (error-codes.ts, documented in docs/admin/errors.md), a message for
 * people, and in `details` the ids involved (plugin, token, attribute, file). Messages never contain
 * secrets.
 *
 * A code outside the set (plain JavaScript, or a plugin built against an older API) becomes
 * `E_PLUGIN`, with the code it gave in `details.pluginCode`: every code a reader meets is documented.
 */
export class CredroamError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<ErrorDetails>;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CredroamError';
    const known = isErrorCode(code);
    this.code = known ? code : 'E_PLUGIN';
    this.details = known ? details : { ...details, pluginCode: String(code) };
  }
}

/**
 * A compare-and-swap write lost a race: a value it meant to remove was gone, or one it meant to
 * add was already there. Re-read and merge.
 */
export class ConflictError extends CredroamError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('E_CONFLICT', message, details);
    this.name = 'ConflictError';
  }
}

/** A token failed authentication: it was altered, forged, or sealed for another user. */
export class AuthenticationError extends CredroamError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('E_AUTH', message, details);
    this.name = 'AuthenticationError';
  }
}

/**
 * A third-party plugin's error in its own terms: code `E_PLUGIN`, the plugin's id in
 * `details.plugin` and the plugin's own code in `details.pluginCode` (documented by the plugin).
 * A plugin throws a credroam code instead where one fits (`E_UNREACHABLE` from a directory store,
 * `E_CONFIG` for bad settings, `ConflictError`).
 */
export class PluginError extends CredroamError {
  constructor(
    plugin: string,
    pluginCode: string,
    message: string,
    details: ErrorDetails = {},
    options?: ErrorOptions,
  ) {
    super('E_PLUGIN', message, { ...details, plugin, pluginCode }, options);
    this.name = 'PluginError';
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
