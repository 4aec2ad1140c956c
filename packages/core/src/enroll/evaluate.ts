import { createHash, X509Certificate } from 'node:crypto';
import type { LocalListing } from '../api/extension-points.js';
import { decodeCredentialAttributes } from '../engine/attributes.js';
import type { EnrollmentProfile } from './profile.js';

const DAY = 86_400_000;
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A certificate of a profile on this endpoint: issued by its pinned CA, its key held here. */
export interface HeldCertificate {
  readonly id: string;
  readonly certificate: Uint8Array;
  /** Its key (PKCS#8), when the store could hand it over (a locked store lists only that it is there). */
  readonly privateKey?: Uint8Array;
  readonly notBefore: number;
  readonly notAfter: number;
  /** When it is due for renewal under the profile's `renew` (ms). */
  readonly renewAt: number;
}

/** Where a profile stands on this endpoint, from the local store alone. */
export type ProfileStanding =
  | { readonly state: 'met'; readonly held: HeldCertificate }
  | { readonly state: 'due'; readonly held: HeldCertificate }
  | { readonly state: 'missing' };

/** When a certificate valid from `notBefore` to `notAfter` is due under `renew`. */
export function renewalTime(notBefore: number, notAfter: number, renew: EnrollmentProfile['renew']): number {
  const byFraction = notAfter - (notAfter - notBefore) * renew.remainingFraction;
  return Math.min(byFraction, notAfter - renew.minDays * DAY);
}

/**
 * The profile's standing among the local store's items: its certificates are the active ones
 * whose attributes carry the pinned CA certificate, which signed them, and whose key this endpoint
 * holds (and, when profiles share a CA, whose friendly name is the profile's id, as enrollment
 * names them). Of several, the one valid longest counts: `met` before its renewal time, else `due`.
 */
export function standingOf(
  profile: EnrollmentProfile,
  listing: LocalListing,
  now: number,
  /** Another profile pins the same CA: only certificates named after this profile (friendly name) are its. */
  byName = false,
): ProfileStanding {
  const items = listing.items;
  const keys = new Map<string, Uint8Array | undefined>(
    items.filter((i) => i.kind === 'key').map((i) => [i.id, i.content]),
  );
  // A key the store lists but cannot open now (locked) is still held.
  for (const u of listing.unreadable)
    if (u.kind === 'key' && u.id && !keys.has(u.id)) keys.set(u.id, undefined);
  const attrs = new Map(items.filter((i) => i.kind === 'attrs').map((i) => [i.id, i.content]));
  let best: HeldCertificate | undefined;
  for (const item of items) {
    if (item.kind !== 'cert' || item.archived) continue;
    const held = heldBy(profile, item, keys, attrs, byName);
    if (held && held.notAfter > now && (!best || held.notAfter > best.notAfter)) best = held;
  }
  if (!best) return { state: 'missing' };
  return { state: now < best.renewAt ? 'met' : 'due', held: best };
}

function heldBy(
  profile: EnrollmentProfile,
  item: LocalListing['items'][number],
  keys: ReadonlyMap<string, Uint8Array | undefined>,
  attrs: ReadonlyMap<string, Uint8Array>,
  byName: boolean,
): HeldCertificate | undefined {
  try {
    const encoded = attrs.get(item.id);
    if (!encoded) return undefined;
    const decoded = decodeCredentialAttributes(encoded);
    if (byName && decoded.friendlyName !== profile.id) return undefined;
    const chain = decoded.chain ?? [];
    const ca = chain.find((der) => sha256(der) === profile.ca.fingerprint);
    if (!ca) return undefined;
    const cert = new X509Certificate(item.content);
    const caCert = new X509Certificate(ca);
    if (!cert.checkIssued(caCert) || !cert.verify(caCert.publicKey)) return undefined;
    const keyId = sha256(cert.publicKey.export({ type: 'spki', format: 'der' }));
    if (!keys.has(keyId)) return undefined;
    const privateKey = keys.get(keyId);
    const notBefore = Date.parse(cert.validFrom);
    const notAfter = Date.parse(cert.validTo);
    return {
      id: item.id,
      certificate: item.content,
      ...(privateKey ? { privateKey } : {}),
      notBefore,
      notAfter,
      renewAt: renewalTime(notBefore, notAfter, profile.renew),
    };
  } catch {
    return undefined; // not readable as a profile's certificate: not one
  }
}
