import { createHash, X509Certificate } from 'node:crypto';
import { type BigIntStats, lstatSync } from 'node:fs';
import { lstat, mkdir, readdir, rename, rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import {
  CredroamError,
  EventId,
  type LocalItem,
  type LocalListing,
  type LocalStore,
  type Logger,
  type PutOptions,
  type TokenKind,
  type UnreadableItem,
} from '@credroam/core/api';
import {
  AtomicWriteBatch,
  decodeCredentialAttributes,
  describeCertificate,
  privateKeyId,
  TEMPORARY_NAME,
  writeFileAtomic,
} from '@credroam/core/kit';
import { pemBlocks } from '../formats/pem.js';
import type { Keyring } from '../keyring/keyring.js';
import { checkFolder, describeRepair, exposed, type ModeRepair, readPrivateFile } from './private-paths.js';
import { readAhead } from './read-ahead.js';
import { RevisionMemo } from './revision-memo.js';
import { isSealedKey, MAX_KEY_FILE, openSealedKey, sealingKey, sealKey } from './sealed-key.js';

const CANONICAL = /^([0-9a-f]{64})\.(der|p8)$/;
/** `attrs/<certificate sha256>.json`: a credential's attributes (friendly name, CA chain). */
const ATTRS_NAME = /^([0-9a-f]{64})\.json$/;
/** A file's status without following a link; undefined when it is gone (or unreadable). */
function lstatQuiet(file: string): BigIntStats | undefined {
  try {
    return lstatSync(file, { bigint: true, throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/** What tells one state of a file from another: size, modification and change times, inode. */
const identityOf = (st: BigIntStats): string => `${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}`;

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
const LOCKED = 'locked: log on to read private keys';
/** A temporary file older than this is one a killed process left: the next listing removes it. */
const STALE_TEMPORARY_MS = 15 * 60_000;

/** A key file opened: the key, and for a file of the earlier format the master key it was under. */
interface OpenedKeyFile {
  readonly id: string;
  readonly content: Uint8Array;
  readonly earlierUnder?: string;
}

/**
 * The keys that open and seal key files, derived from the keyring's at-rest keys for one operation
 * (a locked keyring opens nothing).
 */
interface KeyMaterial {
  /** The master key that seals new files (the oldest: stable across merges of keys) and its sealing key. */
  readonly seal: { readonly keyId: string; readonly key: Buffer };
  /** Sealing keys by master key id. */
  readonly open: ReadonlyMap<string, Buffer>;
  /** The at-rest keys themselves, oldest first: the passwords of files in the earlier format. */
  readonly legacy: readonly Buffer[];
  /** The master key id of each of `legacy`. */
  readonly legacyIds: readonly string[];
}

/** The store's folders; `''` is the store folder itself. */
type Folder = '' | 'certs' | 'archived' | 'keys' | 'attrs' | 'removed';
const FOLDERS: readonly Folder[] = ['certs', 'archived', 'keys', 'attrs', 'removed'];

/** Something `doctor` reports about the store: a link, a wrong kind of file, a mode others can use. */
export interface StoreProblem {
  readonly path: string;
  readonly problem: string;
}

/** What `credroam list` shows without unlocking anything. */
export interface InventoryEntry {
  readonly kind: TokenKind;
  readonly id: string;
  readonly archived: boolean;
  readonly file: string;
  readonly modified: number;
}

/** The id of a private key: SHA-256 of its SubjectPublicKeyInfo (the kit's `privateKeyId`). */
export function keyId(pkcs8: Uint8Array): string {
  return privateKeyId(pkcs8);
}

/**
 * A certificate's DER from DER or PEM bytes; throws for anything else, and for a certificate that
 * cannot be described (`describeCertificate`): what the store lists, every command can show.
 */
export function certificateDer(data: Uint8Array): Uint8Array {
  // The common case, exactly one DER certificate (as the store writes it): described as it is,
  // without parsing it a second time to find its DER.
  if (data[0] === 0x30) {
    try {
      describeCertificate(data);
      return new Uint8Array(data);
    } catch {}
  }
  let der: Uint8Array;
  try {
    der = new Uint8Array(new X509Certificate(Buffer.from(data)).raw);
  } catch (error) {
    // One this OpenSSL refuses (a stricter version than another endpoint's): its bytes, DER or
    // the one CERTIFICATE block of a PEM file, described from their structure.
    const text = Buffer.from(data).toString('latin1');
    const blocks = text.includes('-----BEGIN') ? pemBlocks(text) : undefined;
    if (blocks && (blocks.length !== 1 || blocks[0]?.label !== 'CERTIFICATE')) throw error;
    der = blocks ? blocks[0]!.der : data;
  }
  describeCertificate(der);
  return der;
}

/**
 * The user's credentials on this endpoint, in a folder of standard files:
 *
 * - `certs/<sha256>.der`, `archived/<sha256>.der`: certificates (DER, in clear), active or archived;
 *   any other certificate file copied into `certs/` (DER or PEM) is picked up too;
 * - `keys/<spki-sha256>.p8`: private keys, PKCS#8 sealed with AES-256-GCM under a key derived from
 *   the user's master key (`sealed-key.ts`, decision 023), so they open only after logon (as DPAPI
 *   ties Windows keys to the user's logon); the header and name bind each file to its key id, and
 *   one altered, truncated or put under another key's name is reported unreadable, never used or
 *   deleted. Files of the earlier format (PKCS#8 EncryptedPrivateKeyInfo, PBES2 with at most 2 048
 *   PBKDF2 iterations, AES-256-CBC) are read as before, and sealed again in the new one at the
 *   first unlocked listing (event 1034);
 * - `attrs/<sha256>.json`: a certificate's attributes (friendly name, CA chain; the canonical
 *   document of `encodeCredentialAttributes`), named by the certificate's id; they go with the
 *   certificate when it is removed;
 * - `removed/`: what a roamed deletion took away, kept until the time the engine gives.
 *
 * Folders are 0700 and files 0600, written atomically; a folder or file that others could use is
 * made owner-only at the next listing or write, with an event (1033). No link is followed, at any
 * level inside the store: a link where a folder should be is refused with an error and an event
 * (1032) naming it, and nothing is read or written through it; a file that cannot be read is
 * reported and left alone.
 *
 * `put` with `durable: false` holds writes in a batch (temporary files beside their targets, each
 * folder checked once) until `flush` makes them durable together (`AtomicWriteBatch`); any other
 * write first flushes what is held, so writes take effect in the order they were made: a write
 * still making its temporary file is waited for, and a failure of such a flush is thrown again by
 * the next `flush`, to the holder of the writes it lost.
 */
export class CredentialFolderStore implements LocalStore {
  readonly root: string;
  /**
   * What a listing made of each file (a certificate's DER and id, attributes, an opened key), by
   * path, kept while the file keeps its identity (size, modification and change times, inode): a
   * long-lived agent reads, parses and opens each file once, and a listing after one change opens
   * one file. Opened keys are dropped when the keyring is locked.
   */
  readonly #parsed = new Map<string, { readonly identity: string; readonly value: unknown }>();
  /**
   * `dir/name` inside the store, for a name `readdir` gave (never `/`, `.` or `..`): joined as
   * text, which a listing does for every file (`path.join` normalizes each time).
   */
  #at(dir: Folder, name: string): string {
    return `${this.#folders[dir]}/${name}`;
  }
  readonly #folders: Readonly<Record<Folder, string>>;

  /** A digest of the at-rest keys the keys in `#parsed` were opened under. */
  #openedUnder: string | undefined;
  /** The key material derived under `#openedUnder` (each operation asks; derived once). */
  #material: KeyMaterial | undefined;
  /** The files the listing under way looked at. */
  #seen = new Set<string>();
  /** Every file that held a credential at the last listing, by `kind:id`. */
  readonly #paths = new Map<string, string[]>();
  /** Writes held for `flush`, and the folders checked for them (each once per batch). */
  #batch: { readonly writes: AtomicWriteBatch; readonly folders: Map<Folder, string> } | undefined;
  /** The error of a commit of held writes that the next `flush` has to report. */
  #lost: unknown;

  readonly #logger: Logger | undefined;
  readonly #now: () => number;

  constructor(
    root: string,
    private readonly keyring: Keyring | undefined,
    options: { readonly logger?: Logger; readonly now?: () => number } = {},
  ) {
    this.root = root;
    this.#folders = Object.fromEntries(
      (['', ...FOLDERS] as const).map((f) => [f, path.join(root, f)]),
    ) as Record<Folder, string>;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    // The keys it opened go when the keyring is locked, not at its next call (a store only weakly
    // held: a keyring outlives the stores of its user).
    const self = new WeakRef(this);
    const stop = keyring?.onLock?.(() => {
      const store = self.deref();
      if (store) store.#dropOpenedKeys();
      else stop?.();
    });
  }

  /** The revision while no watch saw a change (for the agent, which asks at every sync). */
  readonly #memo = new RevisionMemo(() =>
    ['', 'certs', 'archived', 'keys', 'attrs'].map((f) => this.#folders[f as Folder | '']),
  );

  revision(): Promise<string> {
    return this.#memo.revision(() => this.#revision());
  }

  /**
   * Runs a call that may change the store (a write; a listing too: it repairs modes and seals
   * earlier-format keys again): the remembered revision is forgotten before and after it.
   */
  async #changing<T>(call: () => Promise<T>): Promise<T> {
    this.#memo.forget();
    try {
      return await call();
    } finally {
      this.#memo.forget();
    }
  }

  /** Ends what the store holds open (the watches of its revision); it still works after. */
  close(): void {
    this.#memo.close();
  }

  async #revision(): Promise<string> {
    const hash = createHash('sha256');
    for (const dir of ['certs', 'archived', 'keys', 'attrs'] as const) {
      // A refused folder (a link) counts as a state of its own; it is reported by `list`.
      const names = await this.#names(dir, { repair: false }).catch((error: unknown) => {
        if (error instanceof CredroamError && error.code.startsWith('E_STORE_')) return undefined;
        throw error;
      });
      if (names === undefined) hash.update(`${dir}: refused\n`);
      // One synchronous lstat per file: a few microseconds each, where a call through the thread
      // pool costs twenty (a store of 4 000 files: 20 ms instead of 80).
      for (const name of (names ?? []).sort()) {
        const st = lstatQuiet(this.#at(dir, name));
        // The change time too: a file made unreadable (its mode) or rewritten with its old
        // modification time restored still moves the revision (decision 025).
        hash.update(
          `${dir}/${name}:${st?.size ?? -1}:${st?.mtimeNs ?? -1}:${st?.ctimeNs ?? -1}:${st?.ino ?? -1}\n`,
        );
      }
    }
    return hash.digest('hex');
  }

  async list(): Promise<LocalListing> {
    return this.#changing(() => this.#list());
  }

  async #list(): Promise<LocalListing> {
    const items: LocalItem[] = [];
    const unreadable: UnreadableItem[] = [];
    this.#paths.clear();
    const seen = new Set<string>();
    this.#seen = seen;
    const remember = (kind: TokenKind, id: string, file: string) => {
      const k = `${kind}:${id}`;
      this.#paths.set(k, [...(this.#paths.get(k) ?? []), file]);
    };
    // A folder that is a link is one unreadable entry without an id: the engine then writes no
    // tombstones (what lies behind it is not deleted), and nothing is read through it.
    const names = async (dir: Folder): Promise<string[]> => {
      try {
        return await this.#names(dir, { repair: true });
      } catch (error) {
        if (!(error instanceof CredroamError && error.code.startsWith('E_STORE_'))) throw error;
        if (error.details.path === this.root) throw error;
        unreadable.push({ name: dir, reason: error.message });
        return [];
      }
    };
    for (const dir of ['certs', 'archived'] as const) {
      const found = await names(dir);
      const reads = readAhead(
        found.map(
          (name) => () =>
            this.#readParsed(this.#at(dir, name), (data) => {
              const content = certificateDer(data);
              return { content, id: sha256(content) };
            }),
        ),
      );
      for (const [i, name] of found.entries()) {
        const file = this.#at(dir, name);
        const canonical = CANONICAL.exec(name);
        try {
          const {
            value: { content, id },
            modified,
          } = await reads[i]!;
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
    const keyNames = await names('keys');
    const keys = this.#keyMaterial();
    const earlier: { item: LocalItem; under: string }[] = [];
    // Locked: each key is reported from its name, without reading a file that cannot be opened.
    const keyReads = readAhead(
      keyNames.map(
        (name) => () => (keys ? this.#openKeyFile(name, keys) : Promise.reject(new Error(LOCKED))),
      ),
    );
    for (const [i, name] of keyNames.entries()) {
      const file = this.#at('keys', name);
      const canonical = CANONICAL.exec(name);
      const named = canonical ? { kind: 'key' as const, id: canonical[1] } : {};
      try {
        const { id, content, modified, earlierUnder } = await keyReads[i]!;
        remember('key', id, file);
        const item = { kind: 'key' as const, id, content, archived: false, modified };
        items.push(item);
        if (keys && earlierUnder !== undefined && canonical?.[1] === id)
          earlier.push({ item, under: earlierUnder });
      } catch (error) {
        unreadable.push({ name: `keys/${name}`, ...named, reason: (error as Error).message });
      }
    }
    await this.#listAttributes(names, remember, items, unreadable);
    if (keys) await this.#reseal(earlier, keys);
    // What is no longer in the store is not kept (a locked listing opened no key: those stay).
    for (const file of this.#parsed.keys()) {
      if (!seen.has(file) && (keys || path.basename(path.dirname(file)) !== 'keys'))
        this.#parsed.delete(file);
    }
    return { items, unreadable };
  }

  /**
   * Keys found in the earlier at-rest format (decision 023) are sealed again in the current one,
   * under their own names, dates and master keys, in one batch: each later listing then opens them
   * without a key derivation. A failure leaves them as they are (they still open), with an event.
   */
  async #reseal(earlier: readonly { item: LocalItem; under: string }[], keys: KeyMaterial): Promise<void> {
    if (earlier.length === 0) return;
    try {
      // What is held goes first; the keys then in a batch of their own, so that their failure (left
      // as they are, with a warning) is never taken for a failure of writes a sync holds.
      await this.#commit();
      const dir = await this.#folder('keys', { create: true });
      const batch = new AtomicWriteBatch();
      try {
        // Each under the master key that opened it: whoever could read it still can.
        for (const { item, under } of earlier) {
          const sealed = sealKey({
            pkcs8: item.content,
            id: item.id,
            keyId: under,
            key: keys.open.get(under)!,
          });
          await batch.write(path.join(dir, `${item.id}.p8`), sealed, { modified: item.modified });
        }
        await batch.commit();
      } catch (error) {
        await batch.discard();
        throw error;
      }
      this.#logger?.log(
        'info',
        EventId.StoreKeysResealed,
        `${earlier.length} private key(s) sealed again in the current at-rest format`,
        { count: earlier.length },
      );
    } catch (error) {
      this.#logger?.log(
        'warn',
        EventId.StoreKeysResealed,
        `private keys in the earlier at-rest format were left as they are: ${(error as Error).message}`,
        { count: earlier.length },
      );
    }
  }

  /** `attrs/`: each file's id is the certificate its content names, which must be its name. */
  async #listAttributes(
    names: (dir: Folder) => Promise<string[]>,
    remember: (kind: TokenKind, id: string, file: string) => void,
    items: LocalItem[],
    unreadable: UnreadableItem[],
  ): Promise<void> {
    const found = await names('attrs');
    const reads = readAhead(
      found.map(
        (name) => () =>
          ATTRS_NAME.test(name)
            ? this.#readParsed(this.#at('attrs', name), (data) => ({
                data,
                id: decodeCredentialAttributes(data).cert,
              }))
            : Promise.resolve(undefined),
      ),
    );
    for (const [i, name] of found.entries()) {
      const file = this.#at('attrs', name);
      const named = ATTRS_NAME.exec(name);
      try {
        if (!named) throw new Error('not an attributes file (<sha256>.json)');
        const {
          value: { data, id },
          modified,
        } = (await reads[i])!;
        if (id !== named[1]) throw new Error(`it holds the attributes of certificate ${id}`);
        remember('attrs', id, file);
        items.push({ kind: 'attrs', id, content: data, archived: false, modified });
      } catch (error) {
        unreadable.push({
          name: `attrs/${name}`,
          ...(named ? { kind: 'attrs' as const, id: named[1] } : {}),
          reason: (error as Error).message,
        });
      }
    }
  }

  /** Writes attributes (checked: their content names `item.id`); never archived, they follow their certificate. */
  async #putAttributes(item: LocalItem, durable: boolean): Promise<void> {
    const id = decodeCredentialAttributes(item.content).cert;
    if (id !== item.id) throw new Error(`the attributes name certificate ${id}, not ${item.id}`);
    const dir = await this.#writable('attrs', durable);
    await this.#write(path.join(dir, `${id}.json`), item.content, item.modified, durable);
  }

  async put(item: LocalItem, options: PutOptions = {}): Promise<void> {
    return this.#changing(() => this.#put(item, options));
  }

  async #put(item: LocalItem, options: PutOptions = {}): Promise<void> {
    const durable = options.durable !== false;
    if (durable) await this.#commit();
    if (item.kind === 'attrs') return this.#putAttributes(item, durable);
    if (item.kind === 'cert') {
      const [into, from] = item.archived
        ? (['archived', 'certs'] as const)
        : (['certs', 'archived'] as const);
      const dir = await this.#writable(into, durable);
      const other = this.#batch?.folders.get(from) ?? (await this.#folder(from, { create: false }));
      if (!durable && other !== undefined) this.#batch?.folders.set(from, other);
      // The copy in the other folder goes once the new one is in place, never before.
      const drop =
        other === undefined ? undefined : () => rm(path.join(other, `${item.id}.der`), { force: true });
      // One chain for the certificate's writes, whichever folder: a later one is never removed by
      // an earlier one's `drop` (certs/ then archived/ in one batch).
      await this.#write(
        path.join(dir, `${item.id}.der`),
        item.content,
        item.modified,
        durable,
        drop,
        `cert:${item.id}`,
      );
      if (!durable && other !== undefined) this.#batch?.writes.touched(other);
      return;
    }
    // The id the file is sealed under is the key's own: checked here, so a listing can trust it.
    if (keyId(item.content) !== item.id) throw new Error(`the private key's id is not ${item.id}`);
    const keys = this.#keyMaterial();
    if (!keys) {
      throw new CredroamError(
        'E_LOCKED',
        'the credroam keys are locked: give the roaming password to store a private key',
      );
    }
    const sealed = sealKey({ pkcs8: item.content, id: item.id, keyId: keys.seal.keyId, key: keys.seal.key });
    const dir = await this.#writable('keys', durable);
    await this.#write(path.join(dir, `${item.id}.p8`), sealed, item.modified, durable);
  }

  /**
   * Makes the writes held since the last flush (`put` with `durable: false`) take effect and
   * durable, together: see `AtomicWriteBatch.commit`. On an error what was not renamed in place
   * is dropped, and the error is thrown.
   */
  async flush(): Promise<void> {
    return this.#changing(() => this.#flush());
  }

  async #flush(): Promise<void> {
    const lost = this.#lost;
    this.#lost = undefined;
    try {
      await this.#commit();
    } catch (error) {
      this.#lost = undefined; // thrown here, to the holder itself
      throw error;
    }
    // Held writes that another write's flush failed to make take effect: the caller that held
    // them (a sync, before it saves its base) must not take them as written.
    if (lost !== undefined) throw lost;
  }

  /** Drops the writes held since the last flush: their temporary files are removed, none takes effect. */
  async discard(): Promise<void> {
    const batch = this.#batch;
    this.#batch = undefined;
    await batch?.writes.discard();
  }

  /**
   * Commits what is held. A failure is also kept for the next `flush`: when the writes held were
   * not this caller's (a write of another request flushing a sync's batch), their holder learns it
   * there.
   */
  async #commit(): Promise<void> {
    const batch = this.#batch;
    if (batch === undefined) return;
    this.#batch = undefined;
    try {
      await batch.writes.commit();
    } catch (error) {
      this.#lost = error;
      throw error;
    }
  }

  async remove(kind: TokenKind, id: string, options: { readonly keepUntil?: number } = {}): Promise<void> {
    return this.#changing(() => this.#remove(kind, id, options));
  }

  async #remove(kind: TokenKind, id: string, options: { readonly keepUntil?: number } = {}): Promise<void> {
    const files = new Set(this.#paths.get(`${kind}:${id}`) ?? []);
    if (kind === 'attrs' || kind === 'cert') {
      // A certificate's attributes go with it: they describe it and nothing else.
      for (const f of this.#paths.get(`attrs:${id}`) ?? []) files.add(f);
      files.add(path.join(this.root, 'attrs', `${id}.json`));
    }
    if (kind === 'cert') {
      files.add(path.join(this.root, 'certs', `${id}.der`));
      files.add(path.join(this.root, 'archived', `${id}.der`));
    } else if (kind === 'key') {
      files.add(path.join(this.root, 'keys', `${id}.p8`));
    }
    await this.#commit(); // what was written before goes first
    // Every folder involved is checked before anything moves: none is a link.
    for (const dir of new Set([...files].map((f) => path.basename(path.dirname(f)) as Folder))) {
      await this.#folder(dir, { create: false });
    }
    await this.#folder('removed', { create: true });
    for (const file of files) {
      const st = await lstat(file).catch(() => undefined);
      if (!st?.isFile()) continue;
      if (options.keepUntil !== undefined) {
        const from = path.basename(path.dirname(file)) === 'attrs' ? 'attrs' : kind;
        const kept = path.join(this.root, 'removed', `${options.keepUntil}-${from}-${path.basename(file)}`);
        await rename(file, kept);
      } else {
        await rm(file);
      }
    }
    this.#paths.delete(`${kind}:${id}`);
    if (kind === 'cert') this.#paths.delete(`attrs:${id}`);
    await this.#purgeRemoved();
  }

  /** What the store holds, from file names and certificates only: no key is decrypted. */
  async inventory(): Promise<InventoryEntry[]> {
    const out: InventoryEntry[] = [];
    for (const dir of ['certs', 'archived', 'keys'] as const) {
      const names = await this.#names(dir, { repair: false }).catch(() => []); // `list` reports a refused folder
      for (const name of names) {
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
    for (const dir of ['certs', 'archived'] as const) {
      if ((await this.#folder(dir, { create: false }).catch(() => undefined)) === undefined) continue;
      const read = await this.#read(path.join(this.root, dir, `${id}.der`)).catch(() => undefined);
      if (read) return read.data;
    }
    return (await this.list()).items.find((i) => i.kind === 'cert' && i.id === id)?.content;
  }

  /** Reads one private key's PKCS#8 by id, and nothing else; needs the keys unlocked. */
  async privateKey(id: string): Promise<Uint8Array | undefined> {
    return (await this.get('key', id))?.content;
  }

  /**
   * One item by kind and id, from its canonical file (`<id>.der` in certs/ or archived/,
   * `keys/<id>.p8`, `attrs/<id>.json`), checked as a listing checks it: undefined when there is
   * none, an error saying why when it does not read. A certificate held only under another name
   * (copied in by hand) is found by a listing, not here.
   */
  async get(kind: TokenKind, id: string): Promise<LocalItem | undefined> {
    if (!/^[0-9a-f]{64}$/.test(id)) return undefined;
    const missing = (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    };
    if (kind === 'key') {
      const dir = await this.#folder('keys', { create: false });
      if (dir === undefined) return undefined;
      const keys = this.#keyMaterial();
      if (!keys) {
        if (!(await lstat(path.join(dir, `${id}.p8`)).catch(missing))) return undefined;
        throw new Error(LOCKED);
      }
      const opened = await this.#openKeyFile(`${id}.p8`, keys).catch(missing);
      return (
        opened && { kind, id: opened.id, content: opened.content, archived: false, modified: opened.modified }
      );
    }
    if (kind === 'cert') {
      for (const dir of ['certs', 'archived'] as const) {
        const folder = await this.#folder(dir, { create: false });
        if (folder === undefined) continue;
        const read = await this.#read(path.join(folder, `${id}.der`)).catch(missing);
        if (read === undefined) continue;
        const content = certificateDer(read.data);
        if (sha256(content) !== id)
          throw new Error(`certificate ${id}.der holds certificate ${sha256(content)}`);
        return { kind, id, content, archived: dir === 'archived', modified: read.modified };
      }
      return undefined;
    }
    if (kind === 'attrs') {
      const dir = await this.#folder('attrs', { create: false });
      if (dir === undefined) return undefined;
      const read = await this.#read(path.join(dir, `${id}.json`)).catch(missing);
      if (read === undefined) return undefined;
      const named = decodeCredentialAttributes(read.data).cert;
      if (named !== id) throw new Error(`it holds the attributes of certificate ${named}`);
      return { kind, id, content: read.data, archived: false, modified: read.modified };
    }
    return undefined;
  }

  /**
   * What `doctor` reports, without repairing anything: links and other kinds of files where the
   * store keeps its folders and files, and modes that let others read or write them.
   */
  async audit(): Promise<StoreProblem[]> {
    const problems: StoreProblem[] = [];
    for (const dir of ['', ...FOLDERS] as const) {
      const where = path.join(this.root, dir);
      let found: Awaited<ReturnType<typeof checkFolder>>;
      try {
        found = await checkFolder(where, { create: false, repair: false });
      } catch (error) {
        problems.push({ path: where, problem: (error as Error).message });
        if (dir === '') return problems;
        continue;
      }
      if (found === undefined) {
        if (dir === '') return problems;
        continue;
      }
      if (found.exposed !== undefined) {
        problems.push({
          path: where,
          problem: `mode ${(found.exposed & 0o777).toString(8)}: others may use it`,
        });
      }
      if (dir === '') continue;
      for (const name of await readdir(where)) {
        const file = path.join(where, name);
        const st = await lstat(file).catch(() => undefined);
        if (st === undefined) continue;
        if (st.isSymbolicLink()) problems.push({ path: file, problem: 'a link: not followed' });
        else if (!st.isFile()) problems.push({ path: file, problem: 'not a regular file' });
        else if (exposed(st.mode)) {
          problems.push({ path: file, problem: `mode ${(st.mode & 0o777).toString(8)}: others may read it` });
        }
      }
    }
    return problems;
  }

  /**
   * Opens `keys/<name>`: read (bounded), then opened in its format. A sealed file opens only under
   * its canonical name, the id it is sealed as; a file of the earlier format opens under any name,
   * its id from its content, which must match a canonical name. Cached by file identity.
   */
  async #openKeyFile(name: string, keys: KeyMaterial): Promise<OpenedKeyFile & { modified: number }> {
    const canonical = CANONICAL.exec(name)?.[1];
    const { value, modified } = await this.#readParsed(
      this.#at('keys', name),
      async (data): Promise<OpenedKeyFile> => {
        if (isSealedKey(data)) {
          if (canonical === undefined)
            throw new Error('a sealed key away from its name (<key id>.p8): not read');
          const result = openSealedKey(data, canonical, keys.open);
          if (!result.ok) throw new Error(result.reason);
          return { id: result.header.id, content: result.pkcs8 };
        }
        // Loaded for a key of the earlier format only (its PBES2 reader brings the CMS library).
        const { openLegacyKey } = await import('./legacy-key.js');
        const result = await openLegacyKey(data, keys.legacy);
        if (!result.ok) throw new Error(result.reason);
        const id = keyId(result.pkcs8);
        if (canonical !== undefined && id !== canonical)
          throw new Error(`it holds key ${id}, not the key its name says`);
        return { id, content: result.pkcs8, earlierUnder: keys.legacyIds[result.index]! };
      },
      { maxBytes: MAX_KEY_FILE },
    );
    return { ...value, modified };
  }

  /** Forgets every key a listing opened (`#parsed`). */
  #dropOpenedKeys(): void {
    for (const file of this.#parsed.keys())
      if (path.basename(path.dirname(file)) === 'keys') this.#parsed.delete(file);
    this.#openedUnder = undefined;
    this.#material = undefined;
  }

  /** The keys that seal and open key files: derived once while the keyring holds the same keys; undefined when it is locked. */
  #keyMaterial(): KeyMaterial | undefined {
    if (!this.keyring?.unlocked) {
      this.#dropOpenedKeys();
      return undefined;
    }
    const atRest = this.keyring.atRestKeys();
    // Keys opened under other master keys (the keyring locked and opened again since, holding
    // others) are not served: each is opened again, under the keys held now.
    const held = createHash('sha256');
    for (const k of atRest) held.update(k.keyId).update(k.key);
    const heldNow = held.digest('hex');
    if (heldNow !== this.#openedUnder) this.#dropOpenedKeys();
    else if (this.#material) return this.#material;
    this.#openedUnder = heldNow;
    const open = new Map(atRest.map((k) => [k.keyId, sealingKey(k.key)]));
    const oldest = atRest[0];
    if (!oldest) return undefined;
    this.#material = {
      seal: { keyId: oldest.keyId, key: open.get(oldest.keyId)! },
      open,
      legacy: atRest.map((k) => k.key),
      legacyIds: atRest.map((k) => k.keyId),
    };
    return this.#material;
  }

  async #read(
    file: string,
    options: { readonly maxBytes?: number } = {},
  ): Promise<{ data: Uint8Array; modified: number; identity: string }> {
    const { data, st, repaired } = readPrivateFile(file, options);
    if (repaired) this.#repaired(repaired);
    return { data, modified: Number(st.mtimeMs), identity: identityOf(st) };
  }

  /**
   * `parse` of a file's bytes, or what it made of them at an earlier listing while the file is
   * unchanged (`#parsed`). A file that is not a regular owner-only file is read as before, which
   * reports it or repairs its mode. `parse` failing is not kept: the file is read again next time.
   */
  async #readParsed<T>(
    file: string,
    parse: (data: Uint8Array) => T | Promise<T>,
    options: { readonly maxBytes?: number } = {},
  ): Promise<{ value: T; modified: number }> {
    this.#seen.add(file);
    const st = lstatQuiet(file);
    const known = this.#parsed.get(file);
    if (
      known !== undefined &&
      st?.isFile() &&
      !exposed(Number(st.mode)) &&
      known.identity === identityOf(st)
    ) {
      return { value: known.value as T, modified: Number(st.mtimeMs) };
    }
    const read = await this.#read(file, options);
    const value = await parse(read.data);
    this.#parsed.set(file, { identity: read.identity, value });
    return { value, modified: read.modified };
  }

  /** Writes `file` atomically: durably now, or held in the batch; `then` runs once it is in place. */
  async #write(
    file: string,
    data: Uint8Array,
    modified: number,
    durable: boolean,
    then?: () => Promise<unknown>,
    chain?: string,
  ): Promise<void> {
    if (durable) {
      await writeFileAtomic(file, data, 0o600, { modified });
      await then?.();
      return;
    }
    // The batch of this write's folder check, or a new one if another write flushed it meanwhile
    // (a durable write of another request, in the agent): never a batch already committed.
    this.#batch ??= { writes: new AtomicWriteBatch(), folders: new Map() };
    await this.#batch.writes.write(file, data, {
      modified,
      ...(then ? { afterRename: async () => void (await then()) } : {}),
      ...(chain === undefined ? {} : { chain }),
    });
  }

  /**
   * The folder `name`, created if need be, for a write: checked at each durable write, and once
   * per batch for writes held for `flush` (the batch starts here).
   */
  async #writable(name: Folder, durable: boolean): Promise<string> {
    if (durable) return this.#folder(name, { create: true });
    // This batch, held across the check: a flush meanwhile (another request's durable write) ends
    // it, and the write then starts a new one (`#write`); the check still holds for the folder.
    this.#batch ??= { writes: new AtomicWriteBatch(), folders: new Map() };
    const batch = this.#batch;
    const known = batch.folders.get(name);
    if (known !== undefined) return known;
    const dir = await this.#folder(name, { create: true });
    batch.folders.set(name, dir);
    return dir;
  }

  /**
   * The path of one of the store's folders, checked (see `checkFolder`): the store folder first,
   * then the folder itself; created 0700 with `create`, else undefined when missing. A link is an
   * error (E_STORE_LINK) and an event; a mode others could use is repaired, with an event.
   */
  #folder(name: Folder, options: { readonly create: true }): Promise<string>;
  #folder(
    name: Folder,
    options: { readonly create: boolean; readonly repair?: boolean },
  ): Promise<string | undefined>;
  async #folder(
    name: Folder,
    options: { readonly create: boolean; readonly repair?: boolean },
  ): Promise<string | undefined> {
    // The folder that holds the store (the endpoint's home) is not the store's: created if need be.
    if (options.create) await mkdir(path.dirname(this.root), { recursive: true, mode: 0o700 });
    const chain: Folder[] = name === '' ? [''] : ['', name];
    let dir: string | undefined;
    for (const step of chain) {
      dir = path.join(this.root, step);
      let found: Awaited<ReturnType<typeof checkFolder>>;
      try {
        found = await checkFolder(dir, { create: options.create, repair: options.repair ?? true });
      } catch (error) {
        if (error instanceof CredroamError && error.code.startsWith('E_STORE_')) {
          this.#logger?.log('error', EventId.StoreFolderRefused, error.message, { path: dir });
        }
        throw error;
      }
      if (found === undefined) return undefined;
      if (found.repaired) this.#repaired(found.repaired);
    }
    return dir;
  }

  #repaired(repair: ModeRepair): void {
    const name = path.relative(path.dirname(this.root), repair.path);
    this.#logger?.log('warn', EventId.StoreModeRepaired, describeRepair(repair, name), {
      path: repair.path,
      was: repair.was & 0o7777,
      now: repair.now,
    });
  }

  /**
   * The names in one of the store's folders (checked); none when it is missing. With `repair`,
   * the temporary files a killed write left there long ago are removed.
   */
  async #names(dir: Folder, options: { readonly repair: boolean }): Promise<string[]> {
    const folder = await this.#folder(dir, { create: false, repair: options.repair });
    if (folder === undefined) return [];
    const all = await readdir(folder);
    if (options.repair) await this.#purgeTemporaries(folder, all);
    return all.filter((n) => !n.startsWith('.'));
  }

  /** Removes temporary files of writes that never finished (their process was killed) in `folder`. */
  async #purgeTemporaries(folder: string, names: readonly string[]): Promise<void> {
    const now = this.#now();
    for (const name of names) {
      if (!TEMPORARY_NAME.test(name)) continue;
      const file = path.join(folder, name);
      const st = await lstat(file).catch(() => undefined);
      // The change time, not the modification time: a write dates its file with the item's time.
      if (st?.isFile() && now - st.ctimeMs > STALE_TEMPORARY_MS) await unlink(file).catch(() => undefined);
    }
  }

  /** Drops removed credentials whose keep-until time has passed. */
  async #purgeRemoved(now = Date.now()): Promise<void> {
    for (const name of await this.#names('removed', { repair: true })) {
      const until = Number(name.split('-', 1)[0]);
      if (Number.isFinite(until) && until < now)
        await rm(path.join(this.root, 'removed', name), { force: true });
    }
  }
}
