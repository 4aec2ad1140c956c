/**
 * The consumers of a PKCS#12 file: what each real tool reads out of it. Each returns the
 * certificates and the key it got (as hashes), or `opened: false` with the tool's own words.
 *
 * - OpenSSL: `openssl pkcs12 -legacy -nodes`.
 * - NSS: `pk12util -i` into a fresh `certutil -N --empty-password` database; the certificate from
 *   `certutil -L -r`, the key listed by `certutil -K`, and its value by a `pk12util -o` of it that
 *   openssl reads.
 * - GnuTLS: `certtool --p12-info` (the MAC and the bags), then `certtool --key-info --pkcs8` on the
 *   shrouded key it printed (GnuTLS decrypts the key only there).
 * - keytool: `keytool -list -rfc` (a PrivateKeyEntry and its certificate), and the key's value by a
 *   `keytool -importkeystore` copy that openssl reads.
 */
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ToolName } from './tools.js';
import {
  gnutlsTemplate,
  keyIdentity,
  nssDb,
  pemCertificates,
  pemPrivateKey,
  runTool,
  secretFile,
  sha256,
} from './tools.js';
import { opensslReadsPkcs12 } from './truth.js';

export type ConsumerResult =
  | {
      readonly opened: true;
      readonly certs: readonly string[];
      readonly key?: { readonly pkcs8Sha256: string; readonly spkiSha256: string };
    }
  | { readonly opened: false; readonly why: string };

let counter = 0;
const unique = (prefix: string) => `${prefix}-${++counter}`;
const failed = (tool: string, r: { code: number; stderr: string }): ConsumerResult => ({
  opened: false,
  why: `${tool} exited ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' | ').slice(0, 400)}`,
});

export const CONSUMERS: readonly ToolName[] = ['openssl', 'nss', 'gnutls', 'keytool'];

export function consume(
  tool: ToolName,
  file: string,
  password: string,
  dir: string,
): Promise<ConsumerResult> {
  switch (tool) {
    case 'openssl':
      return opensslConsumes(file, password, dir);
    case 'nss':
      return nssConsumes(file, password, dir);
    case 'gnutls':
      return gnutlsConsumes(file, password, dir);
    case 'keytool':
      return keytoolConsumes(file, password, dir);
  }
}

async function opensslConsumes(file: string, password: string, dir: string): Promise<ConsumerResult> {
  try {
    const truth = await opensslReadsPkcs12(file, password, dir);
    return {
      opened: true,
      certs: truth.allCerts,
      ...(truth.keyPkcs8Sha256
        ? { key: { pkcs8Sha256: truth.keyPkcs8Sha256, spkiSha256: truth.keySpkiSha256! } }
        : {}),
    };
  } catch (error) {
    return { opened: false, why: (error as Error).message.slice(0, 600) };
  }
}

async function nssConsumes(file: string, password: string, dir: string): Promise<ConsumerResult> {
  const { db, emptyPw } = await nssDb(dir);
  const pw = await secretFile(dir, `${unique('nss-read')}.pass`, password);
  const imported = await runTool('pk12util', ['-i', file, '-d', db, '-w', pw, '-k', emptyPw], { cwd: dir });
  if (imported.code !== 0) return failed('pk12util -i', imported);
  const list = await runTool('certutil', ['-L', '-d', db], { cwd: dir });
  if (list.code !== 0) return failed('certutil -L', list);
  const nicknames = list.stdout
    .toString('utf8')
    .split('\n')
    .slice(4)
    .map((l) => /^(.*?)\s+[a-zA-Z]*,[a-zA-Z]*,[a-zA-Z]*\s*$/.exec(l)?.[1])
    .filter((n): n is string => Boolean(n));
  const certs: string[] = [];
  for (const nickname of nicknames) {
    const der = await runTool('certutil', ['-L', '-d', db, '-n', nickname, '-a'], { cwd: dir });
    if (der.code !== 0) return failed(`certutil -L -n ${nickname}`, der);
    certs.push(...pemCertificates(der.stdout.toString('utf8')).map(sha256));
  }
  const keys = await runTool('certutil', ['-K', '-d', db, '-f', emptyPw], { cwd: dir });
  const keyLines = keys.stdout
    .toString('utf8')
    .split('\n')
    .filter((l) => /^<\s*\d+>/.test(l));
  if (keys.code !== 0 || keyLines.length === 0) {
    return { opened: true, certs };
  }
  // The key's value: NSS writes it out again (its defaults), openssl reads that copy.
  const withKey = nicknames.find((n) => keyLines.some((l) => l.includes(n))) ?? nicknames[0];
  const copy = path.join(dir, `${unique('nss-copy')}.p12`);
  const out = await runTool('pk12util', ['-o', copy, '-n', withKey!, '-d', db, '-w', pw, '-k', emptyPw], {
    cwd: dir,
  });
  if (out.code !== 0) return failed('pk12util -o (to read the imported key back)', out);
  const truth = await opensslReadsPkcs12(copy, password, dir);
  return {
    opened: true,
    certs,
    ...(truth.keyPkcs8Sha256
      ? { key: { pkcs8Sha256: truth.keyPkcs8Sha256, spkiSha256: truth.keySpkiSha256! } }
      : {}),
  };
}

