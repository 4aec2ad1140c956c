import {
  ConflictError,
  CredroamError,
  type DirectoryChange,
  type DirectorySnapshot,
  type DirectoryStore,
  type ValueChange,
} from '@credroam/core/api';
import { Attribute, Change, type Client, escapeFilter } from 'ldapts';
import type { LdapSession } from './connection.js';
import type { Profile } from './profiles.js';

type Which = 'tokens' | 'keys' | 'stamp';

/**
 * The user's entry as a DirectoryStore: tokens, wrapped keys and the change stamp are values of
 * three multi-valued attributes. A write is one modify that deletes the exact old values and adds
 * the new ones — the server applies all or nothing, and a value already gone fails it with
 * noSuchAttribute (16): a ConflictError. Writes larger than `maxRequestBytes` are split; the old
 * stamp goes in the first request and the new one in the last.
 */
export class LdapDirectoryStore implements DirectoryStore {
  #dn: string | undefined;

  constructor(
    private readonly session: LdapSession,
    private readonly profile: Profile,
    private readonly user: {
      readonly dn?: string;
      readonly base?: string;
      readonly filter?: string;
      readonly name: string;
    },
    private readonly maxRequestBytes: number,
    private readonly rangeSize?: number,
  ) {}

  /** The user's DN: configured, or found under the base by the filter with the name escaped (RFC 4515). */
  async dn(): Promise<string> {
    if (this.#dn) return this.#dn;
    if (this.user.dn) {
      this.#dn = this.user.dn;
      return this.#dn;
    }
    if (!this.user.base || !this.user.filter)
      throw new CredroamError('E_CONFIG', 'the ldap directory needs userDn, or base and filter');
    const filter = this.user.filter.replaceAll('{user}', escapeFilter`${this.user.name}`);
    const found = await this.session.run((c) =>
      c.search(this.user.base!, { scope: 'sub', filter, attributes: ['1.1'], sizeLimit: 2 }),
    );
    if (found.searchEntries.length !== 1) {
      throw new CredroamError(
        'E_NO_ENTRY',
        `${found.searchEntries.length === 0 ? 'no entry' : 'more than one entry'} for user '${this.user.name}' under ${this.user.base} (${filter})`,
        { user: this.user.name, base: this.user.base, filter },
      );
    }
    this.#dn = found.searchEntries[0]!.dn;
    return this.#dn;
  }

  async close(): Promise<void> {
    await this.session.close();
  }

  async readStamp(): Promise<readonly Uint8Array[]> {
    return (await this.#read(['stamp'])).stamp;
  }

  async read(): Promise<DirectorySnapshot> {
    const r = await this.#read(['stamp', 'tokens', 'keys']);
    return { stamp: r.stamp, tokens: r.tokens, keys: r.keys };
  }

  /** Text attributes of the user's entry (enrollment templates); absent ones are left out. */
  async readAttributes(names: readonly string[]): Promise<Readonly<Record<string, readonly string[]>>> {
    const dn = await this.dn();
    const found = await this.session.run((c) =>
      c.search(dn, { scope: 'base', filter: '(objectClass=*)', attributes: [...names], sizeLimit: 1 }),
    );
    const entry = found.searchEntries[0];
    const out: Record<string, readonly string[]> = {};
    for (const name of names) {
      const key = Object.keys(entry ?? {}).find((k) => k.toLowerCase() === name.toLowerCase());
      const raw = key === undefined ? undefined : entry![key];
      if (raw === undefined) continue;
      const values = (Array.isArray(raw) ? raw : [raw]).map((v) =>
        Buffer.isBuffer(v) ? v.toString('utf8') : String(v),
      );
      if (values.length > 0) out[name] = values;
    }
    return out;
  }

  async readKeys(): Promise<Pick<DirectorySnapshot, 'stamp' | 'keys'>> {
    const r = await this.#read(['stamp', 'keys']);
    return { stamp: r.stamp, keys: r.keys };
  }

  async write(change: DirectoryChange): Promise<void> {
    const dn = await this.dn();
    const a = this.profile.attributes;
    const encode = (v: Uint8Array) => this.profile.encode(v, dn);
    const size = (v: Uint8Array) => v.length * (this.profile.textual ? 2 : 1) + dn.length + 16;
    const groups: Array<{ attr: string; op: 'add' | 'delete'; values: Uint8Array[] }> = [];
    const push = (attr: string, c: ValueChange | undefined) => {
      if (!c) return;
      if (c.remove.length > 0) groups.push({ attr, op: 'delete', values: [...c.remove] });
      if (c.add.length > 0) groups.push({ attr, op: 'add', values: [...c.add] });
    };
    // First request: the old stamp (the compare-and-swap guard) and every delete; then adds.
    if (change.stamp.remove.length > 0)
      groups.push({ attr: a.stamp, op: 'delete', values: [...change.stamp.remove] });
    push(a.tokens, change.tokens && { remove: change.tokens.remove, add: [] });
    push(a.keys, change.keys && { remove: change.keys.remove, add: [] });
    push(a.tokens, change.tokens && { remove: [], add: change.tokens.add });
    push(a.keys, change.keys && { remove: [], add: change.keys.add });
    const requests: Change[][] = [[]];
    let bytes = 0;
    for (const g of groups) {
      let batch: Uint8Array[] = [];
      const flush = () => {
        if (batch.length === 0) return;
        requests.at(-1)!.push(
          new Change({
            operation: g.op,
            modification: new Attribute({ type: g.attr, values: batch.map(encode) as Buffer[] }),
          }),
        );
        batch = [];
      };
      for (const v of g.values) {
        if (bytes + size(v) > this.maxRequestBytes && (bytes > 0 || batch.length > 0)) {
          flush();
          if (g.op === 'delete') {
            throw new CredroamError(
              'E_TOO_LARGE',
              `the values to remove in one write exceed ${this.maxRequestBytes} bytes`,
              { attribute: g.attr, maxRequestBytes: this.maxRequestBytes },
            );
          }
          requests.push([]);
          bytes = 0;
        }
        batch.push(v);
        bytes += size(v);
      }
      flush();
    }
    if (change.stamp.add.length > 0) {
      requests.at(-1)!.push(
        new Change({
          operation: 'add',
          modification: new Attribute({ type: a.stamp, values: change.stamp.add.map(encode) as Buffer[] }),
        }),
      );
    }
    for (const changes of requests) {
      if (changes.length === 0) continue;
      await this.#modify(dn, changes);
    }
  }

  /**
   * A modify; on an entry without the credroamUser class, the class is added first, in a modify
   * of its own: two endpoints that do so at once through two replicating servers each send the
   * other an add of a value already there, which the consumer refuses as a whole (slapd 2.5
   * delta-syncrepl), and that must not take token changes down with it.
   */
  async #modify(dn: string, changes: Change[]): Promise<void> {
    try {
      await this.session.run((c) => c.modify(dn, changes), { dn });
    } catch (error) {
      if (!(error instanceof CredroamError) || error.code !== 'E_SCHEMA') throw error;
      const addClass = new Change({
        operation: 'add',
        modification: new Attribute({ type: 'objectClass', values: ['credroamUser'] }),
      });
      await this.session
        .run((c) => c.modify(dn, addClass), { dn })
        .catch((e: unknown) => {
          // Another writer added it in the meantime: what this modify wanted is there.
          if (!(e instanceof ConflictError)) throw e;
        });
      await this.session.run((c) => c.modify(dn, changes), { dn });
    }
  }

  async #read(which: readonly Which[]): Promise<Record<Which, Uint8Array[]>> {
    const dn = await this.dn();
    const names = which.map((w) => this.profile.attributes[w]);
    const out: Record<Which, Uint8Array[]> = { stamp: [], tokens: [], keys: [] };
    const entry = await this.session.run(
      (c) => searchBase(c, dn, names, this.profile.textual, this.rangeSize),
      { dn },
    );
    for (const w of which) {
      for (const raw of entry.get(this.profile.attributes[w].toLowerCase()) ?? []) {
        const v = this.profile.decode(raw);
        if (v) out[w].push(v);
      }
    }
    return out;
  }
}

