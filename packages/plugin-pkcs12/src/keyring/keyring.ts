import { createPrivateKey, hkdfSync, randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import {
  ConflictError,
  CredroamError,
  type DirectoryStore,
  type Logger,
  type TokenKind,
} from '@credroam/core/api';
import { readCache, writeCache } from './cache.js';
import {
  DEFAULT_KDF,
  decodeWrapped,
  encodeWrapped,
  escrowKeyId,
  type KdfParams,
  newKeyId,
  unwrapWithEscrow,
  unwrapWithPassword,
  type WrappedKey,
  wrapForEscrow,
  wrapWithPassword,
} from './master-key.js';

/** What the site policy says about protecting master keys. */
export interface ProtectionPolicy {
  readonly kdf?: KdfParams;
  /** PEM of the site's escrow (recovery) RSA public key; every master key is also wrapped to it. */
  readonly escrowPublicKeyPem?: string;
}

export interface KeyringOptions {
  readonly user: string;
  readonly directory: DirectoryStore;
  /** A local copy of the wrapped keys (they are wrapped: safe at rest) for logging on offline. */
  readonly cacheFile: string;
  readonly policy?: ProtectionPolicy;
  readonly logger?: Logger;
  readonly now?: () => number;
}

interface MasterKey {
  readonly keyId: string;
  readonly created: number;
  readonly key: Buffer;
}

const CAS_ATTEMPTS = 5;

/**
 * The user's master keys: 256-bit random keys that exist outside memory only wrapped — by a key
 * derived from the roaming password, and to the site's escrow key when the policy names one.
 * Token keys and the at-rest key are derived from them (HKDF-SHA256); several may exist (two
 * endpoints' first logons at once, or a rotation) and all stay usable to read old tokens.
 */
export class Keyring {
  readonly #keys = new Map<string, MasterKey>();
  readonly #o: KeyringOptions;

  constructor(options: KeyringOptions) {
    this.#o = options;
  }

  get unlocked(): boolean {
    return this.#keys.size > 0;
  }

  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  /**
   * Opens the master keys with the roaming password. First use (no key in the directory) creates
   * one. Offline, the local copy of the wrapped keys is used. A password that opens nothing is a
   * clear error that says how to proceed, and changes nothing.
   */
  async unlock(password: string): Promise<{ readonly created: boolean; readonly offline: boolean }> {
    const { values, stamp, offline } = await this.#read();
    const wrapped = values.map(decodeWrapped).filter((w): w is WrappedKey => w !== undefined);
    const passwordWrapped = wrapped.filter((w) => w.wrap === 'password');
    if (passwordWrapped.length === 0) {
      if (wrapped.length > 0) {
        throw new CredroamError(
          'E_NO_PASSWORD_KEY',
          'your keys are in the directory only wrapped for escrow: ask an administrator to run `credroam recover` for you',
        );
      }
      if (offline) {
        throw new CredroamError(
          'E_OFFLINE',
          'the directory is unreachable and this endpoint has never logged on: try again online',
        );
      }
      await this.#create(password, stamp);
      return { created: true, offline };
    }
    const opened = await this.#open(passwordWrapped, password);
    if (opened.length === 0) await this.#explainWrongPassword(password);
    for (const k of opened) this.#keys.set(k.keyId, k);
    if (!offline) {
      await writeCache(this.#o.cacheFile, values);
      await this.#ensureEscrow(wrapped, stamp, values);
    }
    return { created: false, offline };
  }

  /** Re-wraps every master key the old password opens under the new one (`credroam passwd`). */
  async changePassword(oldPassword: string, newPassword: string): Promise<{ readonly rewrapped: number }> {
    return this.#replaceWrapped('changing the password', async (values) => {
      const remove: Uint8Array[] = [];
      const add: Uint8Array[] = [];
      for (const v of values) {
        const w = decodeWrapped(v);
        if (w?.wrap !== 'password') continue;
        const key = await unwrapWithPassword(w, this.#o.user, oldPassword);
        if (!key) continue;
        remove.push(v);
        add.push(encodeWrapped(await this.#wrap(key, w.keyId, w.created, newPassword)));
        this.#keys.set(w.keyId, { keyId: w.keyId, created: w.created, key });
      }
      if (remove.length === 0) await this.#explainWrongPassword(oldPassword);
      return { remove, add, result: { rewrapped: add.length } };
    });
  }

  /**
   * Re-wraps the master keys this keyring holds (unlocked at logon) for a new password, without
   * the old one: what a routine password change through PAM's `password` stack needs.
   */
  async rewrap(newPassword: string): Promise<{ readonly rewrapped: number }> {
    if (!this.unlocked)
      throw new CredroamError('E_LOCKED', 'the keys are locked: log on first, or give the old password');
    return this.#replaceWrapped('changing the password', async (values) => {
      const remove = values.filter((v) => {
        const w = decodeWrapped(v);
        return w?.wrap === 'password' && this.#keys.has(w.keyId);
      });
      const add: Uint8Array[] = [];
      for (const k of this.#keys.values())
        add.push(encodeWrapped(await this.#wrap(k.key, k.keyId, k.created, newPassword)));
      return { remove, add, result: { rewrapped: add.length } };
    });
  }

  /**
   * Recovery after a password reset: opens the escrow-wrapped master keys with the escrow private
   * key and wraps them for the new password, replacing the password-wrapped keys nobody can open.
   */
  async recover(escrowPrivateKeyPem: string, newPassword: string): Promise<{ readonly recovered: number }> {
    let privateKey: ReturnType<typeof createPrivateKey>;
    try {
      privateKey = createPrivateKey(escrowPrivateKeyPem);
    } catch (error) {
      throw new CredroamError(
        'E_ESCROW_KEY',
        `the escrow private key cannot be read: ${(error as Error).message}`,
      );
    }
    return this.#replaceWrapped('recovery', async (values) => {
      const recovered = new Map<string, MasterKey>();
      for (const v of values) {
        const w = decodeWrapped(v);
        if (w?.wrap !== 'escrow') continue;
        const key = unwrapWithEscrow(w, this.#o.user, privateKey);
        if (key) recovered.set(w.keyId, { keyId: w.keyId, created: w.created, key });
      }
      if (recovered.size === 0) {
        throw new CredroamError(
          'E_ESCROW_KEY',
          `no master key of '${this.#o.user}' is wrapped to this escrow key (the policy may have had none when the keys were made)`,
        );
      }
      const remove = values.filter((v) => {
        const w = decodeWrapped(v);
        return w?.wrap === 'password' && recovered.has(w.keyId);
      });
      const add: Uint8Array[] = [];
      for (const k of recovered.values())
        add.push(encodeWrapped(await this.#wrap(k.key, k.keyId, k.created, newPassword)));
      for (const k of recovered.values()) this.#keys.set(k.keyId, k);
      return { remove, add, result: { recovered: recovered.size } };
    });
  }

  /**
   * Reads the wrapped keys, lets `change` decide which to remove and add, and writes that with
   * compare-and-swap (reading and deciding again when another endpoint wrote first); then updates
   * this endpoint's copy. Needs the directory.
   */
  async #replaceWrapped<T>(
    what: string,
    change: (
      values: readonly Uint8Array[],
    ) => Promise<{ remove: Uint8Array[]; add: Uint8Array[]; result: T }>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const { values, stamp, offline } = await this.#read();
      if (offline) throw new CredroamError('E_OFFLINE', `${what} needs the directory, which is unreachable`);
      const { remove, add, result } = await change(values);
      try {
        await this.#write(stamp, remove, add);
        await writeCache(this.#o.cacheFile, [...values.filter((v) => !remove.includes(v)), ...add]);
        return result;
      } catch (error) {
        if (!(error instanceof ConflictError) || attempt >= CAS_ATTEMPTS) throw error;
      }
    }
  }

  /** The key that seals new tokens: the newest master key. */
  primary(): { readonly keyId: string; readonly key: Buffer } {
    let best: MasterKey | undefined;
    for (const k of this.#keys.values()) {
      if (!best || k.created > best.created || (k.created === best.created && k.keyId > best.keyId)) best = k;
    }
    if (!best)
      throw new CredroamError('E_LOCKED', 'the credroam keys are locked: log on with the roaming password');
    return best;
  }

  /** The AEAD key for tokens of `kind` under master key `keyId`; undefined when not held. */
  tokenKey(keyId: string, kind: TokenKind): Buffer | undefined {
    const mk = this.#keys.get(keyId);
    return mk ? derive(mk.key, `credroam/token/v1/${kind}`) : undefined;
  }

  /** The key that protects private keys at rest: from the oldest master key, so it is stable. */
  atRestKey(): { readonly keyId: string; readonly key: Buffer } {
    const [oldest] = this.atRestKeys();
    if (!oldest)
      throw new CredroamError('E_LOCKED', 'the credroam keys are locked: log on with the roaming password');
    return oldest;
  }

  /** Every at-rest key this keyring can derive, oldest master key first (files written before a merge of keys). */
  atRestKeys(): Array<{ readonly keyId: string; readonly key: Buffer }> {
    return [...this.#keys.values()]
      .sort((a, b) => a.created - b.created || (a.keyId < b.keyId ? -1 : 1))
      .map((k) => ({ keyId: k.keyId, key: derive(k.key, 'credroam/at-rest/v1') }));
  }

  /** Forgets the keys (zeroed). */
  lock(): void {
    for (const k of this.#keys.values()) k.key.fill(0);
    this.#keys.clear();
  }

  async #create(password: string, stamp: readonly Uint8Array[]): Promise<void> {
    const key = randomBytes(32);
    const keyId = newKeyId();
    const created = (this.#o.now ?? Date.now)();
    const add = [encodeWrapped(await this.#wrap(key, keyId, created, password))];
    const escrow = this.#o.policy?.escrowPublicKeyPem;
    if (escrow)
      add.push(
        encodeWrapped(wrapForEscrow(key, { user: this.#o.user, keyId, created, escrowPublicKeyPem: escrow })),
      );
    await this.#write(stamp, [], add);
    this.#keys.set(keyId, { keyId, created, key });
    await writeCache(this.#o.cacheFile, add);
    this.#o.logger?.info('created a master key for this user', { keyId });
  }

  /** When the policy names an escrow key, every master key this endpoint holds gets wrapped to it. */
  async #ensureEscrow(
    wrapped: readonly WrappedKey[],
    stamp: readonly Uint8Array[],
    values: readonly Uint8Array[],
  ) {
    const pem = this.#o.policy?.escrowPublicKeyPem;
    if (!pem) return;
    const { createPublicKey } = await import('node:crypto');
    const escrowId = escrowKeyId(createPublicKey(pem));
    const add: Uint8Array[] = [];
    for (const k of this.#keys.values()) {
      if (wrapped.some((w) => w.wrap === 'escrow' && w.keyId === k.keyId && w.escrowKey === escrowId))
        continue;
      add.push(
        encodeWrapped(
          wrapForEscrow(k.key, {
            user: this.#o.user,
            keyId: k.keyId,
            created: k.created,
            escrowPublicKeyPem: pem,
          }),
        ),
      );
    }
    if (add.length === 0) return;
    try {
      await this.#write(stamp, [], add);
      await writeCache(this.#o.cacheFile, [...values, ...add]);
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error; // another endpoint moved first; next logon again
    }
  }

  async #wrap(key: Buffer, keyId: string, created: number, password: string): Promise<WrappedKey> {
    return wrapWithPassword(key, {
      user: this.#o.user,
      keyId,
      created,
      password,
      kdf: this.#o.policy?.kdf ?? DEFAULT_KDF,
    });
  }

  /**
   * Tries the password on each wrapped key. One whose KDF parameters are beyond the bounds (a
   * hostile or broken value) is skipped, not derived: it cannot block the others. When nothing
   * opens and such values were skipped, that is the error.
   */
  async #open(candidates: readonly WrappedKey[], password: string): Promise<MasterKey[]> {
    const out: MasterKey[] = [];
    let refused: CredroamError | undefined;
    for (const w of candidates) {
      try {
        const key = await unwrapWithPassword(w, this.#o.user, password);
        if (key) out.push({ keyId: w.keyId, created: w.created, key });
      } catch (error) {
        if (!(error instanceof CredroamError) || error.code !== 'E_KDF_BOUNDS') throw error;
        refused = error;
        this.#o.logger?.warn(`skipped wrapped master key ${w.keyId}: ${error.message}`, { keyId: w.keyId });
      }
    }
    if (out.length === 0 && refused) throw refused;
    return out;
  }

  async #explainWrongPassword(password: string): Promise<never> {
    const cached = (await readCache(this.#o.cacheFile))
      .map(decodeWrapped)
      .filter((w) => w?.wrap === 'password');
    if ((await this.#open(cached as WrappedKey[], password)).length > 0) {
      throw new CredroamError(
        'E_PASSWORD_CHANGED',
        'this is your previous roaming password: it was changed on another endpoint. Log on with the new password.',
      );
    }
    throw new CredroamError(
      'E_WRONG_PASSWORD',
      'the password does not open your credroam keys; nothing was changed. If your password was changed outside credroam ' +
        '(by an administrator or the directory’s own password tools), run `credroam passwd` once with the old password, ' +
        'or ask an administrator to recover your keys with `credroam recover`.',
    );
  }

  async #read(): Promise<{ values: readonly Uint8Array[]; stamp: readonly Uint8Array[]; offline: boolean }> {
    try {
      const { keys, stamp } = await this.#o.directory.readKeys();
      return { values: keys, stamp, offline: false };
    } catch (error) {
      if (error instanceof CredroamError && error.code !== 'E_UNREACHABLE') throw error;
      const cached = await readCache(this.#o.cacheFile);
      if (cached.length === 0) throw error;
      this.#o.logger?.warn('the directory is unreachable: using this endpoint’s copy of the wrapped keys');
      return { values: cached, stamp: [], offline: true };
    }
  }

  async #write(stamp: readonly Uint8Array[], remove: Uint8Array[], add: Uint8Array[]): Promise<void> {
    await mkdir(path.dirname(this.#o.cacheFile), { recursive: true, mode: 0o700 });
    await this.#o.directory.write({
      keys: { remove, add },
      stamp: { remove: stamp, add: [randomBytes(16)] },
    });
  }
}

function derive(key: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), info, 32));
}
