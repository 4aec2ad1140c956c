import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { lstat, mkdir, readdir, rename, rm, utimes } from 'node:fs/promises';
import path from 'node:path';
import {
  CredroamError,
  type LocalItem,
  type LocalListing,
  type LocalStore,
  readFileNoFollow,
  type TokenKind,
  type UnreadableItem,
  writeFileAtomic,
} from '@credroam/core/api';
import type { Keyring } from '../keyring/keyring.js';

const CANONICAL = /^([0-9a-f]{64})\.(der|p8)$/;
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** What `credroam list` shows without unlocking anything. */
export interface InventoryEntry {
  readonly kind: TokenKind;
  readonly id: string;
  readonly archived: boolean;
  readonly file: string;
  readonly modified: number;
}

/** The id of a private key: SHA-256 of its SubjectPublicKeyInfo. */
export function keyId(pkcs8: Uint8Array): string {
  const spki = createPublicKey(
    createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' }),
  ).export({
    type: 'spki',
    format: 'der',
  });
  return sha256(spki);
}

/** A certificate's DER from DER or PEM bytes; throws for anything else. */
export function certificateDer(data: Uint8Array): Uint8Array {
  const cert = new X509Certificate(Buffer.from(data));
  return new Uint8Array(cert.raw);
}

/**
 * The user's credentials on this endpoint, in a folder of standard files:
 *
 * - `certs/<sha256>.der`, `archived/<sha256>.der`: certificates (DER, in clear), active or archived;
 *   any other certificate file copied into `certs/` (DER or PEM) is picked up too;
 * - `keys/<spki-sha256>.p8`: private keys as PKCS#8 EncryptedPrivateKeyInfo (PBES2, AES-256-CBC),
 *   under a key derived from the user's master key, so they open only after logon (as DPAPI ties
 *   Windows keys to the user's logon);
 * - `removed/`: what a roamed deletion took away, kept until the tombstone's lifetime ends.
 *
 * Folders are 0700 and files 0600, written atomically; links are reported, never followed; a file
 * that cannot be read is reported and left alone.
 */
export class CredentialFolderStore implements LocalStore {
  readonly root: string;
  /** Decrypted keys by file identity (name, size, mtime), so a long-lived agent decrypts each once. */
  readonly #keyCache = new Map<string, { id: string; content: Uint8Array }>();
  /** Every file that held a credential at the last listing, by `kind:id`. */
  readonly #paths = new Map<string, string[]>();

  constructor(
    root: string,
    private readonly keyring: Keyring | undefined,
  ) {
    this.root = root;
  }

