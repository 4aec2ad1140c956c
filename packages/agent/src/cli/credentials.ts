import { createHash } from 'node:crypto';
import type { CredentialAttributes } from '@credroam/core';
import {
  type CertificateField,
  CredroamError,
  checkedPrivateKeyId,
  decodeCredentialAttributes,
  describeCertificate,
  encodeCredentialAttributes,
  errorMessage,
  isTombstone,
  type LocalItem,
  type LocalListing,
  type LocalStore,
  type SyncState,
  TokenFlag,
  versionHash,
  X509ContentInspector,
} from '@credroam/core';
import { UsageError } from './io.js';

/** One credential as `credroam list --json` shows it. A stable shape: fields are only ever added. */
export interface CredentialView {
  readonly sha256: string;
  readonly sha1: string;
  /** One line; `(empty subject)` for a subject without any RDN, `(unreadable subject)` (see `unreadableFields`). */
  readonly subject: string;
  /** As `subject`: `(empty issuer)`, `(unreadable issuer)`. */
  readonly issuer: string;
  /** ISO 8601; null when the certificate's time cannot be read (`unreadableFields` names it). */
  readonly notBefore: string | null;
  /** ISO 8601; null when the certificate's time cannot be read (`unreadableFields` names it). */
  readonly notAfter: string | null;
  readonly archived: boolean;
  /** Whether this endpoint holds the private key (`keyId` is its SubjectPublicKeyInfo's SHA-256). */
  readonly hasKey: boolean;
  /**
   * SHA-256 of the SubjectPublicKeyInfo as Node exports it; of its bytes in the certificate when
   * the public key cannot be read (`unreadableFields` has `publicKey`; no private key matches).
   */
  readonly keyId: string;
  /**
   * Only when some part of the certificate cannot be read: which (`subject`, `issuer`,
   * `notBefore`, `notAfter`, `publicKey`). It is listed, exported and removed all the same.
   */
  readonly unreadableFields?: readonly CertificateField[];
  /**
   * Whether the private key opens: `opens`; `locked` (no roaming password given: not tried);
   * `unreadable` (held, but it cannot be decrypted or read: `keyProblem` says why); `none`.
   */
  readonly key: 'opens' | 'locked' | 'unreadable' | 'none';
  readonly keyProblem?: string;
  /** `synced`: as the directory had it at the last sync; `changed`: changed here since; `new`: never synced. */
  readonly state: 'synced' | 'changed' | 'new';
  /** The name the credential was imported with (PKCS#12 friendlyName), when it has one. */
  readonly friendlyName?: string;
  /** How many CA certificates come with it (its chain, the certificate itself not counted). */
  readonly chainLength: number;
}

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

/** Builds the credential views from a listing (certificates; keys by public key) and the sync state. */
export function credentialViews(listing: LocalListing, state: SyncState | undefined): CredentialView[] {
  const keyIds = new Set<string>();
  const problems = new Map<string, string>();
  for (const item of listing.items) if (item.kind === 'key') keyIds.add(item.id);
  for (const u of listing.unreadable) if (u.kind === 'key' && u.id) problems.set(u.id, u.reason);
  const attributes = attributesByCertificate(listing);
  const views: CredentialView[] = [];
  for (const item of listing.items) {
    if (item.kind !== 'cert') continue;
    const cert = describeCertificate(item.content);
    const keyId = cert.keyId;
    const base = state?.base[`cert:${item.id}`];
    const hash = versionHash('cert', item.archived ? TokenFlag.Archived : 0, item.content);
    views.push({
      sha256: item.id,
      sha1: createHash('sha1').update(item.content).digest('hex'),
      subject: cert.subject,
      issuer: cert.issuer,
      notBefore: iso(cert.notBefore),
      notAfter: iso(cert.notAfter),
      archived: item.archived,
      hasKey: keyIds.has(keyId) || problems.has(keyId),
      keyId,
      ...(cert.unreadable.length > 0 ? { unreadableFields: cert.unreadable } : {}),
      ...keyState(keyIds.has(keyId), problems.get(keyId)),
      state: base === undefined || isTombstone(base) ? 'new' : base.hash === hash ? 'synced' : 'changed',
      ...attributeView(attributes.get(item.id)),
    });
  }
  // By end of validity, those whose end cannot be read last; then by thumbprint.
  const end = (v: CredentialView) => v.notAfter ?? '\u{10ffff}';
  return views.sort((a, b) => (end(a) < end(b) ? -1 : end(a) > end(b) ? 1 : a.sha256 < b.sha256 ? -1 : 1));
}

