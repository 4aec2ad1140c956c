import { createPrivateKey, type KeyObject, sign } from 'node:crypto';
import { CredroamError } from '@credroam/core/api';
import type * as asn1js from 'asn1js';
import * as asn1 from 'asn1js';
import { oid, seq } from './asn1/der.js';
import { OID } from './asn1/oids.js';

/**
 * Signs with a PKCS#8 private key, as the proof of possession: RSA (PKCS#1 v1.5, SHA-256) and
 * ECDSA P-256 / P-384 (SHA-256 / SHA-384). Other keys are a profile CMP cannot serve here (`E_POLICY`).
 */
export interface Signer {
  /** The signature's AlgorithmIdentifier. */
  readonly algorithm: asn1js.Sequence;
  sign(data: Uint8Array): Uint8Array;
}

export function signerFor(pkcs8: Uint8Array, profile: string): Signer {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
  } catch (error) {
    throw new CredroamError(
      'E_POLICY',
      `profile '${profile}': the key to enroll cannot be read (${(error as Error).message})`,
    );
  }
  if (key.asymmetricKeyType === 'rsa')
    return {
      algorithm: seq(oid(OID.sha256WithRSA), new asn1.Null()),
      sign: (data) => sign('sha256', data, key),
    };
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const hash = curve === 'prime256v1' ? 'sha256' : curve === 'secp384r1' ? 'sha384' : undefined;
    if (hash)
      return {
        algorithm: seq(oid(hash === 'sha256' ? OID.ecdsaWithSha256 : OID.ecdsaWithSha384)),
        sign: (data) => sign(hash, data, { key, dsaEncoding: 'der' }),
      };
  }
  const what =
    key.asymmetricKeyType === 'ec' ? `EC ${key.asymmetricKeyDetails?.namedCurve}` : key.asymmetricKeyType;
  throw new CredroamError(
    'E_POLICY',
    `profile '${profile}': the cmp enroller signs with RSA and EC P-256 or P-384 keys, not ${what}`,
  );
}
