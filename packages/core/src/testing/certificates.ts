import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A CA chain made by the real `openssl`: a root, an intermediate, and a leaf with its key. */
export interface OpensslChain {
  /** DER. */
  readonly root: Uint8Array;
  readonly intermediate: Uint8Array;
  readonly leaf: Uint8Array;
  /** The leaf's key, PKCS#8 DER (unencrypted). */
  readonly leafKey: Uint8Array;
  /** PEM files in `dir`: `root.pem`, `intermediate.pem`, `leaf.pem`, `leaf.key.pem`, `chain.pem` (intermediate, root). */
  readonly dir: string;
}

/**
 * Makes a root CA, an intermediate CA and a leaf (P-256) with `openssl` in `dir`; `name` is the
 * leaf's common name. For tests of chains and friendly names.
 */
export async function opensslChain(dir: string, name = 'alice'): Promise<OpensslChain> {
  const ssl = (args: readonly string[]) => run('openssl', [...args], { cwd: dir, encoding: 'utf8' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await writeFile(
    path.join(dir, 'ca.ext'),
    'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n',
  );
  await writeFile(
    path.join(dir, 'leaf.ext'),
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n',
  );
  await ssl([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'root.key.pem',
    '-out',
    'root.pem',
    '-days',
    '3650',
    '-subj',
    '/CN=Test Root CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await ssl([
    'req',
    ...ec,
    '-keyout',
    'intermediate.key.pem',
    '-out',
    'intermediate.csr',
    '-subj',
    '/CN=Test Intermediate CA',
  ]);
  await ssl([
    'x509',
    '-req',
    '-in',
    'intermediate.csr',
    '-CA',
    'root.pem',
    '-CAkey',
    'root.key.pem',
    '-CAcreateserial',
    '-out',
    'intermediate.pem',
    '-days',
    '3650',
    '-extfile',
    'ca.ext',
  ]);
  await ssl(['req', ...ec, '-keyout', 'leaf.key.pem', '-out', 'leaf.csr', '-subj', `/CN=${name}`]);
  await ssl([
    'x509',
    '-req',
    '-in',
    'leaf.csr',
    '-CA',
    'intermediate.pem',
    '-CAkey',
    'intermediate.key.pem',
    '-CAcreateserial',
    '-out',
    'leaf.pem',
    '-days',
    '30',
    '-extfile',
    'leaf.ext',
  ]);
  const der = async (file: string) =>
    new Uint8Array(
      (await run('openssl', ['x509', '-in', file, '-outform', 'DER'], { cwd: dir, encoding: 'buffer' }))
        .stdout,
    );
  const key = (
    await run('openssl', ['pkcs8', '-topk8', '-nocrypt', '-in', 'leaf.key.pem', '-outform', 'DER'], {
      cwd: dir,
      encoding: 'buffer',
    })
  ).stdout;
  await writeFile(
    path.join(dir, 'chain.pem'),
    (await readFile(path.join(dir, 'intermediate.pem'), 'utf8')) +
      (await readFile(path.join(dir, 'root.pem'), 'utf8')),
  );
  return {
    root: await der('root.pem'),
    intermediate: await der('intermediate.pem'),
    leaf: await der('leaf.pem'),
    leafKey: new Uint8Array(key),
    dir,
  };
}
