/**
 * The one error type credroam code throws across a boundary: a stable machine-readable `code`
 * (documented, never reused), a message for people, and the ids involved (plugin, token, attribute).
 * Messages never contain secrets.
 */
export class CredroamError extends Error {
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CredroamError';
    this.code = code;
    this.details = details;
  }
}

/**
 * A compare-and-swap write lost a race: a value it meant to remove was gone, or one it meant to
 * add was already there. Re-read and merge.
 */
export class ConflictError extends CredroamError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('E_CONFLICT', message, details);
    this.name = 'ConflictError';
  }
}

/** A token failed authentication: it was altered, forged, or sealed for another user. */
export class AuthenticationError extends CredroamError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('E_AUTH', message, details);
    this.name = 'AuthenticationError';
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
