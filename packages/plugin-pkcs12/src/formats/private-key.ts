import { createPrivateKey, type KeyObject } from 'node:crypto';
import { CredroamError } from '@credroam/core/api';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { checkKeyCost } from './key-cost.js';
import { octets, pbeDecrypt, secretsFor, sequence, type WorkBudget } from './pbe.js';

/**
 * A private key given as a PEM block (any of OpenSSL's forms: its text, label and decoded bytes)
 * or as DER (PKCS#8 clear or encrypted, PKCS#1, SEC1).
 */
export type KeyInput =
  | { readonly pem: string; readonly label: string; readonly der: Uint8Array }
  | { readonly der: Uint8Array; readonly encrypted: boolean };

const what = (input: KeyInput) => ('pem' in input ? `${input.label} block` : 'private key file');

const unreadable = (input: KeyInput, cause: unknown): never => {
  throw new CredroamError(
    'E_PEM',
    `the ${what(input)} is not a private key credroam can read (damaged, or an unsupported algorithm); nothing was imported`,
    {},
    { cause },
  );
};
const wrongPassword = (input: KeyInput, cause?: unknown): never => {
  throw new CredroamError(
    'E_WRONG_PASSWORD',
    `the ${what(input)} does not open with the --passin password; nothing was imported`,
    {},
    { cause },
  );
};

/**
 * Reads a private key and returns it as PKCS#8 DER. Encrypted PKCS#8 is decrypted here, under the
 * same bounds as a PKCS#12 file (`budget`); keys with parameters that would make OpenSSL compute
 * for minutes are refused before it sees them. An encrypted key without a password, a wrong
 * password, a key OpenSSL cannot read: each the project's own error; nothing is imported.
 */
export async function readPrivateKey(
  input: KeyInput,
  password: string | undefined,
  budget: WorkBudget,
): Promise<Uint8Array> {
  const pkcs8Encrypted = 'pem' in input ? input.label === 'ENCRYPTED PRIVATE KEY' : input.encrypted;
  const traditionalEncrypted = 'pem' in input && /Proc-Type: 4,ENCRYPTED/.test(input.pem);
  if ((pkcs8Encrypted || traditionalEncrypted) && password === undefined) {
    throw new CredroamError(
      'E_PASSWORD_REQUIRED',
      'the private key is encrypted: give its password with --passin',
    );
  }
  if (pkcs8Encrypted) return decryptPkcs8(input, password!, budget);
  let key: KeyObject | undefined;
  let cause: unknown;
  if ('pem' in input) {
    if (input.label === 'PRIVATE KEY') checkKeyCost(input.der);
    if (input.label === 'DSA PRIVATE KEY' && !traditionalEncrypted) checkKeyCost(input.der, 'dsa');
    try {
      key = createPrivateKey({
        key: input.pem,
        format: 'pem',
        ...(traditionalEncrypted ? { passphrase: password } : {}),
      });
    } catch (error) {
      cause = error;
    }
  } else {
    checkKeyCost(input.der);
    for (const type of ['pkcs8', 'pkcs1', 'sec1'] as const) {
      try {
        key = createPrivateKey({ key: Buffer.from(input.der), format: 'der', type });
        break;
      } catch (error) {
        cause ??= error;
      }
    }
  }
  if (key) return new Uint8Array(key.export({ type: 'pkcs8', format: 'der' }));
  return traditionalEncrypted ? wrongPassword(input, cause) : unreadable(input, cause);
}

/** EncryptedPrivateKeyInfo (RFC 5958): decrypted with the PKCS#12 reader's schemes and bounds. */
async function decryptPkcs8(input: KeyInput, password: string, budget: WorkBudget): Promise<Uint8Array> {
  let algorithm: pkijs.AlgorithmIdentifier;
  let encrypted: Buffer;
  try {
    const { result, offset } = asn1js.fromBER(input.der);
    if (offset !== input.der.byteLength) throw new Error('not one DER element');
    const [alg, data] = sequence(result, 'EncryptedPrivateKeyInfo');
    algorithm = new pkijs.AlgorithmIdentifier({ schema: alg });
    encrypted = octets(data);
  } catch (error) {
    return unreadable(input, error);
  }
  const decryption = await pbeDecrypt(algorithm, encrypted, secretsFor(password)[0]!, budget, 'private key');
  if (!decryption.result.ok) return wrongPassword(input);
  const plain = new Uint8Array(decryption.result.data);
  try {
    checkKeyCost(plain);
    return new Uint8Array(
      createPrivateKey({ key: Buffer.from(plain), format: 'der', type: 'pkcs8' }).export({
        type: 'pkcs8',
        format: 'der',
      }),
    );
  } catch (error) {
    if (error instanceof CredroamError) throw error;
    // Padding that happened to check under a wrong key leaves bytes that are not a key.
    return wrongPassword(input, error);
  }
}
