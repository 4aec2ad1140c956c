import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import {
  AuthenticationError,
  ConflictError,
  type ContentFacts,
  type ContentInspector,
  type DirectoryChange,
  type DirectorySnapshot,
  type DirectoryStore,
  type LocalItem,
  type LocalListing,
  type LocalStore,
  type PutOptions,
  type TokenKind,
  type TokenProtector,
  type UnreadableItem,
  type ValueChange,
} from '../index.js';

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');
const b64 = (v: Uint8Array): string => Buffer.from(v).toString('base64');

/**
 * Fake credential content for fast engine tests: `name (8 bytes) | notAfter (8 bytes, ms, 0 none) |
 * body`. The id is SHA-256 of the name, so a new body is a new version of the same id.
 */
export function fakeContent(name: string, body: string, notAfter = 0): Uint8Array {
  const out = Buffer.alloc(16 + Buffer.byteLength(body));
  out.write(name.padEnd(8, '_').slice(0, 8), 0, 'latin1');
  out.writeBigUInt64BE(BigInt(notAfter), 8);
  out.write(body, 16);
  return new Uint8Array(out);
}

export class FakeInspector implements ContentInspector {
  inspect(_kind: TokenKind, content: Uint8Array): ContentFacts {
    if (content.length < 16) throw new Error('too short for fake content');
    const notAfter = Number(Buffer.from(content).readBigUInt64BE(8));
    return { id: sha256(content.subarray(0, 8)), ...(notAfter > 0 ? { notAfter } : {}) };
  }
}

export function fakeItem(
  kind: TokenKind,
  name: string,
  body: string,
  modified: number,
  notAfter = 0,
): LocalItem {
  const content = fakeContent(name, body, notAfter);
  return { kind, id: new FakeInspector().inspect(kind, content).id, content, archived: false, modified };
}

/** AES-256-GCM with one key per user: nonce (12) | ciphertext | tag (16). */
export class TestProtector implements TokenProtector {
  constructor(readonly key: Uint8Array = randomBytes(32)) {}

  async seal(input: { kind: TokenKind; payload: Uint8Array; aad: Uint8Array }): Promise<Uint8Array> {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(input.aad);
    const body = Buffer.concat([cipher.update(input.payload), cipher.final()]);
    return new Uint8Array(Buffer.concat([nonce, body, cipher.getAuthTag()]));
  }

  async open(input: { kind: TokenKind; sealed: Uint8Array; aad: Uint8Array }): Promise<Uint8Array> {
    if (input.sealed.length < 28) throw new AuthenticationError('sealed payload too short');
    const s = Buffer.from(input.sealed);
    const decipher = createDecipheriv('aes-256-gcm', this.key, s.subarray(0, 12));
    decipher.setAAD(input.aad);
    decipher.setAuthTag(s.subarray(s.length - 16));
    try {
      return new Uint8Array(
        Buffer.concat([decipher.update(s.subarray(12, s.length - 16)), decipher.final()]),
      );
    } catch {
      throw new AuthenticationError('the token failed authentication');
    }
  }
}

/**
 * A local store in memory; `failNext` makes the next call of a method throw (a crash or a full
 * disk). A `put` with `durable: false` waits in `pending` until `flush` applies it, as a file store
 * holds a batch back: `crashFlush(n)` makes the next flush apply the first `n` and then die (the
 * rest lost, as a process killed in the middle of it), `crashFlush(0)` a kill before any.
 */
export class MemoryLocalStore implements LocalStore {
  readonly items = new Map<string, LocalItem>();
  readonly archive = new Map<string, { item: LocalItem; keepUntil: number | undefined }>();
  readonly unreadable: UnreadableItem[] = [];
  /** Writes held back until `flush` (`put` with `durable: false`). */
  readonly pending: LocalItem[] = [];
  /** Calls of `flush` that applied something. */
  flushes = 0;
  #revision = 0;
  #crashFlushAfter: number | undefined;
  failNext: 'put' | 'remove' | 'list' | 'flush' | undefined;

