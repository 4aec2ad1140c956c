import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import {
  CredroamError,
  EventId,
  type LocalItem,
  type LocalListing,
  type LocalStore,
  type Logger,
  type TokenKind,
  type UnreadableItem,
} from '@credroam/core/api';
import {
  decodeCredentialAttributes,
  describeCertificate,
  encodeCredentialAttributes,
  friendlyNameProblem,
  readFileNoFollow,
  writeFileAtomic,
} from '@credroam/core/kit';
import type { Pkcs12Api } from '@credroam/plugin-pkcs12';
import lockfile from 'proper-lockfile';
import {
  type CertRow,
  type KeyRow,
  NssTools,
  parseCertList,
  parseKeyList,
  pemCertificates,
  requestSpki,
  type ToolResult,
  transferPassword,
  withSecretFiles,
} from './nss-tools.js';

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');
const HEX64 = /^[0-9a-f]{64}$/;

/** The PKCS#12 reader and writer of the pkcs12 plugin (no second PKCS#12 parser here). */
export type Pkcs12Codec = Pick<Pkcs12Api, 'readCredentials' | 'writePkcs12'>;

export interface NssStoreOptions {
  /** The NSS database folder (holding `cert9.db` and `key4.db`). */
  readonly database: string;
  /**
   * The store's own folder for this database (0700): its state, its lock, and `removed/`, the
   * copies a roamed deletion keeps. A mirror of the same database would have its own.
   */
  readonly stateDir: string;
  readonly pkcs12: Pkcs12Codec;
  /** A file holding the database's password (first line), for a database that has one. */
  readonly passwordFile?: string;
  /** Creates an empty database (no password) where there is none (default true). */
  readonly create?: boolean;
  readonly tools?: NssTools;
  readonly logger?: Logger;
}

/** What the store remembers of what it put in the database (`state.json`, 0600). */
interface StoreState {
  readonly v: 1;
  /** Certificates credroam put, by id: listed even without a key; their `archived` flag. */
  certs: Record<string, { modified: number; archived: boolean }>;
  /** Keys credroam put, by id (SPKI SHA-256): when. */
  keys: Record<string, { modified: number }>;
  /** Attributes credroam put, by certificate id: the canonical document (base64) and when. */
  attrs: Record<string, { doc: string; modified: number }>;
  /** The nickname credroam gave each certificate it put: another one means the user renamed it. */
  nicknames: Record<string, string>;
}

const emptyState = (): StoreState => ({ v: 1, certs: {}, keys: {}, attrs: {}, nicknames: {} });

/** One certificate in the database. */
interface DbCert {
  readonly nickname: string;
  readonly trust: string;
  readonly der: Uint8Array;
  readonly id: string;
  /** SHA-256 of its SubjectPublicKeyInfo: the id its private key has. */
  readonly spkiId?: string;
}

/** One private key in the database; `id` when its public key could be told. */
interface DbKey extends KeyRow {
  readonly id?: string;
  readonly problem?: string;
}

interface Scan {
  readonly certs: DbCert[];
  readonly keys: DbKey[];
  readonly unreadable: UnreadableItem[];
}

/** Certificates whose deletion needs others with the same nickname put back (see `#deleteCert`). */
interface Journal {
  readonly nickname: string;
  readonly certs: readonly { readonly der: string; readonly trust: string }[];
}

/**
 * Refuses (E_NSS_DATABASE) a database folder or file another user owns or can write, and a
 * key4.db others can read: a browser makes its database 0700/0600, and a key put into one that
 * another user reaches (a profile folder elsewhere, named by profiles.ini or the settings) would be
 * theirs. Where the process has no uid (not POSIX), nothing is checked.
 */
function reachedByOthers(
  file: string,
  st: { readonly uid: number; readonly mode: number },
  what: 'folder' | 'file' | 'keys',
): void {
  const uid = process.getuid?.();
  if (uid === undefined) return;
  const refuse = (why: string) => {
    throw new CredroamError(
      'E_NSS_DATABASE',
      `${file} ${why}: credroam puts no credential where another user reaches it (the owner's alone: folder 0700, files 0600)`,
      { path: file },
    );
  };
  const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
  if (st.uid !== uid) refuse(`is owned by uid ${st.uid}, not by this user (uid ${uid})`);
  if ((st.mode & 0o022) !== 0) refuse(`can be written by other users (mode ${mode})`);
  if (what === 'keys' && (st.mode & 0o044) !== 0) refuse(`can be read by other users (mode ${mode})`);
}

/** NSS nicknames: no `:` (it separates a token name), no control characters, bounded. */
export function cleanNickname(name: string): string {
  const cleaned = name
    .normalize('NFC')
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, '')
    .replace(/:/g, '_')
    .replace(/\s+/g, ' ')
    .trim();
  return [...cleaned].slice(0, 64).join('').trim() || 'credroam';
}

