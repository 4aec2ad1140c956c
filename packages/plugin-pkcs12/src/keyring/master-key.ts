import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHash,
  createPublicKey,
  type KeyObject,
  pbkdf2,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  scrypt,
} from 'node:crypto';
import { promisify } from 'node:util';
import { CredroamError } from '@credroam/core/api';

const scryptAsync = promisify(scrypt) as (
  password: Uint8Array,
  salt: Uint8Array,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;
const pbkdf2Async = promisify(pbkdf2);

/** How a password becomes a key-encryption key. Stored with each wrapped key; bounded before use. */
export type KdfParams =
  | { readonly name: 'scrypt'; readonly N: number; readonly r: number; readonly p: number }
  | { readonly name: 'pbkdf2-sha256'; readonly iterations: number };

/** Defaults: OWASP's scrypt recommendation (N = 2^17, r = 8, p = 1: ~0.4 s and 128 MiB here). */
export const DEFAULT_KDF: KdfParams = { name: 'scrypt', N: 2 ** 17, r: 8, p: 1 };

/** Hard bounds: a wrapped key naming parameters outside them is refused before any work. */
export const KDF_BOUNDS = {
  scrypt: { minN: 2 ** 14, maxN: 2 ** 20, minR: 8, maxR: 32, maxP: 16, maxMemory: 1024 * 1024 * 1024 },
  pbkdf2: { min: 100_000, max: 10_000_000 },
} as const;

/** One master key wrapped for the directory, as stored in its `keys` attribute (JSON, UTF-8). */
export type WrappedKey =
  | {
      readonly format: 'credroam-master-key';
      readonly version: 1;
      readonly keyId: string;
      readonly created: number;
      /** The user it is wrapped for (also bound into the AEAD); absent in the first values written. */
      readonly user?: string;
      readonly wrap: 'password';
      readonly kdf: KdfParams & { readonly salt: string };
      readonly nonce: string;
      readonly ciphertext: string;
    }
  | {
      readonly format: 'credroam-master-key';
      readonly version: 1;
      readonly keyId: string;
      readonly created: number;
      readonly user?: string;
      readonly wrap: 'escrow';
      /** SHA-256 (hex) of the escrow public key's SubjectPublicKeyInfo. */
      readonly escrowKey: string;
      readonly ciphertext: string;
    };

export const MAX_WRAPPED_BYTES = 4096;

const b64 = (v: Uint8Array) => Buffer.from(v).toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64');
const label = (user: string, keyId: string) =>
  Buffer.from(`credroam-master-key-v1\0${user}\0${keyId}`, 'utf8');

export function checkKdf(kdf: KdfParams): void {
  if (kdf.name === 'scrypt') {
    const b = KDF_BOUNDS.scrypt;
    const ok =
      Number.isInteger(kdf.N) &&
      kdf.N >= b.minN &&
      kdf.N <= b.maxN &&
      (kdf.N & (kdf.N - 1)) === 0 &&
      Number.isInteger(kdf.r) &&
      kdf.r >= b.minR &&
      kdf.r <= b.maxR &&
      Number.isInteger(kdf.p) &&
      kdf.p >= 1 &&
      kdf.p <= b.maxP &&
      128 * kdf.N * kdf.r * kdf.p <= b.maxMemory;
    if (!ok) {
      throw new CredroamError(
        'E_KDF_BOUNDS',
        `scrypt parameters N=${kdf.N} r=${kdf.r} p=${kdf.p} are outside the allowed bounds (N 2^14..2^20, r 8..32, p 1..16, at most 1 GiB)`,
      );
    }
    return;
  }
  if (kdf.name === 'pbkdf2-sha256') {
    const b = KDF_BOUNDS.pbkdf2;
    if (!Number.isInteger(kdf.iterations) || kdf.iterations < b.min || kdf.iterations > b.max) {
      throw new CredroamError(
        'E_KDF_BOUNDS',
        `PBKDF2 iterations ${kdf.iterations} are outside the allowed bounds (${b.min}..${b.max})`,
      );
    }
    return;
  }
  throw new CredroamError('E_KDF_BOUNDS', `unknown key derivation '${(kdf as { name: string }).name}'`);
}

/**
 * The most work a wrapped key from the directory may ask of this endpoint, below the hard bounds:
 * a site sets it in the policy (`protection.kdfCeiling`); a value above it is skipped, not derived.
 */
export interface KdfCeiling {
  /** scrypt: 128 · N · r · p bytes at most. */
  readonly scryptMaxMemoryMiB: number;
  readonly pbkdf2MaxIterations: number;
}

export const DEFAULT_KDF_CEILING: KdfCeiling = { scryptMaxMemoryMiB: 256, pbkdf2MaxIterations: 2_000_000 };

/** Why `kdf` is above `ceiling`, or undefined when it is within it (the hard bounds are checked apart). */
export function aboveCeiling(kdf: KdfParams, ceiling: KdfCeiling): string | undefined {
  if (kdf.name === 'scrypt') {
    const mib = (128 * kdf.N * kdf.r * kdf.p) / 2 ** 20;
    return mib > ceiling.scryptMaxMemoryMiB
      ? `scrypt needs ${mib} MiB, above the policy's ceiling of ${ceiling.scryptMaxMemoryMiB} MiB`
      : undefined;
  }
  if (kdf.name === 'pbkdf2-sha256' && kdf.iterations > ceiling.pbkdf2MaxIterations)
    return `PBKDF2 with ${kdf.iterations} iterations, above the policy's ceiling of ${ceiling.pbkdf2MaxIterations}`;
  return undefined;
}

/** Derives the key-encryption key from a password; the password is normalised (NFC) first. */
export async function deriveKek(password: string, kdf: KdfParams, salt: Uint8Array): Promise<Buffer> {
  checkKdf(kdf);
  const pw = Buffer.from(password.normalize('NFC'), 'utf8');
  try {
    if (kdf.name === 'scrypt') {
      return await scryptAsync(pw, salt, 32, {
        N: kdf.N,
        r: kdf.r,
        p: kdf.p,
        maxmem: 256 * kdf.N * kdf.r * kdf.p,
      });
    }
    return await pbkdf2Async(pw, salt, kdf.iterations, 32, 'sha256');
  } finally {
    pw.fill(0);
  }
}

export function newKeyId(): string {
  return randomBytes(8).toString('hex');
}

export async function wrapWithPassword(
  masterKey: Uint8Array,
  o: { user: string; keyId: string; created: number; password: string; kdf: KdfParams },
): Promise<WrappedKey> {
  const salt = randomBytes(16);
  const kek = await deriveKek(o.password, o.kdf, salt);
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', kek, nonce);
  cipher.setAAD(label(o.user, o.keyId));
  const ciphertext = Buffer.concat([cipher.update(masterKey), cipher.final(), cipher.getAuthTag()]);
  kek.fill(0);
  return {
    format: 'credroam-master-key',
    version: 1,
    keyId: o.keyId,
    created: o.created,
    user: o.user,
    wrap: 'password',
    kdf: { ...o.kdf, salt: b64(salt) },
    nonce: b64(nonce),
    ciphertext: b64(ciphertext),
  };
}

/** Opens a password-wrapped key; undefined when the password does not open it. */
export async function unwrapWithPassword(
  w: WrappedKey,
  user: string,
  password: string,
): Promise<Buffer | undefined> {
  if (w.wrap !== 'password') return undefined;
  const { salt, ...kdf } = w.kdf;
  const kek = await deriveKek(password, kdf as KdfParams, unb64(salt));
  const data = unb64(w.ciphertext);
  try {
    const decipher = createDecipheriv('aes-256-gcm', kek, unb64(w.nonce));
    decipher.setAAD(label(user, w.keyId));
    decipher.setAuthTag(data.subarray(data.length - 16));
    return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]);
  } catch {
    return undefined;
  } finally {
    kek.fill(0);
  }
}