  constructor(private readonly clock: () => number = Date.now) {}

  /** Changes with every change of the items or the unreadable entries, as a real store's does (also when a test edits them directly). */
  async revision(): Promise<string> {
    const h = createHash('sha256').update(String(this.#revision));
    for (const [key, item] of [...this.items].sort(([a], [b]) => (a < b ? -1 : 1)))
      h.update(`${key}:${item.archived}:${item.modified}:${sha256(item.content)}\n`);
    h.update(JSON.stringify(this.unreadable));
    return h.digest('hex');
  }

  async list(): Promise<LocalListing> {
    this.#maybeFail('list');
    return { items: [...this.items.values()], unreadable: [...this.unreadable] };
  }

  async get(kind: TokenKind, id: string): Promise<LocalItem | undefined> {
    return this.items.get(`${kind}:${id}`);
  }

  async put(item: LocalItem, options: PutOptions = {}): Promise<void> {
    this.#maybeFail('put');
    if (options.durable === false) {
      this.pending.push(item);
      return;
    }
    await this.flush();
    this.items.set(`${item.kind}:${item.id}`, item);
    this.#revision++;
  }

  async flush(): Promise<void> {
    // A flush that fails drops what it held, as a file store's batch removes its temporary files.
    if (this.failNext === 'flush') this.pending.length = 0;
    this.#maybeFail('flush');
    const crashAfter = this.#crashFlushAfter;
    this.#crashFlushAfter = undefined;
    const batch = this.pending.splice(0);
    if (batch.length > 0) this.flushes++;
    for (const [i, item] of batch.entries()) {
      if (crashAfter !== undefined && i >= crashAfter) break;
      this.items.set(`${item.kind}:${item.id}`, item);
      this.#revision++;
    }
    if (crashAfter !== undefined)
      throw new Error(`injected: killed during a flush, after ${crashAfter} write(s)`);
  }

  async discard(): Promise<void> {
    this.pending.length = 0;
  }

  /** The next `flush` applies the first `applied` pending writes, then fails (the rest are lost). */
  crashFlush(applied: number): void {
    this.#crashFlushAfter = applied;
  }

  async remove(kind: TokenKind, id: string, options?: { keepUntil?: number }): Promise<void> {
    this.#maybeFail('remove');
    await this.flush();
    const key = `${kind}:${id}`;
    const item = this.items.get(key);
    if (item) this.archive.set(key, { item, keepUntil: options?.keepUntil });
    this.items.delete(key);
    this.#revision++;
  }

  /** What a user does: add or change an item (dated now). */
  userPut(kind: TokenKind, name: string, body: string, notAfter = 0): LocalItem {
    const item = fakeItem(kind, name, body, this.clock(), notAfter);
    this.items.set(`${kind}:${item.id}`, item);
    this.#revision++;
    return item;
  }

  userDelete(key: string): void {
    this.items.delete(key);
    this.#revision++;
  }

  #maybeFail(op: 'put' | 'remove' | 'list' | 'flush'): void {
    if (this.failNext === op) {
      this.failNext = undefined;
      throw new Error(`injected failure in ${op}`);
    }
  }
}

interface Attributes {
  tokens: Set<string>;
  keys: Set<string>;
  stamp: Set<string>;
}

type AttributeName = keyof Attributes;
const ATTRIBUTES: readonly AttributeName[] = ['tokens', 'keys', 'stamp'];

/** One operation as replication ships it: value-level deletes and adds. */
interface ReplicatedChange {
  readonly remove: Record<AttributeName, string[]>;
  readonly add: Record<AttributeName, string[]>;
}

/**
 * Directory servers in memory. Each replica applies a write atomically (compare-and-swap of exact
 * values, as slapd: a missing value to delete fails the whole modify); replication later replays
 * the write on the other replicas value by value, as delta-syncrepl and AD's linked-value
 * replication do: a delete of an absent value and an add of a present one are no-ops there.
 */
export class ReplicatedDirectory {
  readonly replicas: Attributes[];
  /** Per target replica, changes waiting to be delivered in order. */
  readonly queues: ReplicatedChange[][];
  readonly ops = { readStamp: 0, read: 0, write: 0 };