/** Each certificate's attributes in a listing (the store lists only ones that read). */
function attributesByCertificate(listing: LocalListing): Map<string, CredentialAttributes> {
  const out = new Map<string, CredentialAttributes>();
  for (const item of listing.items) {
    if (item.kind !== 'attrs') continue;
    try {
      out.set(item.id, decodeCredentialAttributes(item.content));
    } catch {
      // a store that lists what does not read: shown without attributes
    }
  }
  return out;
}

function attributeView(
  a: CredentialAttributes | undefined,
): Pick<CredentialView, 'friendlyName' | 'chainLength'> {
  return {
    ...(a?.friendlyName !== undefined ? { friendlyName: a.friendlyName } : {}),
    chainLength: a?.chain.length ?? 0,
  };
}

function keyState(opened: boolean, problem: string | undefined): Pick<CredentialView, 'key' | 'keyProblem'> {
  if (opened) return { key: 'opens' };
  if (problem === undefined) return { key: 'none' };
  // The store reports a key it was not asked to open (no roaming password) as locked.
  if (/^locked/.test(problem)) return { key: 'locked' };
  return { key: 'unreadable', keyProblem: problem };
}

/** The fewest digits of a thumbprint prefix: fewer could name another credential tomorrow. */
export const MIN_PREFIX_DIGITS = 8;

/**
 * Finds a credential by SHA-256 or SHA-1 thumbprint (hex, any case, colons allowed), or by a
 * prefix of at least 8 digits that only one credential has. Anything else that is not a whole
 * thumbprint is a usage error that says what is wrong, never a silent "not found".
 */
export function findCredential(
  views: readonly CredentialView[],
  thumbprint: string,
): CredentialView | undefined {
  const t = thumbprint.replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]+$/.test(t)) {
    throw new UsageError(
      `'${thumbprint}' is not a thumbprint: give its SHA-256 or SHA-1 in hex (colons allowed), or at least ${MIN_PREFIX_DIGITS} of its first digits`,
      { thumbprint },
      'E_THUMBPRINT_INVALID',
    );
  }
  const exact = views.find((v) => v.sha256 === t || v.sha1 === t);
  if (exact) return exact;
  const matches = views.filter((v) => v.sha256.startsWith(t) || v.sha1.startsWith(t));
  if (t.length < MIN_PREFIX_DIGITS) {
    throw new UsageError(
      `thumbprint prefix ${thumbprint} is too short: give at least ${MIN_PREFIX_DIGITS} hex digits (it matches ${matches.length} credential${matches.length === 1 ? '' : 's'} here), or the whole SHA-256 or SHA-1 thumbprint`,
      { thumbprint, matches: matches.length },
      'E_THUMBPRINT_TOO_SHORT',
    );
  }
  if (matches.length > 1) {
    throw new CredroamError(
      'E_AMBIGUOUS',
      `thumbprint prefix ${thumbprint} matches ${matches.length} credentials; give more digits`,
      { thumbprint, matches: matches.map((m) => m.sha256) },
    );
  }
  return matches[0];
}

/**
 * A certificate (DER) and, if it has one here, its private key (PKCS#8, in clear), with what the
 * file carried besides: its CA chain (DER, issuer order, the certificate itself excluded) and its
 * friendly name.
 */
export interface CredentialParts {
  readonly cert: Uint8Array;
  readonly key?: Uint8Array;
  readonly chain?: readonly Uint8Array[];
  readonly friendlyName?: string;
}

/**
 * The attributes token content for a credential, or undefined when it carries no friendly name and
 * no chain. The name is taken in Unicode normal form C (an empty one is no name). Throws
 * `E_ATTRIBUTES_INVALID` for a name or chain outside the bounds (docs/decisions/009).
 */
export function attributesContent(id: string, c: CredentialParts): Uint8Array | undefined {
  const friendlyName = c.friendlyName ? c.friendlyName.normalize('NFC') : undefined;
  const chain = c.chain ?? [];
  if (friendlyName === undefined && chain.length === 0) return undefined;
  return encodeCredentialAttributes({
    cert: id,
    ...(friendlyName !== undefined ? { friendlyName } : {}),
    chain,
  });
}