  async revision(): Promise<string> {
    const hash = createHash('sha256');
    for (const dir of ['certs', 'archived', 'keys']) {
      for (const name of (await this.#names(dir)).sort()) {
        const st = await lstat(path.join(this.root, dir, name), { bigint: true }).catch(() => undefined);
        hash.update(`${dir}/${name}:${st?.size ?? -1}:${st?.mtimeNs ?? -1}:${st?.ino ?? -1}\n`);
      }
    }
    return hash.digest('hex');
  }

  async list(): Promise<LocalListing> {
    const items: LocalItem[] = [];
    const unreadable: UnreadableItem[] = [];
    this.#paths.clear();
    const remember = (kind: TokenKind, id: string, file: string) => {
      const k = `${kind}:${id}`;
      this.#paths.set(k, [...(this.#paths.get(k) ?? []), file]);
    };
    for (const dir of ['certs', 'archived'] as const) {
      for (const name of await this.#names(dir)) {
        const file = path.join(this.root, dir, name);
        const canonical = CANONICAL.exec(name);
        try {
          const { data, modified } = await this.#read(file);
          const content = certificateDer(data);
          const id = sha256(content);
          remember('cert', id, file);
          items.push({ kind: 'cert', id, content, archived: dir === 'archived', modified });
        } catch (error) {
          unreadable.push({
            name: `${dir}/${name}`,
            ...(canonical ? { kind: 'cert' as const, id: canonical[1] } : {}),
            reason: (error as Error).message,
          });
        }
      }
    }
    for (const name of await this.#names('keys')) {
      const file = path.join(this.root, 'keys', name);
      const canonical = CANONICAL.exec(name);
      const named = canonical ? { kind: 'key' as const, id: canonical[1] } : {};
      try {
        const { data, modified, identity } = await this.#read(file);
        const cached = this.#keyCache.get(identity);
        const opened = cached ?? this.#decryptKey(data);
        if (!cached) this.#keyCache.set(identity, opened);
        remember('key', opened.id, file);
        items.push({ kind: 'key', id: opened.id, content: opened.content, archived: false, modified });
      } catch (error) {
        unreadable.push({ name: `keys/${name}`, ...named, reason: (error as Error).message });
      }
    }
    return { items, unreadable };
  }

  async put(item: LocalItem): Promise<void> {
    if (item.kind === 'cert') {
      const target = path.join(this.root, item.archived ? 'archived' : 'certs', `${item.id}.der`);
      await this.#write(target, item.content, item.modified);
      const other = path.join(this.root, item.archived ? 'certs' : 'archived', `${item.id}.der`);
      await rm(other, { force: true });
      return;
    }
    const { key } = this.#atRest();
    const encrypted = createPrivateKey({
      key: Buffer.from(item.content),
      format: 'der',
      type: 'pkcs8',
    }).export({
      type: 'pkcs8',
      format: 'der',
      cipher: 'aes-256-cbc',
      passphrase: key,
    });
    await this.#write(path.join(this.root, 'keys', `${item.id}.p8`), encrypted, item.modified);
  }

  async remove(kind: TokenKind, id: string, options: { readonly keepUntil?: number } = {}): Promise<void> {
    const files = new Set(this.#paths.get(`${kind}:${id}`) ?? []);
    if (kind === 'cert') {
      files.add(path.join(this.root, 'certs', `${id}.der`));
      files.add(path.join(this.root, 'archived', `${id}.der`));
    } else {
      files.add(path.join(this.root, 'keys', `${id}.p8`));
    }
    await this.#dir('removed');
    for (const file of files) {
      const st = await lstat(file).catch(() => undefined);
      if (!st?.isFile()) continue;
      if (options.keepUntil !== undefined) {
        const kept = path.join(this.root, 'removed', `${options.keepUntil}-${kind}-${path.basename(file)}`);
        await rename(file, kept);
      } else {
        await rm(file);
      }
    }
    this.#paths.delete(`${kind}:${id}`);
    await this.#purgeRemoved();
  }

  /** What the store holds, from file names and certificates only: no key is decrypted. */
  async inventory(): Promise<InventoryEntry[]> {
    const out: InventoryEntry[] = [];
    for (const dir of ['certs', 'archived', 'keys'] as const) {
      for (const name of await this.#names(dir)) {
        const file = path.join(this.root, dir, name);
        const st = await lstat(file).catch(() => undefined);
        if (!st?.isFile()) continue;
        if (dir === 'keys') {
          const m = CANONICAL.exec(name);
          if (m) out.push({ kind: 'key', id: m[1]!, archived: false, file, modified: st.mtimeMs });
          continue;
        }
        try {
          const { data } = await this.#read(file);
          out.push({
            kind: 'cert',
            id: sha256(certificateDer(data)),
            archived: dir === 'archived',
            file,
            modified: st.mtimeMs,
          });
        } catch {
          // reported by list(); the inventory shows what it can read
        }
      }
    }
    return out;
  }

  /** Reads one certificate's DER by id (active or archived). */
  async certificate(id: string): Promise<Uint8Array | undefined> {
    for (const dir of ['certs', 'archived']) {
      const data = await readFileNoFollow(path.join(this.root, dir, `${id}.der`)).catch(() => undefined);
      if (data) return new Uint8Array(data);
    }
    return (await this.list()).items.find((i) => i.kind === 'cert' && i.id === id)?.content;
  }

  /** Reads one private key's PKCS#8 by id; needs the keys unlocked. */
  async privateKey(id: string): Promise<Uint8Array | undefined> {
    const data = await readFileNoFollow(path.join(this.root, 'keys', `${id}.p8`));
    return data ? this.#decryptKey(new Uint8Array(data)).content : undefined;
  }

  #decryptKey(data: Uint8Array): { id: string; content: Uint8Array } {
    if (!this.keyring?.unlocked) throw new Error('locked: log on to read private keys');
    for (const { key } of this.keyring.atRestKeys()) {
      try {
        const content = new Uint8Array(
          createPrivateKey({ key: Buffer.from(data), format: 'der', type: 'pkcs8', passphrase: key }).export({
            type: 'pkcs8',
            format: 'der',
          }),
        );
        return { id: keyId(content), content };
      } catch {
        // another master key's at-rest key, or not ours
      }
    }
    throw new Error('cannot decrypt: not encrypted under this user’s keys');
  }

  #atRest(): { keyId: string; key: Buffer } {
    if (!this.keyring?.unlocked) {
      throw new CredroamError(
        'E_LOCKED',
        'the credroam keys are locked: give the roaming password to store a private key',
      );
    }
    return this.keyring.atRestKey();
  }

  async #read(file: string): Promise<{ data: Uint8Array; modified: number; identity: string }> {
    const st = await lstat(file, { bigint: true });
    if (st.isSymbolicLink()) throw new Error('is a link: not followed');
    if (!st.isFile()) throw new Error('not a regular file');
    const data = await readFileNoFollow(file);
    if (!data) throw new Error('vanished while being read');
    return {
      data: new Uint8Array(data),
      modified: Number(st.mtimeMs),
      identity: `${file}:${st.size}:${st.mtimeNs}:${st.ino}`,
    };
  }

  async #write(file: string, data: Uint8Array, modified: number): Promise<void> {
    await this.#dir(path.basename(path.dirname(file)));
    await writeFileAtomic(file, data);
    const t = new Date(modified);
    await utimes(file, t, t);
  }

  async #dir(name: string): Promise<string> {
    const dir = path.join(this.root, name);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  async #names(dir: string): Promise<string[]> {
    try {
      return (await readdir(path.join(this.root, dir))).filter((n) => !n.startsWith('.'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  /** Drops removed credentials whose keep-until time has passed. */
  async #purgeRemoved(now = Date.now()): Promise<void> {
    for (const name of await this.#names('removed')) {
      const until = Number(name.split('-', 1)[0]);
      if (Number.isFinite(until) && until < now)
        await rm(path.join(this.root, 'removed', name), { force: true });
    }
  }
}