/**
 * Ranges one read follows at most: at Active Directory's default of 1 500 values a range, 1.5
 * million values, far more than the engine reads (twice policy maxTokens); with `rangeSize`, that
 * many times it.
 */
const MAX_RANGES = 1000;

/**
 * Reads attributes of one entry as binary values, past per-attribute value limits: when the
 * server answers with `attr;range=0-1499` (Active Directory), the next range is asked for until
 * the last (`;range=N-*`). Each range must start where the one asked for does, one range of an
 * attribute at a time, and at most `MAX_RANGES` of them: a server that answers otherwise (the same
 * range again, ranges that overlap or never end) would keep the read going, and its values growing,
 * for ever.
 */
async function searchBase(
  client: Client,
  dn: string,
  attributes: string[],
  textual: boolean,
  rangeSize?: number,
): Promise<Map<string, Array<Buffer | string>>> {
  const values = new Map<string, Array<Buffer | string>>();
  let pending = attributes.map((a) => ({
    name: a,
    from: 0,
    request: rangeSize ? `${a};range=0-${rangeSize - 1}` : a,
  }));
  for (let ranges = 0; pending.length > 0; ranges++) {
    if (ranges >= MAX_RANGES) {
      throw new Error(
        `the directory answered more than ${MAX_RANGES} ranges of values of ${pending.map((p) => p.name).join(', ')} ` +
          `without the last (;range=N-*)${rangeSize ? ': raise rangeSize' : ''}`,
      );
    }
    const requested = pending.map((p) => p.request);
    const { searchEntries } = await client.search(dn, {
      scope: 'base',
      filter: '(objectClass=*)',
      attributes: requested,
      explicitBufferAttributes: textual ? [] : collectNames(requested),
    });
    const entry = searchEntries[0];
    if (!entry) throw Object.assign(new Error('no such entry'), { code: 32 });
    const next: typeof pending = [];
    for (const p of pending) {
      const base = p.name.toLowerCase();
      let ranged = false;
      for (const [key, raw] of Object.entries(entry)) {
        const k = key.toLowerCase();
        if (k !== base && !k.startsWith(`${base};range=`)) continue;
        const list = Array.isArray(raw) ? raw : [raw];
        // An attribute asked for and not answered is there without values (ldapts).
        if (list.length === 0) continue;
        const range = /;range=(\d+)-(\d+|\*)$/.exec(k);
        if (range) {
          if (ranged) throw new Error(`the directory answered two ranges of ${p.name} at once (${key})`);
          ranged = true;
          if (Number(range[1]) !== p.from || (range[2] !== '*' && Number(range[2]) < p.from)) {
            throw new Error(
              `the directory answered ${key} where the values of ${p.name} from ${p.from} on were asked: its ranges do not follow each other`,
            );
          }
        }
        values.set(base, [...(values.get(base) ?? []), ...(list as Array<Buffer | string>)]);
        // The last range ends in `*`; an empty one also ends it (a server that counts differently).
        if (range && range[2] !== '*') {
          const from = Number(range[2]) + 1;
          next.push({
            name: p.name,
            from,
            request: `${p.name};range=${from}-${rangeSize ? from + rangeSize - 1 : '*'}`,
          });
        }
      }
    }
    pending = next;
  }
  return values;
}

/** `explicitBufferAttributes` matches attribute names exactly (case-sensitive) as they come back. */
function collectNames(requested: string[]): string[] {
  const out = new Set<string>();
  for (const r of requested) {
    const base = r.split(';')[0]!;
    out.add(r);
    out.add(base);
    out.add(base.toLowerCase());
  }
  return [...out];
}