/**
 * An NSS database as the user's local store: what Chromium, Firefox and Thunderbird read.
 * Everything goes through NSS's own `certutil` and `pk12util` (Debian's libnss3-tools).
 *
 * - Credentials: the certificates that have their private key in the database, plus those
 *   credroam put (a certificate roamed without a key). Trust-only entries (CA certificates with
 *   trust flags) are not credentials: they are neither listed nor touched.
 * - Keys: exported with `pk12util -o` (cert and key as PKCS#12, read with the pkcs12 plugin's
 *   reader) and imported with `pk12util -i` (a PKCS#12 made by its writer); each key's id, the
 *   SHA-256 of its public key, comes from the certificate or, for a key without one, from a
 *   request `certutil -R` signs with it.
 * - Attributes: the friendly name is the certificate's nickname; the chain goes in as CA
 *   certificates without trust flags. What credroam put is kept in its state file, so what it
 *   lists is what it was given; a nickname the user changed lists as a new name.
 * - Passwords (the database's, each transfer file's) go to the tools in files, owner-only, in a
 *   private folder removed after each run; never in an argument list.
 * - A key put before its certificate waits in memory (`E_NSS_KEY_WAITS`: NSS keeps a key with its
 *   certificate) and goes in with it; one whose certificate never comes (in this process) is not
 *   stored. A key whose certificate is already in the database goes in at once.
 * - `remove` with `keepUntil` keeps the certificate (DER), key (PKCS#8, encrypted under the
 *   database password when there is one) and attributes in `removed/`, owner-only.
 */
export class NssStore implements LocalStore {
  readonly database: string;
  readonly stateDir: string;
  readonly #pkcs12: Pkcs12Codec;
  readonly #passwordFile: string | undefined;
  readonly #create: boolean;
  readonly #tools: NssTools;
  readonly #logger: Logger | undefined;
  /** Keys put before their certificate, by id: they go in with it. */
  readonly #waiting = new Map<string, LocalItem>();
  /** Keys read out of the database, by id: exported once per process. */
  readonly #keyCache = new Map<string, Uint8Array>();
  /** Each key's id by its CKA_ID (fixed by its public key). */
  readonly #ckaids = new Map<string, string>();
  /** When an item not put by credroam was first seen (a stable `modified`). */
  readonly #firstSeen = new Map<string, number>();
  #tail: Promise<unknown> = Promise.resolve();

  constructor(options: NssStoreOptions) {
    this.database = options.database;
    this.stateDir = options.stateDir;
    this.#pkcs12 = options.pkcs12;
    this.#passwordFile = options.passwordFile;
    this.#create = options.create ?? true;
    this.#tools = options.tools ?? new NssTools();
    this.#logger = options.logger;
  }

  /** What a watcher should watch to see changes made by other programs (a browser's import). */
  watchPaths(): string[] {
    return [this.database];
  }

  async revision(): Promise<string> {
    const hash = createHash('sha256');
    const files = ['cert9.db', 'key4.db'].flatMap((f) =>
      ['', '-journal', '-wal'].map((s) => path.join(this.database, `${f}${s}`)),
    );
    for (const file of [...files, path.join(this.stateDir, 'state.json')]) {
      const st = await lstat(file, { bigint: true }).catch(() => undefined);
      hash.update(`${file}:${st?.size ?? -1}:${st?.mtimeNs ?? -1}:${st?.ino ?? -1}\n`);
    }
    return hash.digest('hex');
  }

  /** Under the store's lock too: a listing never sees another process's put or remove half-done. */
  list(): Promise<LocalListing> {
    return this.#exclusive(() => this.#list());
  }

