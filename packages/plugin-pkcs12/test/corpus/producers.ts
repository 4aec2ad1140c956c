/**
 * PKCS#12 files made by the real tools from a key and certificate that openssl made: OpenSSL
 * (`pkcs12 -export`), NSS (`pk12util -o` from a fresh database), GnuTLS (`certtool --to-p12`),
 * Java (`keytool -importkeystore`). Passwords go through files (OpenSSL `file:`, NSS `-w`, GnuTLS
 * a template, keytool `:file`).
 */
import path from 'node:path';
import type { Material } from './keys.js';
import { gnutlsTemplate, mustRun, nssDb, openssl, secretFile } from './tools.js';

let counter = 0;
const unique = (prefix: string) => `${prefix}-${++counter}`;

/** `openssl pkcs12 -export` with `args` (ciphers, MAC, iterations, `-legacy`, …). */
export async function opensslPkcs12(
  m: Material,
  out: string,
  options: { password: string; args?: readonly string[]; name?: string; certfile?: string },
): Promise<string> {
  const passFile = await secretFile(m.dir, `${unique('openssl')}.pass`, options.password);
  await openssl(
    [
      'pkcs12',
      '-export',
      '-in',
      m.cert,
      '-inkey',
      m.key,
      ...(options.certfile ? ['-certfile', options.certfile] : []),
      ...(options.name !== undefined ? ['-name', options.name] : []),
      '-passout',
      options.password === '' ? 'pass:' : `file:${passFile}`,
      '-out',
      out,
      ...(options.args ?? []),
    ],
    m.dir,
  );
  return out;
}

/**
 * NSS: the key and certificate go into a fresh database (through an openssl file), then
 * `pk12util -o` writes them with `-c` key cipher, `-C` certificate cipher and `-M` MAC (its
 * defaults where not given).
 */
export async function nssPkcs12(
  m: Material,
  out: string,
  options: { password: string; keyCipher?: string; certCipher?: string; mac?: string; nickname?: string },
): Promise<string> {
  const nickname = options.nickname ?? m.name;
  const transfer = path.join(m.dir, `${unique('nss-in')}.p12`);
  await opensslPkcs12(m, transfer, { password: 'transfer', name: nickname });
  const transferPw = await secretFile(m.dir, `${unique('nss-transfer')}.pass`, 'transfer');
  const pw = await secretFile(m.dir, `${unique('nss-out')}.pass`, options.password);
  const { db, emptyPw } = await nssDb(m.dir);
  await mustRun('pk12util', ['-i', transfer, '-d', db, '-w', transferPw, '-k', emptyPw], { cwd: m.dir });
  await mustRun(
    'pk12util',
    [
      '-o',
      out,
      '-n',
      nickname,
      '-d',
      db,
      '-w',
      pw,
      '-k',
      emptyPw,
      ...(options.keyCipher ? ['-c', options.keyCipher] : []),
      ...(options.certCipher ? ['-C', options.certCipher] : []),
      ...(options.mac ? ['-M', options.mac] : []),
    ],
    { cwd: m.dir },
  );
  return out;
}

/** GnuTLS `certtool --to-p12` (`--pkcs-cipher`, or `--null-password` / `--empty-password`). */
export async function gnutlsPkcs12(
  m: Material,
  out: string,
  options: { password: string | 'NULL' | 'EMPTY'; cipher?: string; name?: string },
): Promise<string> {
  const secret =
    options.password === 'NULL'
      ? ['--null-password']
      : options.password === 'EMPTY'
        ? ['--empty-password']
        : ['--template', await gnutlsTemplate(m.dir, `${unique('gnutls')}.tmpl`, options.password)];
  await mustRun(
    'certtool',
    [
      '--to-p12',
      '--load-privkey',
      m.key,
      '--load-certificate',
      m.cert,
      '--p12-name',
      options.name ?? m.name,
      ...secret,
      ...(options.cipher ? ['--pkcs-cipher', options.cipher] : []),
      '--outder',
      '--outfile',
      out,
    ],
    { cwd: m.dir },
  );
  return out;
}

/**
 * Java `keytool -importkeystore` from an openssl file into a new PKCS12 keystore (Java's own
 * encoding and defaults); `jvm` options such as `-Dkeystore.pkcs12.legacy` go to the JVM.
 */
export async function keytoolPkcs12(
  m: Material,
  out: string,
  options: { password: string; jvm?: readonly string[]; alias?: string },
): Promise<string> {
  const alias = options.alias ?? m.name;
  const transfer = path.join(m.dir, `${unique('keytool-in')}.p12`);
  await opensslPkcs12(m, transfer, { password: 'transfer', name: alias });
  const transferPw = await secretFile(m.dir, `${unique('keytool-transfer')}.pass`, 'transfer');
  const pw = await secretFile(m.dir, `${unique('keytool-out')}.pass`, options.password);
  await mustRun(
    'keytool',
    [
      ...(options.jvm ?? []).map((o) => `-J${o}`),
      '-importkeystore',
      '-noprompt',
      '-srckeystore',
      transfer,
      '-srcstoretype',
      'PKCS12',
      '-srcstorepass:file',
      transferPw,
      '-destkeystore',
      out,
      '-deststoretype',
      'PKCS12',
      '-deststorepass:file',
      pw,
    ],
    { cwd: m.dir },
  );
  return out;
}
