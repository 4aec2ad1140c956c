import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import {
  AuthenticationError,
  type PluginContext,
  PluginError,
  type TokenKind,
  TokenProtector,
} from '@credroam/core/api';
import { readFileNoFollow } from '@credroam/core/kit';

const VERSION = 1;
const NONCE = 12;
const TAG = 16;

/**
 * AES-256-GCM under a 32-byte key the site distributes to its endpoints as a file (`keyFile`):
 * `version (1) | nonce (12) | ciphertext | tag (16)`. The associated data is the kind and the
 * engine's `aad` (user, id, kind, flags, time), so a value moved or re-labelled fails to open.
 * Anything that does not open is `AuthenticationError`, whatever went wrong.
 */
export class KeyFileProtector implements TokenProtector {
  constructor(private readonly key: Uint8Array) {
    if (key.length !== 32) throw new Error(`an AES-256 key is 32 bytes, not ${key.length}`);
  }

  async seal(input: { kind: TokenKind; payload: Uint8Array; aad: Uint8Array }): Promise<Uint8Array> {
    const nonce = randomBytes(NONCE);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(associated(input.kind, input.aad));
    const body = Buffer.concat([cipher.update(input.payload), cipher.final()]);
    return new Uint8Array(Buffer.concat([Buffer.of(VERSION), nonce, body, cipher.getAuthTag()]));
  }

  async open(input: { kind: TokenKind; sealed: Uint8Array; aad: Uint8Array }): Promise<Uint8Array> {
    const s = Buffer.from(input.sealed);
    if (s.length < 1 + NONCE + TAG || s[0] !== VERSION)
      throw new AuthenticationError('not a value this protector sealed');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, s.subarray(1, 1 + NONCE));
      decipher.setAAD(associated(input.kind, input.aad));
      decipher.setAuthTag(s.subarray(s.length - TAG));
      return new Uint8Array(
        Buffer.concat([decipher.update(s.subarray(1 + NONCE, s.length - TAG)), decipher.final()]),
      );
    } catch {
      throw new AuthenticationError('the value failed authentication');
    }
  }
}

const associated = (kind: TokenKind, aad: Uint8Array) => Buffer.concat([Buffer.from(`${kind}\0`), aad]);

export function activate(context: PluginContext): void {
  context.contribute(TokenProtector, '__CONTRIBUTION__', async ({ settings }) => {
    const keyFile = settings.keyFile as string;
    const key = await readFileNoFollow(keyFile, { maxBytes: 32 });
    if (!key)
      throw new PluginError(context.id, 'NO_KEY_FILE', `the key file ${keyFile} is not there`, {
        file: keyFile,
      });
    return new KeyFileProtector(key);
  });
}
