import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * A private key at rest, `keys/<id>.p8` (docs/decisions/023-keys-at-rest.md): its PKCS#8 DER
 * sealed with AES-256-GCM under a key derived once from the user's at-rest key, with a header that
 * says what the file is. All numbers are big-endian.
 *
 * | offset | bytes | field                                                                     |
 * |--------|-------|---------------------------------------------------------------------------|
 * | 0      | 4     | magic `CRKA` (never 0x30: a PKCS#8 file of the earlier format is DER)     |
 * | 4      | 1     | format version: 1                                                         |
 * | 5      | 1     | kind: 1 = private key, PKCS#8 DER                                         |
 * | 6      | 2     | reserved: 0                                                               |
 * | 8      | 8     | the master key whose at-rest key seals it (the keyring's key id)          |
 * | 16     | 32    | the key's id: SHA-256 of its SubjectPublicKeyInfo, the file's name        |
 * | 48     | 4     | n: length of the ciphertext (that of the PKCS#8), at most `MAX_SEALED_KEY` |
 * | 52     | 12    | nonce, random for every write                                             |
 * | 64     | n     | ciphertext                                                                |
 * | 64 + n | 16    | GCM tag                                                                   |
 *
 * The associated data is the whole header (bytes 0–63): format version, kind, master key, id and
 * length are authenticated with the content, so a file that is altered, truncated, extended,
 * sealed for another id and put under this name, or given another version or kind, fails to open.
 * The sealing key is HKDF-SHA256(at-rest key, info `credroam/at-rest/key-file/v1`, 32 bytes):
 * never the at-rest key itself, which the earlier format used as a PBKDF2 password.
 */
export const SEALED_KEY_MAGIC = Buffer.from('CRKA', 'latin1');
export const SEALED_KEY_VERSION = 1;
export const SEALED_KEY_KIND_PKCS8 = 1;
export const SEALED_KEY_HEADER = 64;
const TAG = 16;
/** The largest PKCS#8 sealed (a 16 384-bit RSA key is under 10 KiB; a token is at most 64 KiB). */
export const MAX_SEALED_KEY = 65_536;
/** The largest key file read from the store, of either format: larger ones are refused unread. */
export const MAX_KEY_FILE = SEALED_KEY_HEADER + MAX_SEALED_KEY + TAG;

const HEX64 = /^[0-9a-f]{64}$/;
const HEX16 = /^[0-9a-f]{16}$/;

/** The key that seals key files under one at-rest key. */
export function sealingKey(atRestKey: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', atRestKey, Buffer.alloc(0), 'credroam/at-rest/key-file/v1', 32));
}

/** Whether `data` claims to be this format (its magic); the earlier format is DER and starts with 0x30. */
export function isSealedKey(data: Uint8Array): boolean {
  return data.length >= 4 && Buffer.from(data.buffer, data.byteOffset, 4).equals(SEALED_KEY_MAGIC);
}

/** Seals a PKCS#8 key of id `id` under the master key `keyId`'s sealing key. */
export function sealKey(input: {
  readonly pkcs8: Uint8Array;
  readonly id: string;
  readonly keyId: string;
  readonly key: Uint8Array;
}): Uint8Array {
  if (!HEX64.test(input.id)) throw new Error(`not a key id: ${input.id}`);
  if (!HEX16.test(input.keyId)) throw new Error(`not a master key id: ${input.keyId}`);
  if (input.pkcs8.length === 0 || input.pkcs8.length > MAX_SEALED_KEY) {
    throw new Error(
      `a private key of ${input.pkcs8.length} bytes is outside the bounds (1–${MAX_SEALED_KEY})`,
    );
  }
  const header = Buffer.alloc(SEALED_KEY_HEADER);
  SEALED_KEY_MAGIC.copy(header, 0);
  header[4] = SEALED_KEY_VERSION;
  header[5] = SEALED_KEY_KIND_PKCS8;
  header.write(input.keyId, 8, 'hex');
  header.write(input.id, 16, 'hex');
  header.writeUInt32BE(input.pkcs8.length, 48);
  randomBytes(12).copy(header, 52);
  const cipher = createCipheriv('aes-256-gcm', input.key, header.subarray(52, 64));
  cipher.setAAD(header);
  const body = Buffer.concat([cipher.update(input.pkcs8), cipher.final()]);
  return new Uint8Array(Buffer.concat([header, body, cipher.getAuthTag()]));
}

export interface SealedKeyHeader {
  readonly version: number;
  /** The master key that sealed it (16 hex digits). */
  readonly keyId: string;
  /** The key's id (64 hex digits). */
  readonly id: string;
}

export type DecodedSealedKey =
  | { readonly ok: true; readonly header: SealedKeyHeader }
  | { readonly ok: false; readonly reason: string };

/**
 * Reads the header of a sealed key file and checks its shape against the file's length; never
 * throws, and never trusts a length it reads beyond checking it against the bytes there are.
 */
export function decodeSealedKey(data: Uint8Array): DecodedSealedKey {
  const fail = (reason: string): DecodedSealedKey => ({ ok: false, reason });
  if (!isSealedKey(data)) return fail('not a credroam key file');
  if (data.length < SEALED_KEY_HEADER + TAG + 1) {
    return fail(`truncated: ${data.length} bytes, less than a header, one byte and a tag`);
  }
  if (data.length > MAX_KEY_FILE)
    return fail(`${data.length} bytes, more than a key file holds (${MAX_KEY_FILE})`);
  const b = Buffer.from(data.buffer, data.byteOffset, data.length);
  const version = b[4]!;
  if (version !== SEALED_KEY_VERSION) {
    return fail(
      `key file format ${version}, which this credroam does not read (it reads ${SEALED_KEY_VERSION}): written by a newer version?`,
    );
  }
  if (b[5] !== SEALED_KEY_KIND_PKCS8) return fail(`holds kind ${b[5]}, not a private key`);
  if (b.readUInt16BE(6) !== 0) return fail('its reserved header bytes are not zero');
  const length = b.readUInt32BE(48);
  if (length > MAX_SEALED_KEY)
    return fail(`its header claims ${length} bytes of key, more than ${MAX_SEALED_KEY}`);
  if (length !== b.length - SEALED_KEY_HEADER - TAG) {
    return fail(
      `its header claims ${length} bytes of key, the file holds ${b.length - SEALED_KEY_HEADER - TAG}: truncated or extended`,
    );
  }
  return {
    ok: true,
    header: {
      version,
      keyId: b.subarray(8, 16).toString('hex'),
      id: b.subarray(16, 48).toString('hex'),
    },
  };
}

export type OpenedSealedKey =
  | { readonly ok: true; readonly pkcs8: Uint8Array; readonly header: SealedKeyHeader }
  | { readonly ok: false; readonly reason: string };

/**
 * Opens a sealed key file found under the name of key `expectedId` with the sealing keys held (by
 * master key id). Never throws: a file of another format version or kind, a header that does not
 * match the file's length, a key sealed for another id, under a master key not held, or one whose
 * tag fails, is a reason.
 */
export function openSealedKey(
  data: Uint8Array,
  expectedId: string,
  keys: ReadonlyMap<string, Uint8Array>,
): OpenedSealedKey {
  const decoded = decodeSealedKey(data);
  if (!decoded.ok) return decoded;
  const { header } = decoded;
  if (header.id !== expectedId) {
    return { ok: false, reason: `it is sealed as key ${header.id}, not the key its name says` };
  }
  const key = keys.get(header.keyId);
  if (key === undefined) {
    return {
      ok: false,
      reason: `sealed under master key ${header.keyId}, which this user’s keys do not hold`,
    };
  }
  const b = Buffer.from(data.buffer, data.byteOffset, data.length);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, b.subarray(52, 64), { authTagLength: TAG });
    decipher.setAAD(b.subarray(0, SEALED_KEY_HEADER));
    decipher.setAuthTag(b.subarray(b.length - TAG));
    const pkcs8 = Buffer.concat([
      decipher.update(b.subarray(SEALED_KEY_HEADER, b.length - TAG)),
      decipher.final(),
    ]);
    return { ok: true, pkcs8: new Uint8Array(pkcs8), header };
  } catch {
    return { ok: false, reason: 'it failed authentication: altered, or not sealed with this user’s keys' };
  }
}
