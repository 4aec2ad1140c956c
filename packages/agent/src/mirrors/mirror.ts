import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { CredroamError, type LocalListing } from '@credroam/core/api';
import { describeCertificate, readFileNoFollow, writeFileAtomic } from '@credroam/core/kit';

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** One active credential of the primary store, as a mirror receives it. */
export interface MirrorCredential {
  readonly certId: string;
  readonly cert: Uint8Array;
  /** Its private key's id (SHA-256 of the public key), whether or not the key is at hand. */
  readonly keyId: string;
  /** The key (PKCS#8), when the primary holds it and it can be read now. */
  readonly key?: Uint8Array;
  /** The primary holds the key but it cannot be read now (locked): a mirror's copy is left as it is. */
  readonly keyUnknown: boolean;
  /** The attributes document (friendly name, chain), as the primary holds it. */
  readonly attrs?: Uint8Array;
}

/**
 * What the primary store holds that mirrors receive: each certificate that is not archived, its
 * key and its attributes. Archived (expired) certificates stay out; a certificate Node cannot read
 * (its key's id cannot be told) is left out too.
 */
export function activeCredentials(listing: LocalListing): MirrorCredential[] {
  const keys = new Map<string, Uint8Array>();
  const attrs = new Map<string, Uint8Array>();
  for (const item of listing.items) {
    if (item.kind === 'key') keys.set(item.id, item.content);
    if (item.kind === 'attrs') attrs.set(item.id, item.content);
  }
  const unreadableKeys = new Set(listing.unreadable.filter((u) => u.kind === 'key').map((u) => u.id));
  const out: MirrorCredential[] = [];
  for (const item of listing.items) {
    if (item.kind !== 'cert' || item.archived) continue;
    let keyId: string;
    try {
      // As every endpoint reads it: a certificate a stricter OpenSSL refuses, from its structure.
      keyId = describeCertificate(item.content).keyId;
    } catch {
      continue;
    }
    const key = keys.get(keyId);
    const a = attrs.get(item.id);
    out.push({
      certId: item.id,
      cert: item.content,
      keyId,
      ...(key ? { key } : {}),
      keyUnknown: !key && unreadableKeys.has(keyId),
      ...(a ? { attrs: a } : {}),
    });
  }
  return out;
}

/** What a destination holds now. */
export interface Holding {
  readonly certs: ReadonlySet<string>;
  readonly keys: ReadonlySet<string>;
  /** Whether it holds a certificate's attributes as given (a renamed one does not). */
  hasAttributes(credential: MirrorCredential): boolean;
  /** The key id of each certificate held, by certificate id (a destination whose keys are shared). */
  readonly certKeys?: ReadonlyMap<string, string>;
}

/** The parts of a credential to write. */
export interface Parts {
  readonly cert: boolean;
  readonly key: boolean;
  readonly attrs: boolean;
}

/** A destination mirrors write: an NSS database (through the nss store) or a folder of files. */
export interface MirrorTarget {
  read(): Promise<Holding>;
  /** Writes the parts named; each credential lands whole (the certificate before its key). */
  put(credential: MirrorCredential, parts: Parts): Promise<void>;
  /** Takes a credential out: its certificate, its key (no key left behind) and its attributes. */
  remove(certId: string, keyId: string | undefined): Promise<void>;
}

/** What a mirror was given (`<home>/mirrors/<16 hex>.json`, 0600): never more is removed. */
interface MirrorState {
  readonly v: 1;
  readonly destination: string;
  /**
   * By certificate id: its key's id; `own` when the destination held the certificate before
   * credroam (the user's); `ownKey` when it held the key before credroam gave a certificate on it.
   */
  given: Record<string, { keyId: string; own?: boolean; ownKey?: boolean }>;
}

/** What one mirroring did. */
export interface MirrorOutcome {
  readonly put: number;
  readonly repaired: number;
  readonly removed: number;
  /**
   * Credentials that could not be written or taken out (a key type the database does not take):
   * the others were, and these are tried again next time.
   */
  readonly failed: readonly { readonly certId: string; readonly reason: string }[];
}

/** Whether a destination holds exactly what it should, and what it holds. */
export interface MirrorInspection {
  readonly current: boolean;
  /** The credentials credroam gave it that it holds (certificate ids). */
  readonly holds: readonly string[];
  /** Credentials it should hold and does not (wholly). */
  readonly missing: readonly string[];
  /** Credentials it should no longer hold and does. */
  readonly extra: readonly string[];
  /** Certificates it holds that credroam did not give it (the user's own): left alone. */
  readonly others: number;
}

/**
 * One mirror: a destination kept holding exactly the primary's active credentials. It remembers
 * what it gave, so it removes only that (a credential the user put there is theirs), and puts back
 * what someone removed or changed there by hand. Nothing it sees there roams.
 */
export class Mirror {
  readonly #stateFile: string;

  constructor(
    readonly destination: string,
    home: string,
    readonly target: MirrorTarget,
  ) {
    this.#stateFile = path.join(home, 'mirrors', `${sha256(Buffer.from(destination)).slice(0, 16)}.json`);
  }

