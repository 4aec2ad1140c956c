import { createHash } from 'node:crypto';
import { errorMessage } from '../api/errors.js';
import type { TokenKind, TokenProtector } from '../api/extension-points.js';
import { ENROLLMENT_STATE_MAX_BYTES } from '../api/points/enroller.js';
import { associatedData, decodeHeader, encodeHeader, encodeToken } from '../engine/codec.js';

/**
 * Enrollment's own tokens, in the directory only, sealed and authenticated like every token (the
 * header is the associated data: a value moved to another user, profile or kind fails to open).
 * One of each per profile, their ids derived from the profile id:
 *
 * - a `claim`: one endpoint is enrolling the profile until `expires`; the others wait. Taken and
 *   released with the directory's compare-and-swap, so two endpoints cannot both hold it.
 * - a `request`: a pending request, with the key it is for and the enroller's state, so any of the
 *   user's endpoints can finish it. Sealed as a `key` (it carries a private key).
 */
export interface ClaimPayload {
  readonly profile: string;
  /** Who holds it (this endpoint's id, `enrollment-state.ts`). */
  readonly endpoint: string;
  /** ms since the epoch. */
  readonly expires: number;
}

export interface RequestPayload {
  readonly profile: string;
  /** The enroller that started it: a profile now naming another one starts over. */
  readonly enroller: string;
  /** The key the request is for: PKCS#8 and SubjectPublicKeyInfo, DER. */
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  /** The enroller's state (at most `ENROLLMENT_STATE_MAX_BYTES`). */
  readonly state: Uint8Array;
  /** When the CA said to ask again (ms). */
  readonly checkAfter: number;
  /** When the request was first made (ms). */
  readonly since: number;
  /** Renewal: the id (SHA-256) of the certificate it replaces. */
  readonly renewing?: string;
}

/** The newest authenticated value of a claim or request, and every authenticated value of it (to remove them all). */
export type EnrollmentToken = {
  readonly value: Uint8Array;
  readonly values: readonly Uint8Array[];
  readonly modified: number;
} & (
  | { readonly kind: 'claim'; readonly payload: ClaimPayload }
  | { readonly kind: 'request'; readonly payload: RequestPayload }
);

/** A value that looked like an enrollment token and failed a check: reported, left where it is. */
export interface SkippedEnrollmentToken {
  readonly kind: 'claim' | 'request';
  readonly id: string;
  readonly reason: string;
}

const SEAL_AS: Readonly<Record<'claim' | 'request', TokenKind>> = { claim: 'attrs', request: 'key' };

export const enrollmentTokenId = (kind: 'claim' | 'request', profile: string): string =>
  createHash('sha256').update(`credroam/enroll/${kind}\0${profile}`).digest('hex');

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

function payloadJson(kind: 'claim' | 'request', p: ClaimPayload | RequestPayload): Uint8Array {
  if (kind === 'claim') {
    const c = p as ClaimPayload;
    return Buffer.from(
      JSON.stringify({ v: 1, profile: c.profile, endpoint: c.endpoint, expires: c.expires }),
    );
  }
  const r = p as RequestPayload;
  return Buffer.from(
    JSON.stringify({
      v: 1,
      profile: r.profile,
      enroller: r.enroller,
      privateKey: b64(r.privateKey),
      publicKey: b64(r.publicKey),
      state: b64(r.state),
      checkAfter: r.checkAfter,
      since: r.since,
      ...(r.renewing ? { renewing: r.renewing } : {}),
    }),
  );
}

/** Seals a claim or a request into a directory value. */
export async function encodeEnrollmentToken(
  protector: TokenProtector,
  user: string,
  kind: 'claim' | 'request',
  payload: ClaimPayload | RequestPayload,
  modified: number,
): Promise<Uint8Array> {
  const fields = { kind, flags: 0, modified, id: enrollmentTokenId(kind, payload.profile) };
  const unsized = encodeHeader({ ...fields, payloadLength: 0 });
  const sealed = await protector.seal({
    kind: SEAL_AS[kind],
    payload: payloadJson(kind, payload),
    aad: associatedData(user, unsized),
  });
  return encodeToken(encodeHeader({ ...fields, payloadLength: sealed.length }), sealed);
}

const SAFE_TIME = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function bytes(value: unknown, max: number, what: string): Uint8Array {
  if (typeof value !== 'string' || !BASE64.test(value) || value.length > Math.ceil(max / 3) * 4 + 4)
    throw new Error(`${what} is not base64 of at most ${max} bytes`);
  return Buffer.from(value, 'base64');
}

