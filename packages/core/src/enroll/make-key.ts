import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import type { EnrollmentKey } from '../api/points/enroller.js';
import type { EnrollmentKeySpec } from './profile.js';

const generate = promisify(generateKeyPair);

/** A key made on this endpoint for a profile (node:crypto): PKCS#8 and SPKI DER. */
export async function makeKey(spec: EnrollmentKeySpec): Promise<EnrollmentKey> {
  const pair =
    spec.type === 'rsa'
      ? await generate('rsa', { modulusLength: spec.bits })
      : await generate('ec', { namedCurve: spec.curve === 'P-256' ? 'prime256v1' : 'secp384r1' });
  return {
    privateKey: new Uint8Array(pair.privateKey.export({ type: 'pkcs8', format: 'der' })),
    publicKey: new Uint8Array(pair.publicKey.export({ type: 'spki', format: 'der' })),
  };
}