  put(item: LocalItem): Promise<void> {
    return this.#exclusive(async () => {
      if (item.kind === 'cert') return this.#putCert(item);
      if (item.kind === 'key') return this.#putKey(item);
      return this.#putAttributes(item);
    });
  }

  remove(kind: TokenKind, id: string, options: { readonly keepUntil?: number } = {}): Promise<void> {
    return this.#exclusive(async () => {
      if (kind === 'cert') await this.#removeCert(id, options.keepUntil);
      else if (kind === 'key') await this.#removeKey(id, options.keepUntil);
      else await this.#removeAttributes(id, options.keepUntil);
      await this.#purgeRemoved();
    });
  }

  // --- listing -------------------------------------------------------------------------------

  async #list(): Promise<LocalListing> {
    const scan = await this.#scan({ keys: true });
    const state = await this.#loadState();
    const items: LocalItem[] = [];
    const unreadable = [...scan.unreadable];
    const keyed = new Map<string, DbKey>();
    for (const k of scan.keys) if (k.id) keyed.set(k.id, k);
    const certTime = await this.#mtime('cert9.db');
    const keyTime = await this.#mtime('key4.db');
    const seen = (key: string, fallback: number) => {
      if (!this.#firstSeen.has(key)) this.#firstSeen.set(key, fallback);
      return this.#firstSeen.get(key)!;
    };

    const credentials = scan.certs.filter(
      (c) => state.certs[c.id] !== undefined || (c.spkiId !== undefined && keyed.has(c.spkiId)),
    );
    const listed = new Set<string>();
    for (const c of credentials) {
      if (listed.has(c.id)) continue;
      listed.add(c.id);
      const mine = state.certs[c.id];
      items.push({
        kind: 'cert',
        id: c.id,
        content: c.der,
        archived: mine?.archived ?? false,
        modified: mine?.modified ?? seen(`cert:${c.id}`, certTime),
      });
      const attrs = this.#attributesOf(c, state);
      if (attrs) {
        items.push({
          kind: 'attrs',
          id: c.id,
          content: attrs.content,
          archived: false,
          modified: attrs.modified ?? seen(`attrs:${c.id}:${c.nickname}`, certTime),
        });
      }
    }

    // Keys: each certificate that has one; exported by nickname, once per process.
    const withKey = credentials.filter((c) => c.spkiId !== undefined && keyed.has(c.spkiId));
    const toExport = new Set(withKey.filter((c) => !this.#keyCache.has(c.spkiId!)).map((c) => c.nickname));
    const failed = new Map<string, string>();
    for (const nickname of toExport) {
      try {
        for (const [id, pkcs8] of await this.#exportKeys(nickname)) this.#keyCache.set(id, pkcs8);
      } catch (error) {
        failed.set(nickname, (error as Error).message);
      }
    }
    const keysListed = new Set<string>();
    for (const c of withKey) {
      const id = c.spkiId!;
      if (keysListed.has(id)) continue;
      keysListed.add(id);
      const content = this.#keyCache.get(id);
      if (content === undefined) {
        unreadable.push({
          name: `the private key of "${c.nickname}"`,
          kind: 'key',
          id,
          reason: failed.get(c.nickname) ?? 'pk12util did not export it',
        });
        continue;
      }
      items.push({
        kind: 'key',
        id,
        content,
        archived: false,
        modified: state.keys[id]?.modified ?? seen(`key:${id}`, keyTime),
      });
    }

    // A key without a certificate: NSS exports a key only with its certificate. Reported, left alone.
    const spkis = new Set(scan.certs.map((c) => c.spkiId).filter((s) => s !== undefined));
    for (const k of scan.keys) {
      if (k.id !== undefined && spkis.has(k.id)) continue;
      unreadable.push({
        name: `key ${k.ckaid} ("${k.label}")`,
        ...(k.id ? { kind: 'key' as const, id: k.id } : {}),
        reason:
          k.problem ??
          'a private key without its certificate: NSS exports a key only with its certificate (left alone)',
      });
    }
    return { items, unreadable };
  }

  /** A certificate's attributes as listed: what credroam put, with the nickname the user gave since. */
  #attributesOf(c: DbCert, state: StoreState): { content: Uint8Array; modified?: number } | undefined {
    const stored = state.attrs[c.id];
    const given = state.nicknames[c.id];
    const renamed = given !== undefined && given !== c.nickname && !friendlyNameProblem(c.nickname);
    if (stored) {
      const content = new Uint8Array(Buffer.from(stored.doc, 'base64'));
      if (!renamed) return { content, modified: stored.modified };
      const doc = decodeCredentialAttributes(content);
      return { content: encodeCredentialAttributes({ ...doc, friendlyName: c.nickname }) };
    }
    // A certificate credroam put without a name keeps the one credroam made up, unless renamed.
    if (state.certs[c.id] !== undefined && !renamed) return undefined;
    if (friendlyNameProblem(c.nickname)) return undefined;
    return { content: encodeCredentialAttributes({ cert: c.id, friendlyName: c.nickname, chain: [] }) };
  }

  /** The certificates (and with `keys`, the private keys) in the database. */
  async #scan(options: { readonly keys: boolean }): Promise<Scan> {
    const unreadable: UnreadableItem[] = [];
    const listing = await this.#certutil(['-L', '-d', this.#db()]);
    const { rows, odd } = parseCertList(listing.stdout.toString('utf8'));
    for (const line of odd) {
      unreadable.push({
        name: `certutil -L: "${line.slice(0, 80)}"`,
        reason: 'not a nickname and trust flags',
      });
    }
    const certs: DbCert[] = [];
    const trustOf = new Map<string, string>();
    for (const r of rows) trustOf.set(r.nickname, r.trust);
    for (const nickname of new Set(rows.map((r: CertRow) => r.nickname))) {
      const out = await this.#tools.run('certutil', ['-L', '-d', this.#db(), '-n', nickname, '-a']);
      if (out.code !== 0) {
        unreadable.push({
          name: `certificate "${nickname}"`,
          reason: `certutil cannot read it by its nickname: ${firstLine(out)}`,
        });
        continue;
      }
      for (const der of pemCertificates(out.stdout.toString('utf8'))) {
        const id = sha256(der);
        try {
          // describeCertificate, not X509Certificate: a certificate a stricter OpenSSL refuses but
          // another endpoint's reads is read from its structure, as every endpoint reads it.
          const described = describeCertificate(der);
          // A public key Node cannot read: the certificate cannot be matched with a key.
          const spkiId = described.unreadable.includes('publicKey') ? undefined : described.keyId;
          certs.push({
            nickname,
            trust: trustOf.get(nickname) ?? ',,',
            der,
            id,
            ...(spkiId ? { spkiId } : {}),
          });
        } catch (error) {
          unreadable.push({
            name: `certificate "${nickname}"`,
            kind: 'cert',
            id,
            reason: `not a certificate credroam reads: ${(error as Error).message}`,
          });
        }
      }
    }
    return { certs, keys: options.keys ? await this.#keys() : [], unreadable };
  }

  /** `certutil -K`, each key's id learned from a request it signs (`certutil -R`), once per process. */
  async #keys(): Promise<DbKey[]> {
    return this.#withPasswords({}, async (files, dir) => {
      const out = await this.#tools.run('certutil', ['-K', '-d', this.#db(), '-f', files.db!]);
      this.#checkPassword(out);
      if (out.code !== 0) {
        if (/no keys found/i.test(`${out.stderr}${out.stdout.toString('utf8')}`)) return [];
        throw toolError('certutil -K', out);
      }
      const keys: DbKey[] = [];
      for (const row of parseKeyList(out.stdout.toString('utf8'))) {
        let id = this.#ckaids.get(row.ckaid);
        if (id === undefined) {
          const request = path.join(dir, `${row.ckaid}.csr`);
          const made = await this.#tools.run('certutil', [
            '-R',
            '-d',
            this.#db(),
            '-k',
            row.ckaid,
            '-s',
            'CN=credroam key id',
            '-f',
            files.db!,
            '-z',
            '/dev/urandom',
            '-o',
            request,
          ]);
          this.#checkPassword(made);
          try {
            if (made.code !== 0) throw new Error(firstLine(made));
            id = sha256(requestSpki(new Uint8Array(await readFile(request))));
            this.#ckaids.set(row.ckaid, id);
          } catch (error) {
            const problem = `NSS does not tell its public key (certutil -R): ${(error as Error).message}`;
            keys.push({ ...row, problem });
            continue;
          }
        }
        keys.push({ ...row, id });
      }
      return keys;
    });
  }

  /** Exports the certificates of one nickname with their keys: each key's id and PKCS#8. */
  async #exportKeys(nickname: string): Promise<Map<string, Uint8Array>> {
    const password = transferPassword();
    const p12 = await this.#withPasswords({ p12: password }, async (files, dir) => {
      const file = path.join(dir, 'export.p12');
      const out = await this.#tools.run('pk12util', [
        '-o',
        file,
        '-n',
        nickname,
        '-d',
        this.#db(),
        '-k',
        files.db!,
        '-w',
        files.p12!,
      ]);
      this.#checkPassword(out);
      if (out.code !== 0) throw toolError('pk12util -o', out);
      return new Uint8Array(await readFile(file));
    });
    const read = await this.#pkcs12.readCredentials([p12], password);
    const keys = new Map<string, Uint8Array>();
    for (const c of read.credentials) if (c.key) keys.set(keyIdOf(c.key), c.key);
    return keys;
  }

  // --- writing -------------------------------------------------------------------------------

  async #putCert(item: LocalItem): Promise<void> {
    if (sha256(item.content) !== item.id) throw new Error(`the certificate's SHA-256 is not ${item.id}`);
    const described = describeCertificate(item.content);
    const state = await this.#loadState();
    const scan = await this.#scan({ keys: false });
    const existing = scan.certs.find((c) => c.id === item.id);
    if (!existing) {
      const attrs = state.attrs[item.id]
        ? decodeCredentialAttributes(Buffer.from(state.attrs[item.id]!.doc, 'base64'))
        : undefined;
      const nickname = this.#uniqueNickname(
        attrs?.friendlyName ?? commonName(described.subject) ?? `credroam ${item.id.slice(0, 12)}`,
        described.subject,
        scan.certs,
      );
      const spkiId = described.keyId;
      const waiting = this.#waiting.get(spkiId);
      if (waiting) {
        await this.#importPkcs12({ cert: item.content, key: waiting.content, friendlyName: nickname });
        this.#waiting.delete(spkiId);
        state.keys[spkiId] = { modified: waiting.modified };
      } else {
        await this.#addCertificate(item.content, nickname, ',,').catch((error: unknown) => {
          const type = keyTypeOf(item.content);
          if (type === 'rsa' || type === 'ec') throw error;
          throw new CredroamError(
            'E_NSS_KEY_TYPE',
            `the NSS database does not take a certificate for a ${type} key (${(error as Error).message}): ` +
              'the credential stays in the directory; use the pkcs12 store for it',
            { kind: 'cert', id: item.id, keyType: type },
          );
        });
      }
      state.nicknames[item.id] = nickname;
      if (attrs) await this.#addChain(attrs.chain, scan.certs);
    }
    state.certs[item.id] = { modified: item.modified, archived: item.archived };
    await this.#saveState(state);
  }

  async #putKey(item: LocalItem): Promise<void> {
    if (keyIdOf(item.content) !== item.id) throw new Error(`the key's public key SHA-256 is not ${item.id}`);
    const scan = await this.#scan({ keys: true });
    const cert = scan.certs.find((c) => c.spkiId === item.id);
    if (!cert) {
      this.#waiting.set(item.id, item);
      throw new CredroamError(
        'E_NSS_KEY_WAITS',
        `private key ${item.id} waits for its certificate: NSS keeps a key only with its certificate, so it goes in when the certificate is put; ` +
          'if the certificate never comes, the key is not stored: import the certificate with its key (PKCS#12, or PEM certificate and key)',
        { kind: 'key', id: item.id },
      );
    }
    const state = await this.#loadState();
    if (!scan.keys.some((k) => k.id === item.id)) {
      await this.#importPkcs12({ cert: cert.der, key: item.content, friendlyName: cert.nickname });
      this.#keyCache.set(item.id, item.content);
    }
    state.keys[item.id] = { modified: item.modified };
    await this.#saveState(state);
  }

  async #putAttributes(item: LocalItem): Promise<void> {
    const attrs = decodeCredentialAttributes(item.content);
    if (attrs.cert !== item.id)
      throw new Error(`the attributes name certificate ${attrs.cert}, not ${item.id}`);
    const state = await this.#loadState();
    state.attrs[item.id] = { doc: Buffer.from(item.content).toString('base64'), modified: item.modified };
    const scan = await this.#scan({ keys: false });
    const cert = scan.certs.find((c) => c.id === item.id);
    if (cert) {
      let nickname = cert.nickname;
      if (attrs.friendlyName !== undefined && cleanNickname(attrs.friendlyName) !== cert.nickname) {
        const subject = describeCertificate(cert.der).subject;
        nickname = this.#uniqueNickname(attrs.friendlyName, subject, scan.certs);
        const out = await this.#tools.run('certutil', [
          '--rename',
          '-n',
          cert.nickname,
          '--new-n',
          nickname,
          '-d',
          this.#db(),
        ]);
        if (out.code !== 0) throw toolError('certutil --rename', out);
      }
      state.nicknames[item.id] = nickname;
      await this.#addChain(attrs.chain, scan.certs);
    }
    await this.#saveState(state);
  }

  /** CA certificates of a chain not in the database yet, without trust flags (they are not trusted for it). */
  async #addChain(chain: readonly Uint8Array[], present: readonly DbCert[]): Promise<void> {
    const have = new Set(present.map((c) => c.id));
    const taken = [...present];
    for (const der of chain) {
      if (have.has(sha256(der))) continue;
      const subject = describeCertificate(der).subject;
      const nickname = this.#uniqueNickname(commonName(subject) ?? 'CA', subject, taken);
      await this.#addCertificate(der, nickname, ',,');
      taken.push({ nickname, trust: ',,', der, id: sha256(der) });
    }
  }

  async #addCertificate(der: Uint8Array, nickname: string, trust: string): Promise<void> {
    await withSecretFiles(this.stateDir, { 'cert.der': der }, async (files) => {
      const out = await this.#tools.run('certutil', [
        '-A',
        '-d',
        this.#db(),
        '-n',
        nickname,
        '-t',
        trust,
        '-i',
        files['cert.der']!,
      ]);
      if (out.code !== 0) throw toolError('certutil -A', out);
    });
  }

  async #importPkcs12(credential: {
    cert: Uint8Array;
    key: Uint8Array;
    friendlyName: string;
  }): Promise<void> {
    const type = createPrivateKey({
      key: Buffer.from(credential.key),
      format: 'der',
      type: 'pkcs8',
    }).asymmetricKeyType;
    if (type !== 'rsa' && type !== 'ec') {
      throw new CredroamError(
        'E_NSS_KEY_TYPE',
        `the NSS database cannot hold a private key of type ${type} (NSS's pk12util imports RSA and EC keys): ` +
          'the credential stays in the directory; use the pkcs12 store for it',
        { kind: 'key', keyType: type },
      );
    }
    const password = transferPassword();
    const p12 = await this.#pkcs12.writePkcs12(credential, password);
    await this.#withPasswords({ p12: password, 'import.p12': p12 }, async (files) => {
      const out = await this.#tools.run('pk12util', [
        '-i',
        files['import.p12']!,
        '-d',
        this.#db(),
        '-k',
        files.db!,
        '-w',
        files.p12!,
      ]);
      this.#checkPassword(out);
      if (out.code !== 0) throw toolError('pk12util -i', out);
    });
  }

  // --- removing ------------------------------------------------------------------------------

  async #removeCert(id: string, keepUntil: number | undefined): Promise<void> {
    const state = await this.#loadState();
    const scan = await this.#scan({ keys: true });
    const cert = scan.certs.find((c) => c.id === id);
    if (keepUntil !== undefined) {
      if (cert) await this.#keep(keepUntil, 'cert', id, '.der', cert.der);
      if (state.attrs[id]) {
        await this.#keep(keepUntil, 'attrs', id, '.json', Buffer.from(state.attrs[id]!.doc, 'base64'));
      }
    }
    if (cert) {
      // Its key stays (a separate item), without its certificate: NSS can no longer export it,
      // so a copy is kept now for the key's own removal.
      const key = cert.spkiId ? scan.keys.find((k) => k.id === cert.spkiId) : undefined;
      if (key && keepUntil !== undefined) {
        const pkcs8 = this.#keyCache.get(key.id!) ?? (await this.#exportKeys(cert.nickname)).get(key.id!);
        if (pkcs8) await this.#keep(keepUntil, 'key', key.id!, '.p8', await this.#atRest(pkcs8));
      }
      await this.#deleteCert(cert, scan.certs);
    }
    delete state.certs[id];
    delete state.attrs[id];
    delete state.nicknames[id];
    await this.#saveState(state);
  }

  async #removeKey(id: string, keepUntil: number | undefined): Promise<void> {
    const state = await this.#loadState();
    const scan = await this.#scan({ keys: true });
    const key = scan.keys.find((k) => k.id === id);
    this.#waiting.delete(id);
    if (key) {
      const cert = scan.certs.find((c) => c.spkiId === id);
      if (keepUntil !== undefined) {
        const pkcs8 =
          this.#keyCache.get(id) ?? (cert ? (await this.#exportKeys(cert.nickname)).get(id) : undefined);
        if (pkcs8) await this.#keep(keepUntil, 'key', id, '.p8', await this.#atRest(pkcs8));
        else if (!(await this.#kept('key', id))) {
          throw new CredroamError(
            'E_NSS_TOOL',
            `private key ${id} has no certificate in the NSS database, so NSS cannot export a copy to keep: left in place`,
            { kind: 'key', id },
          );
        }
      }
      await this.#withPasswords({}, async (files) => {
        const out = await this.#tools.run('certutil', [
          '-F',
          '-d',
          this.#db(),
          '-k',
          key.ckaid,
          '-f',
          files.db!,
        ]);
        this.#checkPassword(out);
        if (out.code !== 0) throw toolError('certutil -F', out);
      });
      this.#keyCache.delete(id);
      if (cert) {
        // The certificate stays a credential of its own (a certificate without a key), listed as before.
        const after = await this.#scan({ keys: false });
        if (!after.certs.some((c) => c.id === cert.id))
          await this.#addCertificate(cert.der, cert.nickname, ',,');
        state.certs[cert.id] ??= {
          modified: this.#firstSeen.get(`cert:${cert.id}`) ?? Date.now(),
          archived: false,
        };
        state.nicknames[cert.id] ??= cert.nickname;
      }
    }
    delete state.keys[id];
    await this.#saveState(state);
  }

  async #removeAttributes(id: string, keepUntil: number | undefined): Promise<void> {
    const state = await this.#loadState();
    const stored = state.attrs[id];
    if (stored && keepUntil !== undefined) {
      await this.#keep(keepUntil, 'attrs', id, '.json', Buffer.from(stored.doc, 'base64'));
    }
    delete state.attrs[id];
    await this.#saveState(state);
  }

  /**
   * Deletes one certificate. `certutil -D -n` deletes one of the certificates with that nickname
   * (NSS gives every certificate of a subject one nickname), not a chosen one: when there are
   * several, all go and the others come back, from a journal written first (`#recover` finishes a
   * run that was cut short).
   */
  async #deleteCert(cert: DbCert, all: readonly DbCert[]): Promise<void> {
    const group = all.filter((c) => c.nickname === cert.nickname);
    const others = group.filter((c) => c.id !== cert.id);
    const journal = path.join(this.stateDir, 'journal.json');
    if (others.length > 0) {
      const entry: Journal = {
        nickname: cert.nickname,
        certs: others.map((c) => ({ der: Buffer.from(c.der).toString('base64'), trust: c.trust })),
      };
      await writeFileAtomic(journal, new TextEncoder().encode(JSON.stringify(entry)), 0o600);
    }
    for (let i = 0; i < group.length; i++) {
      const out = await this.#tools.run('certutil', ['-D', '-d', this.#db(), '-n', cert.nickname]);
      if (out.code !== 0) {
        if (i > 0) break;
        throw toolError('certutil -D', out);
      }
      if (others.length === 0) break;
    }
    if (others.length > 0) await this.#recover();
  }

  /** Puts back certificates a deletion took out with the one it deleted (see `#deleteCert`). */
  async #recover(options: { readonly cutShort?: boolean } = {}): Promise<void> {
    const file = path.join(this.stateDir, 'journal.json');
    const data = await readFile(file).catch(() => undefined);
    if (data === undefined) return;
    if (options.cutShort) {
      this.#logger?.log(
        'warn',
        EventId.NssRemovalFinished,
        `a removal from ${this.database} was cut short: the certificates it took out with the one removed are put back`,
        { path: this.database },
      );
    }
    const journal = JSON.parse(data.toString('utf8')) as Journal;
    const present = new Set((await this.#scan({ keys: false })).certs.map((c) => c.id));
    for (const c of journal.certs) {
      const der = new Uint8Array(Buffer.from(c.der, 'base64'));
      if (present.has(sha256(der))) continue;
      await this.#addCertificate(der, journal.nickname, c.trust.replace(/u/g, ''));
    }
    await rm(file, { force: true });
  }

  /** `removed/<keepUntil>-<kind>-<id><ext>`, owner-only. */
  async #keep(keepUntil: number, kind: TokenKind, id: string, ext: string, data: Uint8Array): Promise<void> {
    const dir = path.join(this.stateDir, 'removed');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(path.join(dir, `${keepUntil}-${kind}-${id}${ext}`), data, 0o600);
  }

  async #kept(kind: TokenKind, id: string): Promise<boolean> {
    const names = await readdir(path.join(this.stateDir, 'removed')).catch(() => [] as string[]);
    return names.some((n) => n.includes(`-${kind}-${id}.`));
  }

  /** A kept key: PKCS#8 as the database holds it, encrypted under its password when it has one. */
  async #atRest(pkcs8: Uint8Array): Promise<Uint8Array> {
    const password = await this.#databasePassword();
    if (password === '') return pkcs8;
    return new Uint8Array(
      createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' }).export({
        type: 'pkcs8',
        format: 'der',
        cipher: 'aes-256-cbc',
        passphrase: password,
      }),
    );
  }

  async #purgeRemoved(now = Date.now()): Promise<void> {
    const dir = path.join(this.stateDir, 'removed');
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const until = Number(name.split('-', 1)[0]);
      if (Number.isFinite(until) && until < now) await rm(path.join(dir, name), { force: true });
    }
  }

  // --- the database, the state, passwords, locks -----------------------------------------------

  #db(): string {
    return `sql:${this.database}`;
  }

  /** Checks the database folder and files (no links); creates an empty database where there is none. */
  async #openDatabase(): Promise<void> {
    const st = await lstat(this.database).catch(() => undefined);
    if (st?.isSymbolicLink() || (st && !st.isDirectory())) {
      throw new CredroamError(
        'E_NSS_DATABASE',
        `${this.database} is ${st.isSymbolicLink() ? 'a link' : 'not a folder'}, where the NSS database should be: give the real folder in the store's database setting`,
        { path: this.database },
      );
    }
    if (st) reachedByOthers(this.database, st, 'folder');
    for (const name of ['cert9.db', 'key4.db']) {
      const f = await lstat(path.join(this.database, name)).catch(() => undefined);
      if (f && !f.isFile()) {
        throw new CredroamError(
          'E_NSS_DATABASE',
          `${path.join(this.database, name)} is not a regular file (a link?): credroam does not write through it`,
          { path: path.join(this.database, name) },
        );
      }
      if (f) reachedByOthers(path.join(this.database, name), f, name === 'key4.db' ? 'keys' : 'file');
    }
    const exists = await lstat(path.join(this.database, 'cert9.db')).catch(() => undefined);
    if (exists) return;
    if (await lstat(path.join(this.database, 'cert8.db')).catch(() => undefined)) {
      // A legacy (Berkeley DB) database: a new one beside it would hide what it holds.
      throw new CredroamError(
        'E_NSS_DATABASE',
        `${this.database} holds a legacy NSS database (cert8.db, key3.db) and no cert9.db: open it once with the ` +
          `application it belongs to, or run certutil -L -d sql:${this.database}, which converts it; then sync again`,
        { path: this.database },
      );
    }
    if (!this.#create) {
      throw new CredroamError(
        'E_NSS_DATABASE',
        `no NSS database in ${this.database} (no cert9.db): start the browser once, or let credroam create it (create: true)`,
        { path: this.database },
      );
    }
    await mkdir(this.database, { recursive: true, mode: 0o700 });
    const out = await this.#tools.run('certutil', ['-N', '--empty-password', '-d', this.#db()]);
    if (out.code !== 0) throw toolError('certutil -N', out);
  }

  async #databasePassword(): Promise<string> {
    if (this.#passwordFile === undefined) return '';
    let data: Uint8Array | undefined;
    try {
      data = await readFileNoFollow(this.#passwordFile, { maxBytes: 4096 });
      if (data === undefined) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
    } catch (error) {
      throw new CredroamError(
        'E_SECRET',
        `cannot read the NSS database's password file ${this.#passwordFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        { file: this.#passwordFile },
      );
    }
    return Buffer.from(data).toString('utf8').split(/\r?\n/, 1)[0] ?? '';
  }

  /** Runs `work` with the database password in `files.db` and the other secrets beside it. */
  async #withPasswords<T>(
    extra: Readonly<Record<string, string | Uint8Array>>,
    work: (files: Record<string, string>, dir: string) => Promise<T>,
  ): Promise<T> {
    await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    return withSecretFiles(this.stateDir, { db: await this.#databasePassword(), ...extra }, work);
  }

  #checkPassword(out: ToolResult): void {
    if (/SEC_ERROR_BAD_PASSWORD|could not authenticate|Failed to authenticate/.test(out.stderr)) {
      throw new CredroamError(
        'E_NSS_PASSWORD',
        this.#passwordFile === undefined
          ? `the NSS database ${this.database} has a password: name a file holding it in the store's passwordFile setting (nothing was read or written)`
          : `the password in ${this.#passwordFile} does not open the NSS database ${this.database} (nothing was read or written)`,
        { path: this.database },
      );
    }
  }

  async #certutil(args: readonly string[]): Promise<ToolResult> {
    const out = await this.#tools.run('certutil', args);
    if (out.code !== 0) throw toolError(`certutil ${args[0]}`, out);
    return out;
  }

  async #mtime(name: string): Promise<number> {
    const st = await lstat(path.join(this.database, name)).catch(() => undefined);
    return Math.floor(st?.mtimeMs ?? Date.now());
  }

  async #loadState(): Promise<StoreState> {
    const file = path.join(this.stateDir, 'state.json');
    const data = await readFileNoFollow(file, { maxBytes: 64 * 1024 * 1024 });
    if (data === undefined) return emptyState();
    let state: StoreState;
    try {
      state = JSON.parse(Buffer.from(data).toString('utf8')) as StoreState;
      if (state.v !== 1 || typeof state.certs !== 'object') throw new Error('not a state of this version');
      for (const id of [...Object.keys(state.certs), ...Object.keys(state.attrs)]) {
        if (!HEX64.test(id)) throw new Error(`${id} is not an id`);
      }
    } catch (error) {
      throw new CredroamError(
        'E_STATE',
        `the NSS store's state file ${file} is damaged (${(error as Error).message}): move it aside; ` +
          'certificates credroam put without a key are then listed again after the next sync',
        { file },
      );
    }
    return { ...emptyState(), ...state };
  }

  async #saveState(state: StoreState): Promise<void> {
    await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(
      path.join(this.stateDir, 'state.json'),
      new TextEncoder().encode(JSON.stringify(state)),
      0o600,
    );
  }

  /** A nickname no other subject's certificate has (NSS gives one nickname per subject). */
  #uniqueNickname(wanted: string, subject: string, certs: readonly DbCert[]): string {
    const base = cleanNickname(wanted);
    const taken = new Set(
      certs.filter((c) => describeCertificate(c.der).subject !== subject).map((c) => c.nickname),
    );
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base} (${n})`;
    return name;
  }

  /** One call at a time in this process. */
  #serial<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(work, work);
    this.#tail = result.catch(() => undefined);
    return result;
  }

  /** One read-modify-write at a time, in this process and across processes (a lock in the state folder). */
  #exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.#serial(async () => {
      await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
      await this.#openDatabase();
      let release: () => Promise<void>;
      try {
        release = await lockfile.lock(this.stateDir, {
          lockfilePath: path.join(this.stateDir, 'store.lock'),
          stale: 15_000,
          update: 5_000,
          retries: { retries: 150, minTimeout: 100, maxTimeout: 200 },
          realpath: false,
        });
      } catch (error) {
        throw new CredroamError(
          'E_SYNC_BUSY',
          `another credroam process is writing the NSS database ${this.database} (${this.stateDir}/store.lock)`,
          { file: path.join(this.stateDir, 'store.lock'), cause: (error as Error).message },
        );
      }
      try {
        // Transfer files a killed run left behind (a key in PKCS#12, its password): this process
        // holds the lock, so no other run is using them.
        for (const name of await readdir(this.stateDir)) {
          if (!name.startsWith('.tmp-')) continue;
          await rm(path.join(this.stateDir, name), { recursive: true, force: true });
          this.#logger?.log(
            'warn',
            EventId.NssTransferFilesRemoved,
            `transfer files a killed run left were removed: ${path.join(this.stateDir, name)}`,
            { path: path.join(this.stateDir, name) },
          );
        }
        await this.#recover({ cutShort: true });
        return await work();
      } finally {
        await release().catch(() => undefined);
      }
    });
  }
}

function keyIdOf(pkcs8: Uint8Array): string {
  const spki = createPublicKey(
    createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' }),
  ).export({
    type: 'spki',
    format: 'der',
  });
  return sha256(spki);
}

/** The CN of a subject as `describeCertificate` prints it (`C=DE, O=Example, CN=alice`). */
function commonName(subject: string): string | undefined {
  for (const part of subject.split(', ')) if (part.startsWith('CN=')) return part.slice(3) || undefined;
  return undefined;
}

/** The certificate's key type as Node names it (`rsa`, `ec`, `ed25519`…), or `unknown`. */
function keyTypeOf(der: Uint8Array): string {
  try {
    return new X509Certificate(Buffer.from(der)).publicKey.asymmetricKeyType ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function firstLine(out: ToolResult): string {
  return (
    (out.stderr.trim() || out.stdout.toString('utf8').trim()).split('\n').slice(-1)[0] ?? `exit ${out.code}`
  );
}

function toolError(what: string, out: ToolResult): CredroamError {
  return new CredroamError('E_NSS_TOOL', `${what} failed (exit ${out.code}): ${firstLine(out)}`, {
    tool: what,
  });
}