  /** Brings the destination in step with `wanted`. */
  async update(wanted: readonly MirrorCredential[]): Promise<MirrorOutcome> {
    const state = await this.#load();
    const holding = await this.target.read();
    let put = 0;
    let repaired = 0;
    let removed = 0;
    const failed: { certId: string; reason: string }[] = [];
    const reason = (error: unknown) => (error instanceof Error ? error.message : String(error));
    const wantedIds = new Set(wanted.map((c) => c.certId));
    // Whether credroam gave the key with another certificate (not one the user had there first).
    const keyGiven = (keyId: string, certId: string) =>
      Object.entries(state.given).some(
        ([id, g]) => id !== certId && g.keyId === keyId && !g.own && !g.ownKey,
      );
    for (const c of wanted) {
      const given = state.given[c.certId];
      if (given?.own) continue;
      if (!given && holding.certs.has(c.certId)) {
        // The user put this one there before credroam did: theirs, left as it is.
        state.given[c.certId] = { keyId: c.keyId, own: true };
        continue;
      }
      // A key held before credroam gave a certificate on it is the user's (while it is there):
      // taken out with none of credroam's certificates.
      const ownKey =
        holding.keys.has(c.keyId) && (given ? given.ownKey === true : !keyGiven(c.keyId, c.certId));
      const record = { keyId: c.keyId, ...(ownKey ? { ownKey } : {}) };
      const parts = this.#missing(c, holding);
      if (parts.cert || parts.key || parts.attrs) {
        // Recorded first: a credential half-written is still credroam's to finish or take out.
        state.given[c.certId] = record;
        await this.#save(state);
        try {
          await this.target.put(c, parts);
          if (given) repaired++;
          else put++;
        } catch (error) {
          failed.push({ certId: c.certId, reason: reason(error) });
        }
      }
      state.given[c.certId] = record;
    }
    // A key that a credential still wanted uses (a renewal that kept its key; the user's own), or
    // a certificate that stays there (one the user put there since, on credroam's key), stays
    // when a certificate given with it goes.
    const wantedKeys = new Set(wanted.map((c) => c.keyId));
    const leaving = new Set(
      Object.keys(state.given).filter((id) => !wantedIds.has(id) && !state.given[id]!.own),
    );
    for (const [certId, keyId] of holding.certKeys ?? []) if (!leaving.has(certId)) wantedKeys.add(keyId);
    for (const [certId, given] of Object.entries(state.given)) {
      if (wantedIds.has(certId)) continue;
      const keyId = wantedKeys.has(given.keyId) || given.ownKey ? undefined : given.keyId;
      if (!given.own && (holding.certs.has(certId) || (keyId !== undefined && holding.keys.has(keyId)))) {
        try {
          await this.target.remove(certId, keyId);
          removed++;
        } catch (error) {
          // Still credroam's: taken out at the next mirroring.
          failed.push({ certId, reason: reason(error) });
          continue;
        }
      }
      delete state.given[certId];
      await this.#save(state);
    }
    await this.#save(state);
    return { put, repaired, removed, failed };
  }

  /** Whether the destination holds what it should, without changing it. */
  async inspect(wanted: readonly MirrorCredential[]): Promise<MirrorInspection> {
    const state = await this.#load();
    const holding = await this.target.read();
    const missing: string[] = [];
    const wantedIds = new Set(wanted.map((c) => c.certId));
    for (const c of wanted) {
      if (state.given[c.certId]?.own) continue;
      const parts = this.#missing(c, holding);
      if (parts.cert || parts.key || parts.attrs) missing.push(c.certId);
    }
    const wantedKeys = new Set(wanted.map((c) => c.keyId));
    const extra = Object.entries(state.given)
      .filter(
        ([id, g]) =>
          !wantedIds.has(id) &&
          !g.own &&
          (holding.certs.has(id) || (!wantedKeys.has(g.keyId) && !g.ownKey && holding.keys.has(g.keyId))),
      )
      .map(([id]) => id);
    const givenIds = new Set(Object.keys(state.given).filter((id) => !state.given[id]!.own));
    return {
      current: missing.length === 0 && extra.length === 0,
      holds: [...holding.certs].filter((id) => givenIds.has(id)).sort(),
      missing,
      extra,
      others: [...holding.certs].filter((id) => !givenIds.has(id)).length,
    };
  }

  #missing(c: MirrorCredential, holding: Holding): Parts {
    const cert = !holding.certs.has(c.certId);
    return {
      cert,
      key: c.key !== undefined && (cert || !holding.keys.has(c.keyId)),
      attrs: c.attrs !== undefined && (cert || !holding.hasAttributes(c)),
    };
  }

  async #load(): Promise<MirrorState> {
    const data = await readFileNoFollow(this.#stateFile, { maxBytes: 16 * 1024 * 1024 });
    if (data === undefined) return { v: 1, destination: this.destination, given: {} };
    try {
      const state = JSON.parse(data.toString('utf8')) as MirrorState;
      if (state.v !== 1 || typeof state.given !== 'object' || state.given === null) {
        throw new Error('not a mirror state of this version');
      }
      return state;
    } catch (error) {
      throw new CredroamError(
        'E_MIRROR_STATE',
        `the state file of the mirror ${this.destination}, ${this.#stateFile}, is damaged (${(error as Error).message}): ` +
          'move it aside; the next mirroring puts what is missing and leaves what it finds (it removes nothing it cannot tell it gave)',
        { file: this.#stateFile, destination: this.destination },
      );
    }
  }

  async #save(state: MirrorState): Promise<void> {
    await mkdir(path.dirname(this.#stateFile), { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.#stateFile, JSON.stringify(state), 0o600);
  }
}
