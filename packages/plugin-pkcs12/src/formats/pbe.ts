import { createCipheriv, hash, pbkdf2, randomBytes, type ScryptOptions, scrypt } from 'node:crypto';
import { promisify } from 'node:util';
import { CredroamError } from '@credroam/core/api';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { type Deciphered, decipher } from './legacy-cipher.js';
import {
  algorithmLabel,
  type Cipher,
  DIGESTS,
  type Digest,
  HMAC_OID,
  HMACS,
  OID,
  PBES1,
  PBES2_CIPHERS,
  PKCS12_PBE,
  RC2_VERSIONS,
} from './pkcs12-algorithms.js';

const pbkdf2Async = promisify(pbkdf2);
const scryptAsync = promisify(scrypt) as (
  password: Buffer,
  salt: Buffer,
  length: number,
  options: ScryptOptions,
) => Promise<Buffer>;

/**
 * A password in the forms PKCS#12 uses: `bmp` (UTF-16BE with a terminating NUL, for PKCS#12's own
 * key derivation, RFC 7292 B.1) and `utf8` (for PBKDF2 and PBKDF1). `none` is the truly empty
 * password: no bytes at all, not even the NUL, which some tools key a file "without a password" with.
 */
export interface Secret {
  readonly form: 'given' | 'empty' | 'none';
  readonly bmp: Buffer;
  readonly utf8: Buffer;
}

/** A password as PKCS#12's derivation takes it: UTF-16BE with a terminating NUL (RFC 7292 B.1). */
export function bmpPassword(password: string): Buffer {
  const out = Buffer.alloc(password.length * 2 + 2);
  for (let i = 0; i < password.length; i++) out.writeUInt16BE(password.charCodeAt(i), i * 2);
  return out;
}

/** The forms to try, in order: the password given, then the empty one, then none at all. */
export function secretsFor(password: string | undefined): Secret[] {
  const empty: Secret = { form: 'empty', bmp: bmpPassword(''), utf8: Buffer.alloc(0) };
  const none: Secret = { form: 'none', bmp: Buffer.alloc(0), utf8: Buffer.alloc(0) };
  if (password === undefined || password === '') return [empty, none];
  return [{ form: 'given', bmp: bmpPassword(password), utf8: Buffer.from(password, 'utf8') }, empty, none];
}

/**
 * The total work of a file, in multiples of the bound on one derivation. GnuTLS and NSS write
 * 3DES files with 600 000 iterations: key, IV and MAC derivations come to 4.2 million hash runs.
 */
const TOTAL_FACTOR = 8;

/** The key-derivation work a file may ask for: per derivation, and in total (every bag, every try). */
export class WorkBudget {
  #left: number;
  constructor(readonly maxIterations: number) {
    this.#left = maxIterations * TOTAL_FACTOR;
  }
  #legacy = 0;

  /**
   * Pays for one derivation of `iterations`, each costing `blocks` hash or HMAC runs (PKCS#12's
   * derivation runs the hash once per output block): refused above the bound for one derivation,
   * or when the file's total would pass four times that bound.
   */
  spend(iterations: number, where: string, blocks = 1): void {
    if (iterations === Number.POSITIVE_INFINITY || iterations > this.maxIterations) {
      throw new CredroamError(
        'E_PKCS12_ITERATIONS',
        `the ${where} asks for ${iterations === Number.POSITIVE_INFINITY ? 'more than 2^53' : iterations} iterations; the limit is ${this.maxIterations}`,
        { limit: this.maxIterations },
      );
    }
    if (!Number.isSafeInteger(iterations) || iterations < 1) {
      throw new CredroamError('E_PKCS12_MALFORMED', `the ${where} has an invalid iteration count`);
    }
    this.#left -= iterations * blocks;
    if (this.#left < 0) {
      throw new CredroamError(
        'E_PKCS12_ITERATIONS',
        `the file asks for more key derivations in total than the limit allows (${this.maxIterations * TOTAL_FACTOR} hash runs)`,
        { limit: this.maxIterations * TOTAL_FACTOR },
      );
    }
  }

  /** Pays for one decryption by a legacy-provider child (about 0.1 s each): a few per file. */
  spendLegacyChild(where: string): void {
    if (++this.#legacy > MAX_LEGACY_CHILDREN) {
      throw new CredroamError(
        'E_PKCS12_UNSUPPORTED',
        `the file holds more than ${MAX_LEGACY_CHILDREN} parts in legacy encryption (the ${where} is one too many)`,
      );
    }
  }
}

/** Legacy-encrypted parts one file may hold (a real file has one or two: certificates and key). */
const MAX_LEGACY_CHILDREN = 8;

