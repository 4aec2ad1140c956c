/**
 * What `openssl` itself reads out of a file: the expectations of the corpus come from here, never
 * from what the test wrote in (a tool may change a key's encoding, drop a name, add a certificate).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { certSpkiSha256, keyIdentity, openssl, pemCertificates, pemPrivateKey, sha256 } from './tools.js';

export interface Truth {
  /** SHA-256 of the DER of the certificate the key belongs to (or the only/first certificate). */
  readonly certSha256: string;
  readonly keySpkiSha256?: string;
  /** SHA-256 of Node's PKCS#8 re-encoding of the key openssl printed. */
  readonly keyPkcs8Sha256?: string;
  /** The other certificates in the file (the CA chain), SHA-256 of each, in openssl's order. */
  readonly chain: readonly string[];
  /** Every certificate in the file. */
  readonly allCerts: readonly string[];
  readonly friendlyName?: string;
}

let counter = 0;

/**
 * `openssl pkcs12 -legacy -nodes` on `file`: the key, the certificate whose public key matches it,
 * the rest as chain, and the friendly name of the key's bag (else the certificate's). `password`
 * undefined gives openssl an empty one (it tries the truly empty and the BMP empty password).
 */
export async function opensslReadsPkcs12(
  file: string,
  password: string | undefined,
  cwd: string,
): Promise<Truth> {
  const passFile = path.join(cwd, `truth-${++counter}.pass`);
  await writeFile(passFile, password ?? '', { mode: 0o600 });
  const passin = password === undefined || password === '' ? 'pass:' : `file:${passFile}`;
  const out = (await openssl(['pkcs12', '-legacy', '-in', file, '-passin', passin, '-nodes'], cwd)).toString(
    'utf8',
  );
  const key = pemPrivateKey(out);
  const certs = pemCertificates(out);
  if (certs.length === 0) throw new Error(`openssl reads no certificate in ${file}`);
  const id = key ? keyIdentity(key) : undefined;
  const leafIndex = id ? certs.findIndex((c) => certSpkiSha256(c) === id.spkiSha256) : 0;
  if (leafIndex < 0) throw new Error(`openssl reads a key that matches no certificate in ${file}`);
  const leaf = certs[leafIndex]!;
  const names = friendlyNames(out);
  const friendlyName = names.key ?? names.certs[leafIndex];
  return {
    certSha256: sha256(leaf),
    ...(id ? { keySpkiSha256: id.spkiSha256, keyPkcs8Sha256: id.pkcs8Sha256 } : {}),
    chain: certs.filter((_, i) => i !== leafIndex).map(sha256),
    allCerts: certs.map(sha256),
    ...(friendlyName !== undefined ? { friendlyName } : {}),
  };
}

/** The `friendlyName:` bag attribute printed before each block of `openssl pkcs12` output. */
function friendlyNames(out: string): { key?: string; certs: (string | undefined)[] } {
  const result: { key?: string; certs: (string | undefined)[] } = { certs: [] };
  for (const segment of out.split(/-----END [A-Z ]+-----/)) {
    const begin = /-----BEGIN ([A-Z ]+)-----/.exec(segment);
    if (!begin) continue;
    const head = segment.slice(0, begin.index);
    const name = /^\s*friendlyName: (.*)$/m.exec(head)?.[1];
    if (begin[1] === 'CERTIFICATE') result.certs.push(name);
    else if (/PRIVATE KEY/.test(begin[1]!)) result.key ??= name;
  }
  return result;
}

/** The certificates `openssl` reads in a certificate file (`x509`, or `pkcs7 -print_certs`). */
export async function opensslReadsCertificates(
  file: string,
  kind: 'der' | 'pem' | 'p7b',
  cwd: string,
): Promise<Truth> {
  let certs: Buffer[];
  if (kind === 'p7b') {
    const pemOrDer = (await import('node:fs/promises')).readFile(file, 'latin1');
    const inform = (await pemOrDer).includes('-----BEGIN') ? 'PEM' : 'DER';
    certs = pemCertificates(
      (await openssl(['pkcs7', '-in', file, '-inform', inform, '-print_certs'], cwd)).toString('utf8'),
    );
  } else {
    certs = [
      await openssl(['x509', '-in', file, '-inform', kind === 'der' ? 'DER' : 'PEM', '-outform', 'DER'], cwd),
    ];
  }
  if (certs.length === 0) throw new Error(`openssl reads no certificate in ${file}`);
  return { certSha256: sha256(certs[0]!), chain: [], allCerts: certs.map(sha256) };
}