export function escrowKeyId(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

/** Wraps to the site's escrow public key (RSA-OAEP-SHA256, at least 3072 bits). */
export function wrapForEscrow(
  masterKey: Uint8Array,
  o: { user: string; keyId: string; created: number; escrowPublicKeyPem: string },
): WrappedKey {
  const publicKey = createPublicKey(o.escrowPublicKeyPem);
  if (publicKey.asymmetricKeyType !== 'rsa' || (publicKey.asymmetricKeyDetails?.modulusLength ?? 0) < 3072) {
    throw new CredroamError('E_POLICY', 'the escrow public key must be an RSA key of at least 3072 bits');
  }
  const ciphertext = publicEncrypt(
    {
      key: publicKey,
      padding: constants.RSA_PKCS1_OAEP_PADDING,
      oaepHash: 'sha256',
      oaepLabel: label(o.user, o.keyId),
    },
    masterKey,
  );
  return {
    format: 'credroam-master-key',
    version: 1,
    keyId: o.keyId,
    created: o.created,
    user: o.user,
    wrap: 'escrow',
    escrowKey: escrowKeyId(publicKey),
    ciphertext: b64(ciphertext),
  };
}

export function unwrapWithEscrow(w: WrappedKey, user: string, privateKey: KeyObject): Buffer | undefined {
  if (w.wrap !== 'escrow') return undefined;
  try {
    return privateDecrypt(
      {
        key: privateKey,
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: 'sha256',
        oaepLabel: label(user, w.keyId),
      },
      unb64(w.ciphertext),
    );
  } catch {
    return undefined;
  }
}

export function encodeWrapped(w: WrappedKey): Uint8Array {
  return new Uint8Array(Buffer.from(JSON.stringify(w), 'utf8'));
}

/** Parses a wrapped key from the directory (untrusted): bounded, shape-checked; undefined if unusable. */
export function decodeWrapped(value: Uint8Array): WrappedKey | undefined {
  if (value.length > MAX_WRAPPED_BYTES) return undefined;
  let w: WrappedKey;
  try {
    w = JSON.parse(Buffer.from(value).toString('utf8')) as WrappedKey;
  } catch {
    return undefined;
  }
  if (w?.format !== 'credroam-master-key' || w.version !== 1) return undefined;
  if (typeof w.keyId !== 'string' || !/^[0-9a-f]{16}$/.test(w.keyId) || typeof w.created !== 'number')
    return undefined;
  if (typeof w.ciphertext !== 'string') return undefined;
  if (w.user !== undefined && typeof w.user !== 'string') return undefined;
  if (w.wrap === 'password') {
    if (
      typeof w.nonce !== 'string' ||
      typeof w.kdf !== 'object' ||
      w.kdf === null ||
      typeof w.kdf.salt !== 'string'
    ) {
      return undefined;
    }
    return w;
  }
  if (w.wrap === 'escrow') return typeof w.escrowKey === 'string' ? w : undefined;
  return undefined;
}
