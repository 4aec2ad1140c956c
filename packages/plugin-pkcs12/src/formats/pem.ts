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
        try {
          certs.push(new Uint8Array(new X509Certificate(block).raw));
        } catch {
          throw new CredroamError(
            'E_PEM',
            `certificate ${certs.length + 1} in the PEM text is not a valid X.509 certificate (damaged or truncated base64?); nothing was imported`,
          );
        }
      } else if (/PRIVATE KEY$/.test(label!)) {
        if (isEncrypted(label!, block) && pass === undefined) {
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
          throw keyError(label!, block, pass !== undefined, error);
        }
      }
    }
  }
  return pairUp(certs, keys);
}

const isEncrypted = (label: string, block: string): boolean =>
  label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type: 4,ENCRYPTED/.test(block);

/** The project's own error for a PEM key that does not read (what OpenSSL said is kept as the cause). */
function keyError(label: string, block: string, withPassword: boolean, cause: unknown): CredroamError {
  if (isEncrypted(label, block) && withPassword) {
    return new CredroamError(
      'E_WRONG_PASSWORD',
      `the ${label} does not open with the --passin password; nothing was imported`,
      {},
      { cause },
    );
  }
  return new CredroamError(
    'E_PEM',
    `the ${label} block is not a private key credroam can read (damaged, or an unsupported algorithm); nothing was imported`,
    {},
    { cause },
  );
}

export const looksLikePem = (data: Uint8Array): boolean =>
  Buffer.from(data.subarray(0, 4096)).toString('latin1').includes('-----BEGIN ');