function parsePayload(
  kind: 'claim' | 'request',
  content: Uint8Array,
  profileOfId: string,
): ClaimPayload | RequestPayload {
  const raw = JSON.parse(Buffer.from(content).toString('utf8')) as Record<string, unknown>;
  if (typeof raw !== 'object' || raw === null || raw.v !== 1) throw new Error('not a version 1 payload');
  if (typeof raw.profile !== 'string' || raw.profile !== profileOfId)
    throw new Error('its profile is not the one its id names');
  if (kind === 'claim') {
    if (typeof raw.endpoint !== 'string' || raw.endpoint.length === 0 || raw.endpoint.length > 128)
      throw new Error('no endpoint');
    if (!SAFE_TIME(raw.expires)) throw new Error('no expiry');
    return { profile: raw.profile, endpoint: raw.endpoint, expires: raw.expires };
  }
  if (typeof raw.enroller !== 'string' || raw.enroller.length > 128) throw new Error('no enroller');
  if (!SAFE_TIME(raw.checkAfter) || !SAFE_TIME(raw.since)) throw new Error('no times');
  if (
    raw.renewing !== undefined &&
    (typeof raw.renewing !== 'string' || !/^[0-9a-f]{64}$/.test(raw.renewing))
  )
    throw new Error('renewing is not a certificate id');
  return {
    profile: raw.profile,
    enroller: raw.enroller,
    privateKey: bytes(raw.privateKey, 16_384, 'privateKey'),
    publicKey: bytes(raw.publicKey, 4096, 'publicKey'),
    state: bytes(raw.state, ENROLLMENT_STATE_MAX_BYTES, 'state'),
    checkAfter: raw.checkAfter,
    since: raw.since,
    ...(typeof raw.renewing === 'string' ? { renewing: raw.renewing } : {}),
  };
}

/**
 * The claims and requests of the given profiles among the directory's token values: bounded
 * (`maxTokenBytes`), dated no further than the clock skew ahead, authenticated, and well-formed,
 * or reported in `skipped` and left alone. Values of other kinds, and of profiles not asked for,
 * are passed over without being opened.
 */
export async function readEnrollmentTokens(
  values: readonly Uint8Array[],
  deps: {
    readonly protector: TokenProtector;
    readonly user: string;
    readonly profiles: readonly string[];
    readonly maxTokenBytes: number;
    readonly maxFuture: number;
  },
): Promise<{ tokens: Map<string, EnrollmentToken>; skipped: SkippedEnrollmentToken[] }> {
  const wanted = new Map<string, { kind: 'claim' | 'request'; profile: string }>();
  for (const profile of deps.profiles) {
    for (const kind of ['claim', 'request'] as const)
      wanted.set(enrollmentTokenId(kind, profile), { kind, profile });
  }
  const tokens = new Map<string, EnrollmentToken>();
  const skipped: SkippedEnrollmentToken[] = [];
  for (const value of values) {
    const decoded = decodeHeader(value, deps.maxTokenBytes);
    if (!decoded.ok) continue; // the sync reports values it cannot decode
    const { header, sealed } = decoded;
    if (header.kind !== 'claim' && header.kind !== 'request') continue;
    const want = wanted.get(header.id);
    if (!want || want.kind !== header.kind) continue;
    const at = { kind: header.kind, id: header.id };
    if (header.modified > deps.maxFuture) {
      skipped.push({
        ...at,
        reason: `dated ${new Date(header.modified).toISOString()}, beyond the allowed clock skew`,
      });
      continue;
    }
    if (header.flags !== 0) {
      skipped.push({ ...at, reason: `flags 0x${header.flags.toString(16)} on an enrollment token` });
      continue;
    }
    let payload: ClaimPayload | RequestPayload;
    try {
      const content = await deps.protector.open({
        kind: SEAL_AS[header.kind],
        sealed,
        aad: associatedData(deps.user, value),
      });
      payload = parsePayload(header.kind, content, want.profile);
    } catch (error) {
      skipped.push({ ...at, reason: errorMessage(error) });
      continue;
    }
    const key = `${header.kind}:${want.profile}`;
    const earlier = tokens.get(key);
    // Two values for one (an old copy beside the newer): the newest is used; both are removed with it.
    const values = [...(earlier?.values ?? []), value];
    const newest =
      earlier && earlier.modified >= header.modified
        ? earlier
        : { kind: header.kind, value, modified: header.modified, payload };
    tokens.set(key, { ...newest, values } as EnrollmentToken);
  }
  return { tokens, skipped };
}
