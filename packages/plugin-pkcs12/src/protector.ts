import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AuthenticationError, type TokenKind, type TokenProtector } from '@credroam/core/api';
import type { Keyring } from './keyring/keyring.js';

const KEY_ID_BYTES = 8;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Seals every token with AES-256-GCM under a key derived from the user's master key (one key per
 * token kind). The sealed form is `master key id (8) | nonce (12) | ciphertext | tag (16)`, so a
 * token sealed under an older master key still opens after a rotation. The associated data (user,
 * id, kind, flags, times) comes from the engine.
 */
export class MasterKeyProtector implements TokenProtector {
  constructor(private readonly keyring: Keyring) {}

  get unlocked(): boolean {
    return this.keyring.unlocked;
  }

  unlock({
    password,
  }: {
    readonly password: string;
  }): Promise<{ readonly created: boolean; readonly offline: boolean }> {
    return this.keyring.unlock(password);
  }

  async changePassword({
    oldPassword,
    newPassword,
  }: {
    readonly oldPassword?: string;
    readonly newPassword: string;
  }): Promise<void> {
    if (oldPassword === undefined) await this.keyring.rewrap(newPassword);
    else await this.keyring.changePassword(oldPassword, newPassword);
  }

  async recover({
    escrowPrivateKeyPem,
    newPassword,
  }: {
    readonly escrowPrivateKeyPem: string;
    readonly newPassword: string;
  }): Promise<void> {
    await this.keyring.recover(escrowPrivateKeyPem, newPassword);
  }

  lock(): void {
    this.keyring.lock();
  }

  async seal(input: { kind: TokenKind; payload: Uint8Array; aad: Uint8Array }): Promise<Uint8Array> {
    const { keyId } = this.keyring.primary();
    const key = this.keyring.tokenKey(keyId, input.kind)!;
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    cipher.setAAD(input.aad);
    const body = Buffer.concat([cipher.update(input.payload), cipher.final()]);
    key.fill(0);
    return new Uint8Array(Buffer.concat([Buffer.from(keyId, 'hex'), nonce, body, cipher.getAuthTag()]));
  }

  async open(input: { kind: TokenKind; sealed: Uint8Array; aad: Uint8Array }): Promise<Uint8Array> {
    const s = Buffer.from(input.sealed);
    if (s.length < KEY_ID_BYTES + NONCE_BYTES + TAG_BYTES)
      throw new AuthenticationError('sealed payload too short');
    const keyId = s.subarray(0, KEY_ID_BYTES).toString('hex');
    const key = this.keyring.tokenKey(keyId, input.kind);
    if (!key)
      throw new AuthenticationError(
        `sealed under master key ${keyId}, which this user's keys do not include`,
      );
    try {
      const decipher = createDecipheriv(
        'aes-256-gcm',
        key,
        s.subarray(KEY_ID_BYTES, KEY_ID_BYTES + NONCE_BYTES),
      );
      decipher.setAAD(input.aad);
      decipher.setAuthTag(s.subarray(s.length - TAG_BYTES));
      return new Uint8Array(
        Buffer.concat([
          decipher.update(s.subarray(KEY_ID_BYTES + NONCE_BYTES, s.length - TAG_BYTES)),
          decipher.final(),
        ]),
      );
    } catch {
      throw new AuthenticationError('the token failed authentication');
    } finally {
      key.fill(0);
    }
  }
}