  constructor(count = 1) {
    this.replicas = Array.from({ length: count }, () => ({
      tokens: new Set(),
      keys: new Set(),
      stamp: new Set(),
    }));
    this.queues = Array.from({ length: count }, () => []);
  }

  /** A DirectoryStore that talks to replica `i`; `failAfterWrite` simulates a crash right after the server applied it. */
  server(i: number): DirectoryStore & { failNextWriteAfterApply: boolean; failNextRead: boolean } {
    const dir = this;
    return {
      failNextWriteAfterApply: false,
      failNextRead: false,
      async readStamp() {
        dir.ops.readStamp++;
        return [...dir.replicas[i]!.stamp].map((s) => new Uint8Array(Buffer.from(s, 'base64')));
      },
      async readKeys() {
        const { stamp, keys } = await this.read();
        return { stamp, keys };
      },
      async read(): Promise<DirectorySnapshot> {
        dir.ops.read++;
        if (this.failNextRead) {
          this.failNextRead = false;
          throw new Error('injected: server gone');
        }
        const r = dir.replicas[i]!;
        const dec = (s: Set<string>) => [...s].map((v) => new Uint8Array(Buffer.from(v, 'base64')));
        return { stamp: dec(r.stamp), tokens: dec(r.tokens), keys: dec(r.keys) };
      },
      async write(change: DirectoryChange) {
        dir.ops.write++;
        dir.#apply(i, change);
        if (this.failNextWriteAfterApply) {
          this.failNextWriteAfterApply = false;
          throw new Error('injected: connection lost after the server applied the write');
        }
      },
    };
  }

  #apply(i: number, change: DirectoryChange): void {
    const r = this.replicas[i]!;
    const shipped: ReplicatedChange = {
      remove: { tokens: [], keys: [], stamp: [] },
      add: { tokens: [], keys: [], stamp: [] },
    };
    const changes: Record<AttributeName, ValueChange | undefined> = {
      tokens: change.tokens,
      keys: change.keys,
      stamp: change.stamp,
    };
    for (const a of ATTRIBUTES) {
      for (const v of changes[a]?.remove ?? []) {
        if (!r[a].has(b64(v))) throw new ConflictError(`no such value in ${a}`, { attribute: a });
      }
      // As slapd (code 20): a value to add that is there already means another writer got in first.
      for (const v of changes[a]?.add ?? []) {
        if (r[a].has(b64(v)) && !(changes[a]?.remove ?? []).some((x) => b64(x) === b64(v)))
          throw new ConflictError(`value already in ${a}`, { attribute: a });
      }
    }
    for (const a of ATTRIBUTES) {
      for (const v of changes[a]?.remove ?? []) {
        r[a].delete(b64(v));
        shipped.remove[a].push(b64(v));
      }
      for (const v of changes[a]?.add ?? []) {
        r[a].add(b64(v));
        shipped.add[a].push(b64(v));
      }
    }
    this.queues.forEach((q, j) => {
      if (j !== i) q.push(shipped);
    });
  }

  /**
   * Delivers the oldest pending change to replica `j`; false when none is waiting. `lossy` drops
   * its token and key deletes and keeps the rest, as slapd 2.5's delta-syncrepl conflict resolution
   * was seen to do under conflicting writes: the replica keeps a value its peer removed.
   */
  replicateOne(j: number, options: { lossy?: boolean } = {}): boolean {
    const c = this.queues[j]!.shift();
    if (!c) return false;
    const r = this.replicas[j]!;
    for (const a of ATTRIBUTES) {
      if (!(options.lossy && a !== 'stamp')) for (const v of c.remove[a]) r[a].delete(v);
      for (const v of c.add[a]) r[a].add(v);
    }
    return true;
  }

  replicateAll(): void {
    for (let j = 0; j < this.replicas.length; j++) while (this.replicateOne(j)) {}
  }
}
