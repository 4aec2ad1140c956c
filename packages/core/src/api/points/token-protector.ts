import type { TokenKind } from '../token-kind.js';
import { extensionPointToken } from './extension-point.js';

/**
 * Seals and opens token payloads for the directory. `aad` binds the user, id, kind, flags and time:
 * a value moved to another user, re-labelled or re-dated fails to open. Private keys must come out
 * encrypted; certificates at least authenticated.
 */
export interface TokenProtector {
  seal(input: {
    readonly kind: TokenKind;
    readonly payload: Uint8Array;
    readonly aad: Uint8Array;
  }): Promise<Uint8Array>;
  /** Throws `AuthenticationError` for anything it did not seal with a key of this user. */
  open(input: {
    readonly kind: TokenKind;
    readonly sealed: Uint8Array;
    readonly aad: Uint8Array;
  }): Promise<Uint8Array>;
  /**
   * Logon: opens the user's keys with the roaming password; on first use, creates them. A wrong
   * password is an error that changes nothing. Protectors without passwords leave it out.
   */
  unlock?(input: {
    readonly password: string;
  }): Promise<{ readonly created: boolean; readonly offline: boolean }>;
  /**
   * Re-wraps the user's keys for a new password (`credroam passwd`). Without the old password the
   * keys must be unlocked already (a running agent's: a password change through PAM).
   */
  changePassword?(input: { readonly oldPassword?: string; readonly newPassword: string }): Promise<void>;
  /** Whether the keys are open (after `unlock`). */
  readonly unlocked?: boolean;
  /** After a password reset: opens the keys with the site's escrow private key, wraps them for a new password. */
  recover?(input: { readonly escrowPrivateKeyPem: string; readonly newPassword: string }): Promise<void>;
  /** Forgets unlocked keys. */
  lock?(): void;
}

export const TokenProtector = extensionPointToken<TokenProtector>('TokenProtector');
