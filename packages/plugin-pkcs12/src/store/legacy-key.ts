import { createDecipheriv, createPrivateKey, pbkdf2 } from 'node:crypto';
import { promisify } from 'node:util';
import * as asn1js from 'asn1js';
import { checkKeyCost } from '../formats/key-cost.js';
import { octets, pbkdf2Params, sequence, WorkBudget } from '../formats/pbe.js';
import { OID } from '../formats/pkcs12-algorithms.js';

const pbkdf2Async = promisify(pbkdf2);

/**
 * The iterations a key file of the earlier format may ask for: what credroam wrote with Node's
 * `KeyObject.export({ cipher: 'aes-256-cbc', passphrase })`, OpenSSL's fixed PKCS5_DEFAULT_ITER.
 * A file asking for more was not written by credroam, and costs nothing before it is refused.
 */
export const LEGACY_MAX_ITERATIONS = 2048;

export type OpenedLegacyKey =
  | {
      readonly ok: true;
      readonly pkcs8: Uint8Array /** Which of the at-rest keys opened it. */;
      readonly index: number;
    }
  | { readonly ok: false; readonly reason: string };

/**
 * Opens a private key at rest in the earlier format (decision 023): PKCS#8 EncryptedPrivateKeyInfo,
 * PBES2 with PBKDF2 (HMAC-SHA-256 or SHA-1, at most `LEGACY_MAX_ITERATIONS`) and AES-256-CBC, whose
 * password is the at-rest key. Only that shape is read: any other scheme, key derivation or cipher
 * (scrypt, a legacy cipher OpenSSL would run in a child) is refused before any derivation. Each
 * at-rest key is tried, oldest master key first. Returns the key as PKCS#8 DER, as OpenSSL
 * re-encodes it (what the earlier store listed). Never throws.
 */
export async function openLegacyKey(
  data: Uint8Array,
  atRestKeys: readonly Uint8Array[],
): Promise<OpenedLegacyKey> {
  let salt: Buffer;
  let iterations: number;
  let prf: string;
  let iv: Buffer;
  let encrypted: Buffer;
  try {
    const { result, offset } = asn1js.fromBER(data);
    if (offset !== data.length) throw new Error('not one DER structure');
    const [algorithm, encryptedData] = sequence(result, 'EncryptedPrivateKeyInfo');
    const [oid, params] = sequence(algorithm, 'the encryption algorithm');
    if (!(oid instanceof asn1js.ObjectIdentifier) || oid.valueBlock.toString() !== OID.pbes2) {
      return { ok: false, reason: 'not a key file credroam wrote: its encryption is not PBES2' };
    }
    const [kdf, scheme] = sequence(params, 'PBES2-params');
    const [kdfOid, kdfParams] = sequence(kdf, 'the key derivation');
    if (!(kdfOid instanceof asn1js.ObjectIdentifier) || kdfOid.valueBlock.toString() !== OID.pbkdf2) {
      return { ok: false, reason: 'not a key file credroam wrote: its key derivation is not PBKDF2' };
    }
    const derivation = pbkdf2Params(kdfParams, new WorkBudget(LEGACY_MAX_ITERATIONS), 'private key file');
    if (derivation.keyLength !== undefined && derivation.keyLength !== 32) {
      return { ok: false, reason: `its PBKDF2 key length is ${derivation.keyLength}, not 32` };
    }
    if (derivation.prf !== 'sha256' && derivation.prf !== 'sha1') {
      return { ok: false, reason: `not a key file credroam wrote: its PBKDF2 uses HMAC-${derivation.prf}` };
    }
    if (derivation.salt.length > 64) return { ok: false, reason: 'its PBKDF2 salt is longer than 64 bytes' };
    const [cipherOid, cipherIv] = sequence(scheme, 'the encryption scheme');
    if (
      !(cipherOid instanceof asn1js.ObjectIdentifier) ||
      cipherOid.valueBlock.toString() !== OID.aes256cbc
    ) {
      return { ok: false, reason: 'not a key file credroam wrote: its cipher is not AES-256-CBC' };
    }
    salt = derivation.salt;
    iterations = derivation.iterations;
    prf = derivation.prf;
    iv = octets(cipherIv);
    encrypted = octets(encryptedData);
    if (iv.length !== 16) return { ok: false, reason: 'its AES-256-CBC IV is not 16 bytes' };
    if (encrypted.length === 0 || encrypted.length % 16 !== 0) {
      return { ok: false, reason: 'its encrypted key is not a whole number of AES blocks' };
    }
  } catch (error) {
    return { ok: false, reason: `not a key file credroam reads: ${(error as Error).message}` };
  }
  for (const [index, password] of atRestKeys.entries()) {
    const key = await pbkdf2Async(password, salt, iterations, 32, prf);
    let plain: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-cbc', key, iv);
      plain = Buffer.concat([decipher.update(encrypted), decipher.final()]);
    } catch {
      continue; // another master key's at-rest key (bad padding), or not ours
    }
    try {
      checkKeyCost(plain);
      const parsed = createPrivateKey({ key: plain, format: 'der', type: 'pkcs8' });
      return { ok: true, pkcs8: new Uint8Array(parsed.export({ type: 'pkcs8', format: 'der' })), index };
    } catch {
      // padding that happened to check out under a wrong key: try the next one
    }
  }
  return { ok: false, reason: 'cannot decrypt: not encrypted under this user’s keys' };
}
