import { createHash, createPrivateKey, hkdfSync, randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import {
  ConflictError,
  CredroamError,
  type DirectoryStore,
  EventId,
  type Logger,
  type TokenKind,
} from '@credroam/core/api';
import { type LocalKeyCopy, readCache, sameCopy, writeCache } from './cache.js';
import {
  aboveCeiling,
  checkKdf,
  DEFAULT_KDF,
  DEFAULT_KDF_CEILING,
  decodeWrapped,
  encodeWrapped,
  escrowKeyId,
  type KdfCeiling,
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
  /** The most KDF work a wrapped key from the directory may ask for (default DEFAULT_KDF_CEILING). */
  readonly kdfCeiling?: KdfCeiling;
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

/** A master key opened at logon, with the wrapped value (this user's password) that opened it. */
interface OpenedKey extends MasterKey {
  readonly value: Uint8Array;
}

interface DirectoryKeys {
  readonly values: readonly Uint8Array[];
  readonly stamp: readonly Uint8Array[];
}

const CAS_ATTEMPTS = 5;
/** Directory values considered at one logon; the rest are skipped, each with an event. */
const MAX_WRAPPED_VALUES = 32;
/** Key derivations spent on directory values at one logon (beyond this endpoint's own copy). */
const MAX_DERIVATIONS_PER_UNLOCK = 4;

/**
 * The user's master keys: 256-bit random keys that exist outside memory only wrapped — by a key
 * derived from the roaming password, and to the site's escrow key when the policy names one.
 * Token keys and the at-rest key are derived from them (HKDF-SHA256); several may exist (two
 * endpoints' first logons at once, or a rotation) and all stay usable to read old tokens.
 */
export class Keyring {
  readonly #keys = new Map<string, MasterKey>();
  /**
   * Keys derived from the master keys (token keys, the at-rest key), by master key and label: an
   * HKDF per token opened costs a cold download of 4 000 tokens about 0.15 s. Zeroed and dropped
   * whenever the master keys held change, and at `lock`; callers get copies (they may zero them).
   */
  readonly #derived = new Map<string, Buffer>();
  readonly #o: KeyringOptions;
  /** Told at `lock` (a store then forgets the keys it opened). */
  readonly #onLock = new Set<() => void>();

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
   * Opens the master keys with the roaming password: this endpoint's own copy first, then only
   * the directory's values that could add a key it lacks (bounded in number and in KDF work; each
   * value skipped is an event). A key of this endpoint that the directory lost is put back (an
   * event says so); a directory that lost everything never leads to a new key over this one. First
   * use (nothing here, nothing usable there, online) creates one. A password that opens nothing is
   * a clear error that says how to proceed, and changes nothing.
   */
  async unlock(password: string): Promise<{ readonly created: boolean; readonly offline: boolean }> {
    const local = await readCache(this.#o.cacheFile);
    const opened = new Map<string, OpenedKey>();
    // 1. The endpoint's own copy (written only by this endpoint), opened while the directory is
    // read: the key derivation is most of a logon and needs nothing from the directory.
    const ownCopy = (async () => {
      for (const v of local.keys) {
        const w = decodeWrapped(v);
        if (w?.wrap !== 'password' || opened.has(w.keyId) || !this.#isMine(w)) continue;
        const key = await this.#tryOpen(w, password);
        if (key) opened.set(w.keyId, { keyId: w.keyId, created: w.created, key, value: v });
      }
    })();
    const [dir] = await Promise.all([this.#readDirectory(local), ownCopy]);
    const fromLocalCopy = opened.size;
    // 2. The directory's values that may hold a key this endpoint lacks (held keys and values
    // refused before are left out before the count is bounded: they cannot crowd out new ones).
    const refused = new Set(local.refused);
    const failed: string[] = [];
    let tried = 0;
    let usable = 0;
    const screened = dir
      ? this.#screen(dir.values, (w, value) => opened.has(w.keyId) || refused.has(sha256(value)))
      : [];
    for (const { value, w } of screened) {
      const hash = sha256(value);
      usable++;
      if (tried >= MAX_DERIVATIONS_PER_UNLOCK) {
        this.#skipped(w.keyId, `more than ${MAX_DERIVATIONS_PER_UNLOCK} wrapped keys to try at one logon`);
        continue;
      }
      tried++;
      const key = await this.#tryOpen(w, password);
      if (key) opened.set(w.keyId, { keyId: w.keyId, created: w.created, key, value });
      else failed.push(hash);
    }
    // The local copy did not open but the directory's did: the password was changed elsewhere, and
    // what was refused under the old one may open now.
    if (local.keys.length > 0 && fromLocalCopy === 0 && opened.size > 0) refused.clear();
    // Values that did not open with a password that opened a key are not tried at the next logon.
    if (opened.size > 0) for (const h of failed) refused.add(h);
    if (opened.size === 0) {
      // Keys already open in this process (an agent's) are never replaced by a new one, whatever
      // happened to the local copy and the directory: this password is simply not theirs.
      if (this.unlocked) await this.#wrongPassword();
      if (usable > tried) {
        throw new CredroamError(
          'E_NO_USABLE_KEY',
          `the directory holds more wrapped keys for you than one logon tries (${usable}; ${tried} tried, none opened with this password); ` +
            'each one skipped is logged. Log on at an endpoint that has logged on before, or ask an administrator to remove the values credroam did not write.',
          { user: this.#o.user, values: usable },
        );
      }
      if (local.keys.length > 0 || usable > 0) await this.#wrongPassword();
      if (!dir) {
        throw new CredroamError(
          'E_OFFLINE',
          'the directory is unreachable and this endpoint has never logged on: try again online',
          { user: this.#o.user },
        );
      }
      const all = dir.values.map(decodeWrapped);
      if (all.some((w) => w?.wrap === 'escrow' && this.#isMine(w)) && screened.length === 0) {
        throw new CredroamError(
          'E_NO_PASSWORD_KEY',
          'your keys are in the directory only wrapped for escrow: ask an administrator to run `credroam recover` for you',
          { user: this.#o.user },
        );
      }
      if (screened.length > 0 || dir.values.length > 0) {
        throw new CredroamError(
          'E_NO_USABLE_KEY',
          `the directory holds ${dir.values.length} wrapped-key value(s) for you and none of them can be used here (each skipped value is logged); ` +
            'no new key was made over them. Log on at an endpoint that has logged on before: it puts your key back. ' +
            'If this is a new account, an administrator can clear the attribute.',
          { user: this.#o.user, values: dir.values.length },
        );
      }
      await this.#create(password, dir.stamp);
      return { created: true, offline: false };
    }
    for (const k of opened.values()) this.#hold(k);
    // Keys of this endpoint's copy that this password does not open (wrapped for an earlier one:
    // the password was changed where the directory lacked them) are kept, never dropped: the files
    // and tokens sealed under them open again once `credroam passwd` re-wraps them with the old one.
    // They are not put back in the directory: a value for a password the user changed (perhaps
    // because it leaked) must not reach where that password would open it.
    const stranded = new Map<string, Uint8Array>();
    for (const v of local.keys) {
      const w = decodeWrapped(v);
      if (w?.wrap !== 'password' || !this.#isMine(w) || opened.has(w.keyId) || stranded.has(w.keyId))
        continue;
      stranded.set(w.keyId, v);
      this.#o.logger?.log(
        'warn',
        EventId.WrappedKeyDiffers,
        `this endpoint's copy of master key ${w.keyId} does not open with this password (it is wrapped for an earlier one, and the password was changed where the directory lacked it). It is kept: run \`credroam passwd\` once with the old password to re-wrap it.`,
        { keyId: w.keyId },
      );
    }
    if (dir) {
      const stamp = await this.#restoreMissing(dir, opened);
      await this.#ensureEscrow(dir.values, stamp);
    }
    const copy = {
      keys: [...[...opened.values()].map((k) => k.value), ...stranded.values()],
      refused: [...refused],
    };
    // A logon that opened the keys this endpoint had, and refused nothing new, writes nothing.
    if (!sameCopy(local, copy)) await writeCache(this.#o.cacheFile, copy);
    return { created: false, offline: dir === undefined };
  }

  /**
   * The directory lost (or a writer deleted or garbled) the wrapped copy of a key this endpoint
   * holds: put this endpoint's copy back, with compare-and-swap. A copy that is there but differs
   * (re-wrapped for another password on another endpoint, or altered) is reported, not replaced.
   */
  async #restoreMissing(
    dir: DirectoryKeys,
    opened: ReadonlyMap<string, OpenedKey>,
  ): Promise<readonly Uint8Array[]> {
    const present = new Map<string, Uint8Array[]>();
    for (const v of dir.values) {
      const w = decodeWrapped(v);
      if (w?.wrap === 'password' && this.#isMine(w))
        present.set(w.keyId, [...(present.get(w.keyId) ?? []), v]);
    }
    const add: Uint8Array[] = [];
    for (const k of opened.values()) {
      const there = present.get(k.keyId);
      if (!there) {
        add.push(k.value);
        continue;
      }
      if (!there.some((v) => Buffer.from(v).equals(Buffer.from(k.value)))) {
        this.#o.logger?.log(
          'warn',
          EventId.WrappedKeyDiffers,
          `the directory's copy of master key ${k.keyId} does not open with this password: it was re-wrapped for a new password on another endpoint (log on with the new one), or altered in the directory. This endpoint keeps its own copy.`,
          { keyId: k.keyId },
        );
      }
    }
    if (add.length === 0) return dir.stamp;
    try {
      const stamp = await this.#write(dir.stamp, [], add);
      for (const v of add) {
        const keyId = decodeWrapped(v)?.keyId;
        this.#o.logger?.log(
          'warn',
          EventId.MasterKeyRestored,
          `master key ${keyId} was missing from the directory: put this endpoint's copy back`,
          { keyId },
        );
      }
      return stamp;
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error; // another writer moved first: next logon again
      return dir.stamp;
    }
  }

  /**
   * The directory's password-wrapped values this endpoint may try, bounded before any work: at
   * most MAX_WRAPPED_VALUES, each for this user and within the hard KDF bounds and the policy's
   * ceiling. Each value left out is an event naming it.
   */
  #screen(
    values: readonly Uint8Array[],
    leaveOut: (w: WrappedKey, value: Uint8Array) => boolean = () => false,
  ): Array<{ value: Uint8Array; w: WrappedKey & { wrap: 'password' } }> {
    const out: Array<{ value: Uint8Array; w: WrappedKey & { wrap: 'password' } }> = [];
    const ceiling = this.#o.policy?.kdfCeiling ?? DEFAULT_KDF_CEILING;
    values.forEach((value, index) => {
      const w = decodeWrapped(value);
      if (!w) {
        this.#skipped(`#${index}`, 'not a credroam wrapped key (malformed, or over 4 KiB)');
        return;
      }
      if (w.wrap !== 'password') return; // escrow: for the site's recovery key, not for this endpoint
      if (!this.#isMine(w)) {
        this.#skipped(w.keyId, `wrapped for another user ('${w.user}')`);
        return;
      }
      const { salt: _salt, ...kdf } = w.kdf;
      let reason: string | undefined;
      try {
        checkKdf(kdf as KdfParams);
        reason = aboveCeiling(kdf as KdfParams, ceiling);
      } catch (error) {
        reason = (error as Error).message;
      }
      if (reason) {
        this.#skipped(w.keyId, reason);
        return;
      }
      if (leaveOut(w, value)) return;
      if (out.length >= MAX_WRAPPED_VALUES) {
        this.#skipped(w.keyId, `more than ${MAX_WRAPPED_VALUES} wrapped keys in the directory`);
        return;
      }
      out.push({ value, w });
    });
    return out;
  }

  #skipped(which: string, reason: string): void {
    this.#o.logger?.log('warn', EventId.WrappedKeySkipped, `skipped wrapped master key ${which}: ${reason}`, {
      keyId: which,
    });
  }

  #isMine(w: WrappedKey): boolean {
    return w.user === undefined || w.user === this.#o.user;
  }

  /** Tries the password on one wrapped key; parameters beyond the hard bounds open nothing. */
  async #tryOpen(w: WrappedKey, password: string): Promise<Buffer | undefined> {
    try {
      return await unwrapWithPassword(w, this.#o.user, password);
    } catch (error) {
      if (!(error instanceof CredroamError) || error.code !== 'E_KDF_BOUNDS') throw error;
      this.#skipped(w.keyId, error.message);
      return undefined;
    }
  }

  /**
   * Re-wraps every master key the old password opens under the new one (`credroam passwd`): the
   * directory's values, and this endpoint's copy of any key the directory lost.
   */
  async changePassword(oldPassword: string, newPassword: string): Promise<{ readonly rewrapped: number }> {
    const local = await readCache(this.#o.cacheFile);
    return this.#replaceWrapped('changing the password', async (values) => {
      const remove: Uint8Array[] = [];
      const add: Uint8Array[] = [];
      const done = new Set<string>();
      const candidates = [
        ...this.#screen(values).map((c) => ({ ...c, inDirectory: true })),
        ...local.keys
          .map((value) => ({ value, w: decodeWrapped(value), inDirectory: false }))
          .filter(
            (c): c is { value: Uint8Array; w: WrappedKey & { wrap: 'password' }; inDirectory: false } =>
              c.w?.wrap === 'password' && this.#isMine(c.w),
          ),
      ];
      for (const { value, w, inDirectory } of candidates) {
        if (done.has(w.keyId) && !inDirectory) continue;
        const key = await this.#tryOpen(w, oldPassword);
        if (!key) continue;
        if (inDirectory) remove.push(value);
        if (done.has(w.keyId)) continue;
        done.add(w.keyId);
        add.push(encodeWrapped(await this.#wrap(key, w.keyId, w.created, newPassword)));
        this.#hold({ keyId: w.keyId, created: w.created, key });
      }
      if (add.length === 0) await this.#wrongPassword();
      return { remove, add, result: { rewrapped: add.length } };
    });
  }

  /**
   * Re-wraps the master keys this keyring holds (unlocked at logon) for a new password, without
   * the old one. Only for a caller that proved the new password is the system's (the agent, for a
   * password that came through PAM): see docs/decisions/006-password-changes.md.
   */
  async rewrap(newPassword: string): Promise<{ readonly rewrapped: number }> {
    if (!this.unlocked)
      throw new CredroamError('E_LOCKED', 'the keys are locked: log on first, or give the old password');
    return this.#replaceWrapped('changing the password', async (values) => {
      const remove = values.filter((v) => {
        const w = decodeWrapped(v);
        return w?.wrap === 'password' && this.#isMine(w) && this.#keys.has(w.keyId);
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
        { user: this.#o.user },
      );
    }
    return this.#replaceWrapped('recovery', async (values) => {
      const recovered = new Map<string, MasterKey>();
      for (const v of values) {
        const w = decodeWrapped(v);
        if (w?.wrap !== 'escrow' || !this.#isMine(w)) continue;
        const key = unwrapWithEscrow(w, this.#o.user, privateKey);
        if (key) recovered.set(w.keyId, { keyId: w.keyId, created: w.created, key });
      }
      if (recovered.size === 0) {
        throw new CredroamError(
          'E_ESCROW_KEY',
          `no master key of '${this.#o.user}' is wrapped to this escrow key (the policy may have had none when the keys were made)`,
          { user: this.#o.user },
        );
      }
      const remove = values.filter((v) => {
        const w = decodeWrapped(v);
        return w?.wrap === 'password' && recovered.has(w.keyId);
      });
      const add: Uint8Array[] = [];
      for (const k of recovered.values())
        add.push(encodeWrapped(await this.#wrap(k.key, k.keyId, k.created, newPassword)));
      for (const k of recovered.values()) this.#hold(k);
      return { remove, add, result: { recovered: recovered.size } };
    });
  }

  /**
   * Reads the wrapped keys, lets `change` decide which to remove and add, and writes that with
   * compare-and-swap (reading and deciding again when another endpoint wrote first); then puts the
   * new password-wrapped values in this endpoint's copy. Needs the directory.
   */
  async #replaceWrapped<T>(
    what: string,
    change: (
      values: readonly Uint8Array[],
    ) => Promise<{ remove: Uint8Array[]; add: Uint8Array[]; result: T }>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const dir = await this.#readDirectory({ keys: [], refused: [] });
      if (!dir)
        throw new CredroamError('E_OFFLINE', `${what} needs the directory, which is unreachable`, {
          user: this.#o.user,
        });
      const { remove, add, result } = await change(dir.values);
      try {
        await this.#write(dir.stamp, remove, add);
        await this.#keepLocally(add);
        return result;
      } catch (error) {
        if (!(error instanceof ConflictError) || attempt >= CAS_ATTEMPTS) throw error;
      }
    }
  }

  /** Puts new password-wrapped values in this endpoint's copy, replacing those of the same keys. */
  async #keepLocally(values: readonly Uint8Array[]): Promise<void> {
    const fresh = values.map(decodeWrapped).filter((w) => w?.wrap === 'password');
    const ids = new Set(fresh.map((w) => w!.keyId));
    const local = await readCache(this.#o.cacheFile);
    const kept = local.keys.filter((v) => {
      const w = decodeWrapped(v);
      return w !== undefined && !ids.has(w.keyId);
    });
    const added = values.filter((v) => decodeWrapped(v)?.wrap === 'password');
    await writeCache(this.#o.cacheFile, { keys: [...kept, ...added], refused: [] });
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
    return mk ? this.#derive(mk, `credroam/token/v1/${kind}`) : undefined;
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
      .map((k) => ({ keyId: k.keyId, key: this.#derive(k, 'credroam/at-rest/v1') }));
  }

  /** Calls `listener` at each `lock`; returns what stops that. */
  onLock(listener: () => void): () => void {
    this.#onLock.add(listener);
    return () => this.#onLock.delete(listener);
  }

  /** Forgets the keys (zeroed). */
  lock(): void {
    for (const k of this.#keys.values()) k.key.fill(0);
    this.#keys.clear();
    this.#forgetDerived();
    for (const listener of this.#onLock) listener();
  }

  /** Holds a master key (opened, recovered or made); what was derived before is derived again. */
  #hold(k: MasterKey): void {
    this.#keys.set(k.keyId, k);
    this.#forgetDerived();
  }

  #forgetDerived(): void {
    for (const key of this.#derived.values()) key.fill(0);
    this.#derived.clear();
  }

  /** The key HKDF derives from master key `mk` for `info`: a copy of the one derived first. */
  #derive(mk: MasterKey, info: string): Buffer {
    const at = `${mk.keyId}\0${info}`;
    let key = this.#derived.get(at);
    if (!key) {
      key = derive(mk.key, info);
      this.#derived.set(at, key);
    }
    return Buffer.from(key);
  }

  async #create(password: string, stamp: readonly Uint8Array[]): Promise<void> {
    const key = randomBytes(32);
    const keyId = newKeyId();
    const created = (this.#o.now ?? Date.now)();
    const wrapped = encodeWrapped(await this.#wrap(key, keyId, created, password));
    const add = [wrapped];
    const escrow = this.#o.policy?.escrowPublicKeyPem;
    if (escrow)
      add.push(
        encodeWrapped(wrapForEscrow(key, { user: this.#o.user, keyId, created, escrowPublicKeyPem: escrow })),
      );
    await this.#write(stamp, [], add);
    this.#hold({ keyId, created, key });
    const local = await readCache(this.#o.cacheFile);
    await writeCache(this.#o.cacheFile, { keys: [...local.keys, wrapped], refused: [] });
    this.#o.logger?.log('info', EventId.MasterKeyCreated, 'created a master key for this user', { keyId });
  }

  /** When the policy names an escrow key, every master key this endpoint holds gets wrapped to it. */
  async #ensureEscrow(values: readonly Uint8Array[], stamp: readonly Uint8Array[]) {
    const pem = this.#o.policy?.escrowPublicKeyPem;
    if (!pem) return;
    const { createPublicKey } = await import('node:crypto');
    const escrowId = escrowKeyId(createPublicKey(pem));
    const wrapped = values.map(decodeWrapped);
    const add: Uint8Array[] = [];
    for (const k of this.#keys.values()) {
      if (wrapped.some((w) => w?.wrap === 'escrow' && w.keyId === k.keyId && w.escrowKey === escrowId))
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

  async #wrongPassword(): Promise<never> {
    throw new CredroamError(
      'E_WRONG_PASSWORD',
      'the password does not open your credroam keys; nothing was changed. If your password was changed on another endpoint, ' +
        'log on with the new one. If it was changed outside credroam (by an administrator or the directory’s own password tools), ' +
        'run `credroam passwd` once with the old password, or ask an administrator to recover your keys with `credroam recover`.',
      { user: this.#o.user },
    );
  }

  /** The directory's wrapped keys and stamp; undefined when it is unreachable and this endpoint has its own copy. */
  async #readDirectory(local: LocalKeyCopy): Promise<DirectoryKeys | undefined> {
    try {
      const { keys, stamp } = await this.#o.directory.readKeys();
      return { values: keys, stamp };
    } catch (error) {
      if (error instanceof CredroamError && error.code !== 'E_UNREACHABLE') throw error;
      if (local.keys.length === 0) throw error;
      this.#o.logger?.log(
        'warn',
        EventId.KeysOpenedOffline,
        'the directory is unreachable: using this endpoint’s copy of the wrapped keys',
      );
      return undefined;
    }
  }

  /** A compare-and-swap write of wrapped keys; returns the stamp it left. */
  async #write(
    stamp: readonly Uint8Array[],
    remove: Uint8Array[],
    add: Uint8Array[],
  ): Promise<readonly Uint8Array[]> {
    await mkdir(path.dirname(this.#o.cacheFile), { recursive: true, mode: 0o700 });
    const next = [new Uint8Array(randomBytes(16))];
    await this.#o.directory.write({ keys: { remove, add }, stamp: { remove: stamp, add: next } });
    return next;
  }
}

const sha256 = (v: Uint8Array): string => createHash('sha256').update(v).digest('hex');

function derive(key: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), info, 32));
}