/** PKCS#12's key derivation (RFC 7292 B.2): `id` 1 = key, 2 = IV, 3 = MAC key. Native hashing. */
export function pkcs12Kdf(
  digest: Digest,
  password: Buffer,
  salt: Buffer,
  id: 1 | 2 | 3,
  iterations: number,
  length: number,
): Buffer {
  const { name, u, v } = digest;
  const repeat = (src: Buffer) => {
    const out = Buffer.alloc(src.length === 0 ? 0 : v * Math.ceil(src.length / v));
    for (let i = 0; i < out.length; i++) out[i] = src[i % src.length]!;
    return out;
  };
  const D = Buffer.alloc(v, id);
  const I = Buffer.concat([repeat(salt), repeat(password)]);
  const blocks: Buffer[] = [];
  for (let i = 0, c = Math.ceil(length / u); i < c; i++) {
    let A = hash(name, Buffer.concat([D, I]), 'buffer') as Buffer;
    for (let j = 1; j < iterations; j++) A = hash(name, A, 'buffer') as Buffer;
    blocks.push(A);
    if (i + 1 < c) {
      // I_j = (I_j + B + 1) mod 2^(8v) for each v-byte block I_j, B being A repeated to v bytes.
      const B = Buffer.alloc(v);
      for (let k = 0; k < v; k++) B[k] = A[k % u]!;
      for (let j = 0; j < I.length; j += v) {
        let carry = 1;
        for (let k = v - 1; k >= 0; k--) {
          carry += I[j + k]! + B[k]!;
          I[j + k] = carry & 0xff;
          carry >>>= 8;
        }
      }
    }
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** What was decrypted and with what, for the notice the import prints. */
export interface Decryption {
  readonly result: Deciphered;
  /** The algorithm as a person reads it, e.g. `pbeWithSHAAnd40BitRC2-CBC` or `PBES2 (AES-256-CBC)`. */
  readonly algorithm: string;
  /** Legacy PKCS#12 or PBES1 encryption (what credroam reads and never writes). */
  readonly legacy: boolean;
}

const octets = (v: asn1js.BaseBlock | undefined): Buffer => {
  if (!(v instanceof asn1js.OctetString)) throw new Error('expected an OCTET STRING');
  if (!v.idBlock.isConstructed) return Buffer.from(v.valueBlock.valueHexView);
  return Buffer.concat(v.valueBlock.value.map((part) => octets(part)));
};
/** An INTEGER's value; negative ones are -1, and ones beyond 2^53 are Infinity (over any bound). */
const integer = (v: asn1js.BaseBlock | undefined): number => {
  if (!(v instanceof asn1js.Integer)) throw new Error('expected an INTEGER');
  const bytes = v.valueBlock.valueHexView;
  if (bytes.length === 0) throw new Error('an empty INTEGER');
  if (bytes[0]! & 0x80) return -1;
  if (bytes.length > 7) return Number.POSITIVE_INFINITY;
  return bytes.reduce((n, b) => n * 256 + b, 0);
};
/** The elements of a SEQUENCE, or an error naming what was expected. */
const sequence = (v: asn1js.BaseBlock | undefined, what: string): asn1js.BaseBlock[] => {
  if (!(v instanceof asn1js.Sequence)) throw new Error(`${what} is not a SEQUENCE`);
  return v.valueBlock.value;
};

/** The parameters of PBKDF2 (RFC 8018 A.2), checked against the budget. */
export function pbkdf2Params(
  params: asn1js.BaseBlock | undefined,
  budget: WorkBudget,
  where: string,
): { salt: Buffer; iterations: number; keyLength?: number; prf: string } {
  const [salt, iterations, ...rest] = sequence(params, 'PBKDF2-params');
  let keyLength: number | undefined;
  let prf = 'sha1';
  for (const r of rest) {
    if (r instanceof asn1js.Integer) keyLength = integer(r);
    else {
      const [oid] = sequence(r, 'the PBKDF2 PRF');
      const id = (oid as asn1js.ObjectIdentifier).valueBlock.toString();
      const name = HMACS.get(id);
      if (!name) {
        throw new CredroamError(
          'E_PKCS12_UNSUPPORTED',
          `the ${where} uses an unsupported PBKDF2 PRF (${id})`,
        );
      }
      prf = name;
    }
  }
  if (keyLength !== undefined && (keyLength < 1 || keyLength > 64)) {
    throw new CredroamError('E_PKCS12_MALFORMED', `the ${where} asks PBKDF2 for a key of ${keyLength} bytes`);
  }
  if (!(salt instanceof asn1js.OctetString)) {
    throw new CredroamError(
      'E_PKCS12_UNSUPPORTED',
      `the ${where} uses a PBKDF2 salt that is not an OCTET STRING`,
    );
  }
  const n = integer(iterations);
  budget.spend(n, where);
  return { salt: octets(salt), iterations: n, ...(keyLength !== undefined ? { keyLength } : {}), prf };
}

/**
 * Decrypts `data` under the password-based scheme `alg` names: PBES2 (PBKDF2 with any HMAC, and
 * AES, 3DES, Camellia, ARIA, SM4, DES or RC2 in CBC mode), PKCS#12's own schemes (SHA-1 with 3DES,
 * 2-key 3DES, RC2 or RC4), or PBES1 (MD5/SHA-1 with DES or RC2). Bounded by `budget` before any
 * derivation; a scheme it does not know is an error naming its OID.
 */
export async function pbeDecrypt(
  alg: pkijs.AlgorithmIdentifier,
  data: Buffer,
  secret: Secret,
  budget: WorkBudget,
  where: string,
): Promise<Decryption> {
  const id = alg.algorithmId;
  try {
    const p12 = PKCS12_PBE.get(id);
    if (p12) {
      const [salt, iterations] = sequence(alg.algorithmParams, 'pkcs-12PbeParams');
      const n = integer(iterations);
      const sha1 = DIGESTS.get('1.3.14.3.2.26')!;
      budget.spend(n, where, Math.ceil(p12.keyLength / sha1.u) + Math.ceil(p12.ivLength / sha1.u));
      const key = pkcs12Kdf(sha1, secret.bmp, octets(salt), 1, n, p12.keyLength);
      const iv = p12.ivLength ? pkcs12Kdf(sha1, secret.bmp, octets(salt), 2, n, p12.ivLength) : null;
      return {
        result: await decipher(p12.name, key, iv, data, () => budget.spendLegacyChild(where)),
        algorithm: p12.label,
        legacy: true,
      };
    }
    const p1 = PBES1.get(id);
    if (p1) {
      const [salt, iterations] = sequence(alg.algorithmParams, 'PBEParameter');
      const n = integer(iterations);
      budget.spend(n, where);
      let t = hash(p1.digest, Buffer.concat([secret.utf8, octets(salt)]), 'buffer') as Buffer;
      for (let i = 1; i < n; i++) t = hash(p1.digest, t, 'buffer') as Buffer;
      return {
        result: await decipher(p1.name, t.subarray(0, 8), t.subarray(8, 16), data, () =>
          budget.spendLegacyChild(where),
        ),
        algorithm: p1.label,
        legacy: true,
      };
    }
    if (id === OID.pbes2) return await pbes2Decrypt(alg, data, secret, budget, where);
  } catch (error) {
    if (error instanceof CredroamError) throw error;
    throw new CredroamError(
      'E_PKCS12_MALFORMED',
      `the ${where}'s encryption parameters (${algorithmLabel(id)}) are malformed: ${(error as Error).message}`,
    );
  }
  throw new CredroamError('E_PKCS12_UNSUPPORTED', `the ${where} uses an unsupported encryption (${id})`, {
    algorithm: id,
  });
}

async function pbes2Decrypt(
  alg: pkijs.AlgorithmIdentifier,
  data: Buffer,
  secret: Secret,
  budget: WorkBudget,
  where: string,
): Promise<Decryption> {
  const [kdf, scheme] = sequence(alg.algorithmParams, 'PBES2-params');
  const [kdfOid, kdfParams] = sequence(kdf, 'the key derivation');
  const kdfId = (kdfOid as asn1js.ObjectIdentifier).valueBlock.toString();
  if (kdfId !== OID.pbkdf2 && kdfId !== OID.scrypt) {
    throw new CredroamError(
      'E_PKCS12_UNSUPPORTED',
      `the ${where} uses an unsupported key derivation (${kdfId})`,
    );
  }
  const [schemeOid, schemeParams] = sequence(scheme, 'the encryption scheme');
  const schemeId = (schemeOid as asn1js.ObjectIdentifier).valueBlock.toString();
  let cipher: Cipher | undefined = PBES2_CIPHERS.get(schemeId);
  let iv: Buffer;
  if (schemeId === '1.2.840.113549.3.2') {
    // RC2-CBC-Parameter ::= SEQUENCE { rc2ParameterVersion INTEGER OPTIONAL, iv OCTET STRING }
    const parts = sequence(schemeParams, 'RC2-CBC-Parameter');
    const version = parts.length === 2 ? integer(parts[0]) : 32;
    cipher = RC2_VERSIONS.get(version);
    if (!cipher) {
      throw new CredroamError('E_PKCS12_UNSUPPORTED', `the ${where} uses RC2 with ${version} as its version`);
    }
    iv = octets(parts.at(-1));
  } else {
    if (!cipher) {
      throw new CredroamError(
        'E_PKCS12_UNSUPPORTED',
        `the ${where} uses an unsupported cipher (${schemeId})`,
        {
          algorithm: schemeId,
        },
      );
    }
    iv = octets(schemeParams);
  }
  const derivation =
    kdfId === OID.scrypt ? scryptParams(kdfParams, where) : pbkdf2Params(kdfParams, budget, where);
  const length = derivation.keyLength ?? cipher.keyLength;
  if (length !== cipher.keyLength || iv.length !== cipher.ivLength) {
    throw new CredroamError(
      'E_PKCS12_MALFORMED',
      `the ${where}'s ${cipher.name.toUpperCase()} key or IV has the wrong length`,
    );
  }
  const key =
    'N' in derivation
      ? await scryptAsync(secret.utf8, derivation.salt, length, {
          N: derivation.N,
          r: derivation.r,
          p: derivation.p,
          maxmem: SCRYPT_MAX_MEMORY + 1024 * 1024,
        })
      : await pbkdf2Async(secret.utf8, derivation.salt, derivation.iterations, length, derivation.prf);
  const kdfName = 'N' in derivation ? 'scrypt' : `PBKDF2-HMAC-${derivation.prf.toUpperCase()}`;
  return {
    result: await decipher(cipher.name, key as Buffer, iv, data, () => budget.spendLegacyChild(where)),
    algorithm: `PBES2 (${kdfName}, ${cipher.name.toUpperCase()})`,
    legacy: cipher.legacy === true,
  };
}

/** The most memory a scrypt derivation in a file may take (128·N·r), as the keyring's default ceiling. */
const SCRYPT_MAX_MEMORY = 256 * 1024 * 1024;
/** The most work (N·r·p) one scrypt derivation may ask for: OpenSSL's `-scrypt` default is 2^14·8·1. */
const SCRYPT_MAX_WORK = 2 ** 24;

/** scrypt-params (RFC 7914 7): checked against the bounds before any derivation. */
function scryptParams(
  params: asn1js.BaseBlock | undefined,
  where: string,
): { salt: Buffer; N: number; r: number; p: number; keyLength?: number } {
  const [salt, n, r, p, keyLength] = sequence(params, 'scrypt-params');
  const N = integer(n);
  const R = integer(r);
  const P = integer(p);
  const bad = (what: string): never => {
    throw new CredroamError('E_PKCS12_ITERATIONS', `the ${where} asks scrypt for ${what}`);
  };
  if (!Number.isSafeInteger(N) || N < 2 || (N & (N - 1)) !== 0) bad(`N = ${N}, not a power of two it takes`);
  if (!Number.isSafeInteger(R) || R < 1 || !Number.isSafeInteger(P) || P < 1) bad(`r = ${R}, p = ${P}`);
  if (128 * N * R > SCRYPT_MAX_MEMORY)
    bad(`${(128 * N * R) / 2 ** 20} MiB; the limit is ${SCRYPT_MAX_MEMORY / 2 ** 20} MiB`);
  if (N * R * P > SCRYPT_MAX_WORK) bad(`N·r·p = ${N * R * P}; the limit is ${SCRYPT_MAX_WORK}`);
  const length = keyLength === undefined ? undefined : integer(keyLength);
  if (length !== undefined && (length < 1 || length > 64)) bad(`a key of ${length} bytes`);
  return { salt: octets(salt), N, r: R, p: P, ...(length !== undefined ? { keyLength: length } : {}) };
}

/** What credroam writes: PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC (RFC 8018 6.2, A.2, B.2.5). */
export async function pbes2Encrypt(
  data: Uint8Array,
  password: string,
  iterations: number,
): Promise<{ algorithm: pkijs.AlgorithmIdentifier; encrypted: Buffer }> {
  const salt = randomBytes(16);
  const iv = randomBytes(16);
  const key = await pbkdf2Async(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const c = createCipheriv('aes-256-cbc', key, iv);
  const encrypted = Buffer.concat([c.update(data), c.final()]);
  const algorithm = new pkijs.AlgorithmIdentifier({
    algorithmId: OID.pbes2,
    algorithmParams: new asn1js.Sequence({
      value: [
        new asn1js.Sequence({
          value: [
            new asn1js.ObjectIdentifier({ value: OID.pbkdf2 }),
            new asn1js.Sequence({
              value: [
                new asn1js.OctetString({ valueHex: salt }),
                new asn1js.Integer({ value: iterations }),
                new asn1js.Sequence({
                  value: [new asn1js.ObjectIdentifier({ value: HMAC_OID.sha256! }), new asn1js.Null()],
                }),
              ],
            }),
          ],
        }),
        new asn1js.Sequence({
          value: [
            new asn1js.ObjectIdentifier({ value: OID.aes256cbc }),
            new asn1js.OctetString({ valueHex: iv }),
          ],
        }),
      ],
    }),
  });
  return { algorithm, encrypted };
}

export { octets, sequence };
