import { createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { CredroamError } from '@credroam/core/api';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { bmpPassword, pbkdf2Params, pkcs12Kdf, type Secret, sequence, type WorkBudget } from './pbe.js';
import { algorithmLabel, DIGESTS, HMACS, OID } from './pkcs12-algorithms.js';

/**
 * Whether the file's MAC (RFC 7292 5.1: HMAC under a key from PKCS#12's derivation, over the
 * authenticated safe) verifies with `secret`; PBMAC1 (RFC 9579: PBKDF2, then HMAC) too. Each try
 * is paid from the budget before any derivation; an algorithm it does not know is an error naming it.
 */
export function macVerifies(
  mac: pkijs.MacData,
  content: Buffer,
  secret: Secret,
  budget: WorkBudget,
): boolean {
  const algorithm = mac.mac.digestAlgorithm;
  const expected = Buffer.from(mac.mac.digest.valueBlock.valueHexView);
  let actual: Buffer;
  if (algorithm.algorithmId === OID.pbmac1) {
    const [kdf, scheme] = sequence(algorithm.algorithmParams, 'PBMAC1-params');
    const [kdfOid, kdfParams] = sequence(kdf, 'the PBMAC1 key derivation');
    const [schemeOid] = sequence(scheme, 'the PBMAC1 scheme');
    const hmac = HMACS.get((schemeOid as asn1js.ObjectIdentifier).valueBlock.toString());
    if ((kdfOid as asn1js.ObjectIdentifier).valueBlock.toString() !== OID.pbkdf2 || !hmac) {
      throw new CredroamError(
        'E_PKCS12_UNSUPPORTED',
        'the file uses a PBMAC1 MAC with algorithms credroam does not read',
      );
    }
    const { salt, iterations, keyLength, prf } = pbkdf2Params(kdfParams, budget, 'MAC');
    if (!keyLength) throw new CredroamError('E_PKCS12_MALFORMED', 'the PBMAC1 MAC has no key length');
    // RFC 9579: PBMAC1 takes the password as UTF-8, not as PKCS#12's BMPString.
    const key = pbkdf2Sync(secret.utf8, salt, iterations, keyLength, prf);
    actual = createHmac(hmac, key).update(content).digest();
  } else {
    const digest = DIGESTS.get(algorithm.algorithmId);
    if (!digest) {
      throw new CredroamError(
        'E_PKCS12_UNSUPPORTED',
        `the file's MAC uses a digest credroam does not read (${algorithmLabel(algorithm.algorithmId)})`,
        { algorithm: algorithm.algorithmId },
      );
    }
    const iterations = mac.iterations ?? 1;
    budget.spend(iterations, 'MAC');
    const salt = Buffer.from(mac.macSalt.valueBlock.valueHexView);
    const key = pkcs12Kdf(digest, secret.bmp, salt, 3, iterations, digest.u);
    actual = createHmac(digest.name, key).update(content).digest();
  }
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** The MAC credroam writes: HMAC-SHA256, its key from PKCS#12's derivation with SHA-256. */
export function makeMac(content: Uint8Array, password: string, iterations: number): pkijs.MacData {
  const salt = randomBytes(16);
  const sha256 = DIGESTS.get(OID.sha256)!;
  const key = pkcs12Kdf(sha256, bmpPassword(password), salt, 3, iterations, sha256.u);
  return new pkijs.MacData({
    mac: new pkijs.DigestInfo({
      digestAlgorithm: new pkijs.AlgorithmIdentifier({
        algorithmId: OID.sha256,
        algorithmParams: new asn1js.Null(),
      }),
      digest: new asn1js.OctetString({ valueHex: createHmac('sha256', key).update(content).digest() }),
    }),
    macSalt: new asn1js.OctetString({ valueHex: salt }),
    iterations,
  });
}
