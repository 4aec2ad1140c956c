import { createPrivateKey, type KeyObject } from 'node:crypto';
import { CredroamError } from '@credroam/core/api';

/** A private key given as a PEM block (any of OpenSSL's forms) or as DER (PKCS#8, PKCS#1, SEC1). */
export type KeyInput =
  | { readonly pem: string; readonly label: string }
  | { readonly der: Uint8Array; readonly encrypted: boolean };

const isEncrypted = (input: KeyInput): boolean =>
  'pem' in input
    ? input.label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type: 4,ENCRYPTED/.test(input.pem)
    : input.encrypted;

const what = (input: KeyInput) => ('pem' in input ? `${input.label} block` : 'private key file');

/**
 * Reads a private key with OpenSSL (through Node) and returns it as PKCS#8 DER. An encrypted key
 * without a password, a wrong password, a key OpenSSL cannot read: each the project's own error,
 * what OpenSSL said kept as its cause; nothing is imported.
 */
export function readPrivateKey(input: KeyInput, password: string | undefined): Uint8Array {
  const encrypted = isEncrypted(input);
  if (encrypted && password === undefined) {
    throw new CredroamError(
      'E_PASSWORD_REQUIRED',
      'the private key is encrypted: give its password with --passin',
    );
  }
  const passphrase = encrypted ? { passphrase: password } : {};
  let key: KeyObject | undefined;
  let cause: unknown;
  if ('pem' in input) {
    try {
      key = createPrivateKey({ key: input.pem, format: 'pem', ...passphrase });
    } catch (error) {
      cause = error;
    }
  } else {
    for (const type of encrypted ? (['pkcs8'] as const) : (['pkcs8', 'pkcs1', 'sec1'] as const)) {
      try {
        key = createPrivateKey({ key: Buffer.from(input.der), format: 'der', type, ...passphrase });
        break;
      } catch (error) {
        cause ??= error;
      }
    }
  }
  if (key) return new Uint8Array(key.export({ type: 'pkcs8', format: 'der' }));
  if (encrypted) {
    throw new CredroamError(
      'E_WRONG_PASSWORD',
      `the ${what(input)} does not open with the --passin password; nothing was imported`,
      {},
      { cause },
    );
  }
  throw new CredroamError(
    'E_PEM',
    `the ${what(input)} is not a private key credroam can read (damaged, or an unsupported algorithm); nothing was imported`,
    {},
    { cause },
  );
}