/**
 * Checks credentials before anything is written: each certificate parses, each key belongs to its
 * certificate. Returns their ids.
 */
export function checkCredentials(
  credentials: readonly CredentialParts[],
): Array<
  CredentialParts & { readonly id: string; readonly keyId?: string; readonly attributes?: Uint8Array }
> {
  return credentials.map((c) => {
    const id = certificateId(c.cert);
    // A key from outside: OpenSSL reads it (and refuses a public point off its curve).
    const keyId = c.key ? checkedPrivateKeyId(c.key) : undefined;
    if (keyId !== undefined && keyId !== describeCertificate(c.cert).keyId) {
      throw new CredroamError('E_KEY_MISMATCH', `the private key does not belong to the certificate ${id}`, {
        sha256: id,
        keyId,
      });
    }
    const attributes = attributesContent(id, c);
    return { ...c, id, ...(keyId ? { keyId } : {}), ...(attributes ? { attributes } : {}) };
  });
}

/** What `import` reports of each credential it stored. */
export interface ImportedCredential {
  readonly sha256: string;
  readonly hasKey: boolean;
  /** Present when the credential came with attributes: its friendly name, the CA certificates stored with it. */
  readonly friendlyName?: string;
  readonly chainLength?: number;
}

/**
 * Puts credentials into the local store: each certificate, then its key (a store such as NSS keeps
 * a key only with its certificate), then its attributes (friendly name, chain); nothing is written
 * unless all pass `checkCredentials`. A store that encrypts keys at rest needs its keys open before
 * this is called. A credential imported again without attributes keeps the ones it has.
 */
export async function storeCredentials(
  local: LocalStore,
  credentials: readonly CredentialParts[],
  now = Date.now(),
): Promise<ImportedCredential[]> {
  const checked = checkCredentials(credentials);
  // What the credentials have already: the attributes an import adds to, never silently drops.
  const stored = checked.some((c) => c.attributes)
    ? attributesByCertificate(await local.list())
    : new Map<string, CredentialAttributes>();
  const merged = checked.map((c) => {
    const had = stored.get(c.id);
    if (!c.attributes || !had) return { ...c, put: c.attributes };
    const attributes = encodeCredentialAttributes(
      mergeAttributes(had, decodeCredentialAttributes(c.attributes)),
    );
    const unchanged = Buffer.from(attributes).equals(encodeCredentialAttributes(had));
    return { ...c, attributes, put: unchanged ? undefined : attributes };
  });
  for (const c of merged) {
    await local.put({ kind: 'cert', id: c.id, content: c.cert, archived: false, modified: now });
    if (c.key && c.keyId)
      await local.put({ kind: 'key', id: c.keyId, content: c.key, archived: false, modified: now });
    if (c.put) await local.put({ kind: 'attrs', id: c.id, content: c.put, archived: false, modified: now });
  }
  return merged.map((c) => ({
    sha256: c.id,
    hasKey: Boolean(c.key),
    ...(c.attributes ? attributeView(decodeCredentialAttributes(c.attributes)) : {}),
  }));
}

/**
 * A credential's attributes after an import that brought some: the import's friendly name when it
 * has one, else the stored one; the import's chain, unless it brings none or the stored chain
 * starts with it (the stored one goes further up the same path). Pure.
 */
export function mergeAttributes(
  stored: CredentialAttributes,
  incoming: CredentialAttributes,
): CredentialAttributes {
  const friendlyName = incoming.friendlyName ?? stored.friendlyName;
  const storedGoesFurther =
    stored.chain.length >= incoming.chain.length &&
    incoming.chain.every((der, i) => Buffer.from(der).equals(stored.chain[i]!));
  return {
    cert: incoming.cert,
    ...(friendlyName !== undefined ? { friendlyName } : {}),
    chain: storedGoesFurther ? stored.chain : incoming.chain,
  };
}

/**
 * The credential a thumbprint names, with its private key when the listing holds it open: an
 * unknown thumbprint, or a key that is here but cannot be opened, is an error naming it.
 */
