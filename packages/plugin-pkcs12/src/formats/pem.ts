import { createPrivateKey, X509Certificate } from 'node:crypto';
import { CredroamError } from '@credroam/core/api';
import { pairUp, type ReadResult } from './pkcs12.js';

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;

/**
 * Reads PEM: certificates plus private keys (PKCS#8, encrypted PKCS#8, or traditional RSA/EC),
 * from one text or several. Encrypted keys need `pass`.
 */
export function readPem(texts: readonly string[], pass: string | undefined): ReadResult {
  const certs: Uint8Array[] = [];
  const keys: Uint8Array[] = [];
  for (const text of texts) {
    for (const match of text.matchAll(BLOCK)) {
      const [block, label] = match;
      if (label === 'CERTIFICATE') {
        certs.push(new Uint8Array(new X509Certificate(block).raw));
      } else if (/PRIVATE KEY$/.test(label!)) {
        if (label === 'ENCRYPTED PRIVATE KEY' && pass === undefined) {
          throw new CredroamError(
            'E_PASSWORD_REQUIRED',
            'the private key is encrypted: give its password with --passin',
          );
        }
        try {
          const key = createPrivateKey({
            key: block,
            format: 'pem',
            ...(pass !== undefined ? { passphrase: pass } : {}),
          });
          keys.push(new Uint8Array(key.export({ type: 'pkcs8', format: 'der' })));
        } catch (error) {
          throw new CredroamError(
            'E_PEM',
            `the private key cannot be read (wrong password?): ${(error as Error).message}`,
          );
        }
      }
    }
  }
  return pairUp(certs, keys);
}

export const looksLikePem = (data: Uint8Array): boolean =>
  Buffer.from(data.subarray(0, 4096)).toString('latin1').includes('-----BEGIN ');
