import { createPrivateKey, createPublicKey, type KeyObject, sign } from 'node:crypto';
import { CredroamError } from '@credroam/core/api';

/** A request's RSA key pair as node:crypto keys, and its SubjectPublicKeyInfo (DER). */
export interface RsaKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly spki: Uint8Array;
}

/**
 * The key pair as an RSA key, or `E_POLICY`: SCEP encrypts the CA's reply to the requester's key
 * (RSA key transport, RFC 8894 §3.5.2), so an EC or Ed25519 key cannot enroll over SCEP.
 */
export function rsaKey(key: { readonly privateKey: Uint8Array }, profile: string, what = 'key'): RsaKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: Buffer.from(key.privateKey), format: 'der', type: 'pkcs8' });
  } catch (error) {
    throw new CredroamError('E_POLICY', `the ${what} for profile '${profile}' is not a PKCS#8 private key`, {
      profile,
      cause: (error as Error).message,
    });
  }
  if (privateKey.asymmetricKeyType !== 'rsa')
    throw new CredroamError(
      'E_POLICY',
      `profile '${profile}' asks for a ${privateKey.asymmetricKeyType} key, but SCEP needs an RSA key ` +
        '(the CA encrypts its reply to it): set the profile\'s key to { "type": "rsa" }',
      { profile, keyType: privateKey.asymmetricKeyType },
    );
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, spki: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })) };
}

/** An RSA PKCS#1 v1.5 signature with SHA-256 over `data`. */
export const signSha256 = (data: Uint8Array | ArrayBuffer, key: KeyObject): Uint8Array =>
  new Uint8Array(sign('sha256', new Uint8Array(data), key));