export function credentialParts(
  listing: LocalListing,
  thumbprint: string,
): { readonly view: CredentialView } & CredentialParts {
  const view = findCredential(credentialViews(listing, undefined), thumbprint);
  if (!view)
    throw new CredroamError('E_NOT_FOUND', `no credential with thumbprint ${thumbprint} on this endpoint`, {
      thumbprint,
    });
  if (view.key === 'unreadable') {
    throw new CredroamError(
      'E_KEY_UNREADABLE',
      `the private key of ${view.sha256} (key ${view.keyId}) is on this endpoint but cannot be opened: ${view.keyProblem}. Nothing was written; \`credroam doctor\` helps find out why`,
      { sha256: view.sha256, keyId: view.keyId },
    );
  }
  const cert = listing.items.find((i) => i.kind === 'cert' && i.id === view.sha256)!;
  const key = listing.items.find((i) => i.kind === 'key' && i.id === view.keyId);
  const attrs = attributesByCertificate(listing).get(view.sha256);
  return {
    view,
    cert: cert.content,
    ...(key ? { key: key.content } : {}),
    ...(attrs && attrs.chain.length > 0 ? { chain: attrs.chain } : {}),
    ...(attrs?.friendlyName !== undefined ? { friendlyName: attrs.friendlyName } : {}),
  };
}

/**
 * What a command about one credential needs of the store when `thumbprint` is a whole SHA-256 and
 * the store keeps that certificate and its key under their own names (`get`): those files alone,
 * not a listing of the whole store (every certificate parsed). Undefined otherwise (a prefix, a
 * SHA-1, a certificate or key the user copied in under a name of their own, a store without
 * `get`): then the caller lists the store. A key that cannot be opened (the keys locked) is in
 * `unreadable`, as a listing reports it.
 */
export async function oneCredentialListing(
  local: LocalStore,
  thumbprint: string,
): Promise<LocalListing | undefined> {
  const sha256 = thumbprint.replace(/:/g, '').toLowerCase();
  if (local.get === undefined || !/^[0-9a-f]{64}$/.test(sha256)) return undefined;
  try {
    const cert = await local.get('cert', sha256);
    if (cert === undefined) return undefined;
    const { keyId } = describeCertificate(cert.content);
    const attrs = await local.get('attrs', sha256);
    const items = attrs ? [cert, attrs] : [cert];
    try {
      const key = await local.get('key', keyId);
      return key ? { items: [...items, key], unreadable: [] } : undefined;
    } catch (error) {
      return {
        items,
        unreadable: [{ name: `key ${keyId}`, kind: 'key', id: keyId, reason: errorMessage(error) }],
      };
    }
  } catch {
    return undefined; // a file that does not read as it should: the listing reports it
  }
}

/**
 * The credential `thumbprint` names, found in `listing` (made with or without the keys), with its
 * private key read alone when the store can (`get`): only that key is read and decrypted, not the
 * whole store. A store without `get` is listed once more, with the keys open. Errors as
 * `credentialParts`.
 */
export async function credentialPartsOf(
  local: LocalStore,
  listing: LocalListing,
  thumbprint: string,
): Promise<{ readonly view: CredentialView } & CredentialParts> {
  if (local.get === undefined) return credentialParts(await local.list(), thumbprint);
  const found = findCredential(credentialViews(listing, undefined), thumbprint);
  if (!found?.hasKey) return credentialParts(listing, thumbprint);
  let key: LocalItem | undefined;
  let problem: string | undefined;
  try {
    key = await local.get('key', found.keyId);
  } catch (error) {
    problem = errorMessage(error);
  }
  const rest = listing.items.filter((i) => !(i.kind === 'key' && i.id === found.keyId));
  const unreadable = listing.unreadable.filter((u) => !(u.kind === 'key' && u.id === found.keyId));
  return credentialParts(
    {
      items: key ? [...rest, key] : rest,
      unreadable: problem
        ? [...unreadable, { name: `key ${found.keyId}`, kind: 'key', id: found.keyId, reason: problem }]
        : unreadable,
    },
    thumbprint,
  );
}

const inspector = new X509ContentInspector();

/** A certificate's id (SHA-256 of its DER), as the engine derives it. */
export const certificateId = (der: Uint8Array): string => inspector.inspect('cert', der).id;