async function gnutlsConsumes(file: string, password: string, dir: string): Promise<ConsumerResult> {
  const secret =
    password === ''
      ? ['--empty-password']
      : ['--template', await gnutlsTemplate(dir, `${unique('gnutls-read')}.tmpl`, password)];
  const info = await runTool('certtool', ['--p12-info', '--inder', '--infile', file, ...secret], {
    cwd: dir,
  });
  if (info.code !== 0) return failed('certtool --p12-info', info);
  const text = info.stdout.toString('utf8');
  const certs = pemCertificates(text).map(sha256);
  const shrouded = /-----BEGIN ENCRYPTED PRIVATE KEY-----[\s\S]+?-----END ENCRYPTED PRIVATE KEY-----/.exec(
    text,
  );
  let keyPem = text;
  if (shrouded) {
    const keyFile = path.join(dir, `${unique('gnutls-key')}.pem`);
    await writeFile(keyFile, `${shrouded[0]}\n`);
    const key = await runTool('certtool', ['--key-info', '--pkcs8', '--infile', keyFile, ...secret], {
      cwd: dir,
    });
    if (key.code !== 0) return failed('certtool --key-info --pkcs8 (the shrouded key)', key);
    keyPem = key.stdout.toString('utf8');
  }
  const key = pemPrivateKey(keyPem, curveOf(pemCertificates(text)));
  return { opened: true, certs, ...(key ? { key: keyIdentity(key) } : {}) };
}

/** The named curve of the first EC certificate (GnuTLS prints EC keys without their curve). */
function curveOf(certs: readonly Buffer[]): string | undefined {
  for (const der of certs) {
    const curve = new X509Certificate(der).publicKey.asymmetricKeyDetails?.namedCurve;
    if (curve) return curve;
  }
  return undefined;
}

async function keytoolConsumes(file: string, password: string, dir: string): Promise<ConsumerResult> {
  const pw = await secretFile(dir, `${unique('keytool-read')}.pass`, password);
  const list = await runTool(
    'keytool',
    ['-list', '-rfc', '-keystore', file, '-storetype', 'PKCS12', '-storepass:file', pw],
    { cwd: dir },
  );
  if (list.code !== 0) return failed('keytool -list', list);
  const text = list.stdout.toString('utf8');
  const certs = pemCertificates(text).map(sha256);
  if (!/Entry type: PrivateKeyEntry/.test(text)) return { opened: true, certs };
  const copy = path.join(dir, `${unique('keytool-copy')}.p12`);
  const out = await runTool(
    'keytool',
    [
      '-importkeystore',
      '-noprompt',
      '-srckeystore',
      file,
      '-srcstoretype',
      'PKCS12',
      '-srcstorepass:file',
      pw,
      '-destkeystore',
      copy,
      '-deststoretype',
      'PKCS12',
      '-deststorepass:file',
      pw,
    ],
    { cwd: dir },
  );
  if (out.code !== 0) return failed('keytool -importkeystore (to read the key back)', out);
  const truth = await opensslReadsPkcs12(copy, password, dir);
  return {
    opened: true,
    certs,
    ...(truth.keyPkcs8Sha256
      ? { key: { pkcs8Sha256: truth.keyPkcs8Sha256, spkiSha256: truth.keySpkiSha256! } }
      : {}),
  };
}
