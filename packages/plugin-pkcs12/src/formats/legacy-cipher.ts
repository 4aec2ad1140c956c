import { spawn } from 'node:child_process';
import { createDecipheriv } from 'node:crypto';
import { CredroamError } from '@credroam/core/api';

/** The outcome of one decryption: the plain text, or the padding did not check (a wrong key). */
export type Deciphered = { readonly ok: true; readonly data: Buffer } | { readonly ok: false };

/** How long a child that decrypts with OpenSSL's legacy provider may run. */
const CHILD_TIMEOUT_MS = 20_000;

/**
 * Decrypts with OpenSSL's cipher `name` (CBC with PKCS#7 padding, or RC4). OpenSSL 3 keeps RC2,
 * RC4 and single DES in its legacy provider, which a Node process loads only when it starts with
 * `--openssl-legacy-provider`: for those, one short-lived Node child with that flag decrypts, fed
 * through its standard input (key and data never in its arguments). Nothing here is a
 * hand-written cipher; credroam never encrypts with these.
 */
export async function decipher(
  name: string,
  key: Buffer,
  iv: Buffer | null,
  data: Buffer,
  beforeChild: () => void = () => undefined,
): Promise<Deciphered> {
  let d: ReturnType<typeof createDecipheriv>;
  try {
    d = createDecipheriv(name, key, iv);
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_OSSL_EVP_UNSUPPORTED') throw error;
    beforeChild();
    return decipherWithLegacyProvider(name, key, iv, data);
  }
  try {
    return { ok: true, data: Buffer.concat([d.update(data), d.final()]) };
  } catch {
    return { ok: false };
  }
}

const CHILD = `
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (c) => { input += c; });
process.stdin.on('end', () => {
  const { name, key, iv, data } = JSON.parse(input);
  let d;
  try {
    d = require('node:crypto').createDecipheriv(name, Buffer.from(key, 'base64'), iv === null ? null : Buffer.from(iv, 'base64'));
  } catch (e) {
    process.stdout.write('UNSUPPORTED ' + (e.code || ''));
    return;
  }
  try {
    process.stdout.write('OK ' + Buffer.concat([d.update(Buffer.from(data, 'base64')), d.final()]).toString('base64'));
  } catch {
    process.stdout.write('BAD');
  }
});`;

async function decipherWithLegacyProvider(
  name: string,
  key: Buffer,
  iv: Buffer | null,
  data: Buffer,
): Promise<Deciphered> {
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', CHILD], {
      stdio: ['pipe', 'pipe', 'ignore'],
      env: {},
      timeout: CHILD_TIMEOUT_MS,
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (c: string) => {
      out += c;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal) resolve('TIMEOUT');
      else resolve(code === 0 ? out : `UNSUPPORTED exit ${code}`);
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(
      JSON.stringify({
        name,
        key: key.toString('base64'),
        iv: iv === null ? null : iv.toString('base64'),
        data: data.toString('base64'),
      }),
    );
  });
  if (output.startsWith('OK ')) return { ok: true, data: Buffer.from(output.slice(3), 'base64') };
  if (output === 'BAD') return { ok: false };
  if (output === 'TIMEOUT') {
    throw new CredroamError(
      'E_PKCS12_UNSUPPORTED',
      `decrypting ${name.toUpperCase()} took longer than ${CHILD_TIMEOUT_MS / 1000} s and was stopped`,
      { cipher: name },
    );
  }
  throw new CredroamError(
    'E_PKCS12_LEGACY',
    `the file is encrypted with ${name.toUpperCase()}, which this Node's OpenSSL cannot decrypt (it has no legacy provider). ` +
      "Run credroam with a Node whose OpenSSL has it (Node.js's own builds and Debian's do), or convert the file with OpenSSL 3: " +
      'openssl pkcs12 -legacy -in OLD.p12 -nodes -out plain.pem, then openssl pkcs12 -export -in plain.pem -out NEW.p12 (and delete plain.pem)',
    { cipher: name },
  );
}
