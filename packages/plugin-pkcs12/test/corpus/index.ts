/**
 * A corpus of PKCS#12 files and certificates made in the test run by the real tools (OpenSSL 3,
 * NSS, GnuTLS, keytool): every cipher, MAC digest, iteration count and password form they write,
 * legacy included, and certificates OpenSSL reads though they are odd. Each case says the class
 * its file must fall in: `imported` with the certificate and key `openssl` itself reads out of the
 * file (see truth.ts), or `refused` with a true reason (an error code).
 *
 * `corpusSpecs()` lists the cases by name (tests are declared from it before anything is made);
 * `spec.make(ctx)` makes one case's file(s). `makeCorpus(dir)` makes them all into `dir`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ErrorCode } from '@credroam/core/api';
import { KEY_LABEL, type KeyType, type Material, makeChain, makeCredential } from './keys.js';
import { gnutlsPkcs12, keytoolPkcs12, nssPkcs12, opensslPkcs12 } from './producers.js';
import { FULL, openssl, runTool, sha256, type ToolName } from './tools.js';
import { opensslReadsCertificates, opensslReadsPkcs12, type Truth } from './truth.js';

export type Expect =
  | {
      readonly class: 'imported';
      readonly certSha256: string;
      readonly keySpkiSha256?: string;
      readonly keyPkcs8Sha256?: string;
      /** The CA certificates the credential must keep (as many as openssl reads beside the leaf). */
      readonly chainLength?: number;
      readonly friendlyName?: string;
      /** Every certificate in the file: nothing else may come out of it. */
      readonly allCerts: readonly string[];
      /**
       * Set for encodings the issue does not promise (PBES2 with Blowfish, CAST5, SEED, SM4, RC2;
       * PBES1 RC2-64; MACs with SM3, RIPEMD-160, BLAKE2, MD4, Whirlpool): refusing the file with this
       * code is also a true answer; importing anything but openssl's certificate and key is not.
       */
      readonly orRefused?: ErrorCode;
      /** Legacy encryption: the import says what it read (a notice). */
      readonly notice?: true;
    }
  | { readonly class: 'refused'; readonly code: readonly ErrorCode[] };

export interface CorpusCase {
  readonly name: string;
  readonly paths: readonly string[];
  readonly files: readonly Uint8Array[];
  /** What `readCredentials` is given; `undefined` is "no --passin". */
  readonly password: string | undefined;
  readonly expect: Expect;
}

export interface CorpusContext {
  /** A fresh folder for this case's files. */
  readonly dir: string;
  /** Keys and certificates shared by the cases (made once per folder). */
  material(keyType: KeyType): Promise<Material>;
  chain(): Promise<Awaited<ReturnType<typeof makeChain>>>;
}

export interface CaseSpec {
  readonly name: string;
  /** The tools it needs besides openssl. */
  readonly tool: ToolName;
  /** What the case must come to, in words (the test title's end). */
  readonly outcome: string;
  /** Only in `CREDROAM_INTEROP=full`. */
  readonly full?: boolean;
  make(ctx: CorpusContext): Promise<CorpusCase>;
}

const PASSWORD = 'corpus-secret';

const imported = (
  truth: Truth,
  extra: { orRefused?: ErrorCode; chain?: boolean; notice?: boolean } = {},
): Expect => ({
  class: 'imported',
  certSha256: truth.certSha256,
  ...(truth.keySpkiSha256
    ? { keySpkiSha256: truth.keySpkiSha256, keyPkcs8Sha256: truth.keyPkcs8Sha256! }
    : {}),
  ...(extra.chain ? { chainLength: truth.chain.length } : {}),
  ...(truth.friendlyName !== undefined ? { friendlyName: truth.friendlyName } : {}),
  allCerts: truth.allCerts,
  ...(extra.orRefused ? { orRefused: extra.orRefused } : {}),
  ...(extra.notice ? { notice: true as const } : {}),
});

async function fileCase(
  name: string,
  file: string,
  password: string | undefined,
  expect: Expect,
): Promise<CorpusCase> {
  return { name, paths: [file], files: [new Uint8Array(await readFile(file))], password, expect };
}

/** A PKCS#12 case: made by `produce`, expected as openssl reads it (with `truthPassword`). */
function p12(
  name: string,
  tool: ToolName,
  produce: (m: Material, out: string, ctx: CorpusContext) => Promise<unknown>,
  options: {
    keyType?: KeyType;
    password?: string | undefined;
    truthPassword?: string;
    orRefused?: ErrorCode;
    chain?: boolean;
    notice?: boolean;
    full?: boolean;
    refused?: readonly ErrorCode[];
    check?: (file: string, dir: string) => Promise<void>;
    /** The name the producer was given: OpenSSL 3.0 prints a BMPString name byte by byte. */
    friendlyName?: string;
  } = {},
): CaseSpec {
  const password = 'password' in options ? options.password : PASSWORD;
  const outcome = options.refused
    ? `refused (${options.refused.join(' or ')})`
    : options.orRefused
      ? `imported with openssl's certificate and key, or refused (${options.orRefused})`
      : `imported with openssl's certificate and key${options.chain ? ' and its CA chain' : ''}`;
  return {
    name,
    tool,
    outcome,
    ...(options.full ? { full: true } : {}),
    async make(ctx) {
      const m = await ctx.material(options.keyType ?? 'p256');
      const out = path.join(ctx.dir, 'case.p12');
      await produce(m, out, ctx);
      if (options.check) await options.check(out, ctx.dir);
      if (options.refused) return fileCase(name, out, password, { class: 'refused', code: options.refused });
      const read = await opensslReadsPkcs12(out, options.truthPassword ?? password, ctx.dir);
      const truth = options.friendlyName ? { ...read, friendlyName: options.friendlyName } : read;
      return fileCase(name, out, password, imported(truth, options));
    },
  };
}

const ossl =
  (args: readonly string[], password = PASSWORD, extra: { name?: string } = {}) =>
  (m: Material, out: string) =>
    opensslPkcs12(m, out, { password, args, ...extra });

/** Ciphers `-keypbe`/`-certpbe` take in OpenSSL 3.0 (checked: it writes and reads each). */
const OPENSSL_CIPHERS: readonly { cipher: string; legacy: boolean; promised: boolean }[] = [
  // PKCS#12 PBE (RFC 7292 appendix C)
  { cipher: 'PBE-SHA1-3DES', legacy: false, promised: true },
  { cipher: 'PBE-SHA1-2DES', legacy: false, promised: false },
  { cipher: 'PBE-SHA1-RC2-40', legacy: true, promised: true },
  { cipher: 'PBE-SHA1-RC2-128', legacy: true, promised: true },
  { cipher: 'PBE-SHA1-RC4-40', legacy: true, promised: true },
  { cipher: 'PBE-SHA1-RC4-128', legacy: true, promised: true },
  // PBES1 (PKCS#5 v1.5)
  { cipher: 'PBE-MD5-DES', legacy: true, promised: true },
  { cipher: 'PBE-SHA1-DES', legacy: true, promised: true },
  { cipher: 'PBE-MD5-RC2-64', legacy: true, promised: false },
  { cipher: 'PBE-SHA1-RC2-64', legacy: true, promised: false },
  // PBES2 (PKCS#5 v2) with PBKDF2-HMAC-SHA256
  { cipher: 'aes-128-cbc', legacy: false, promised: true },
  { cipher: 'aes-192-cbc', legacy: false, promised: true },
  { cipher: 'aes-256-cbc', legacy: false, promised: true },
  { cipher: 'des-ede3-cbc', legacy: false, promised: true },
  { cipher: 'camellia-128-cbc', legacy: false, promised: true },
  { cipher: 'camellia-192-cbc', legacy: false, promised: true },
  { cipher: 'camellia-256-cbc', legacy: false, promised: true },
  { cipher: 'aria-128-cbc', legacy: false, promised: true },
  { cipher: 'aria-192-cbc', legacy: false, promised: true },
  { cipher: 'aria-256-cbc', legacy: false, promised: true },
  { cipher: 'des-cbc', legacy: true, promised: true },
  { cipher: 'sm4-cbc', legacy: false, promised: false },
  { cipher: 'bf-cbc', legacy: true, promised: false },
  { cipher: 'cast5-cbc', legacy: true, promised: false },
  { cipher: 'seed-cbc', legacy: true, promised: false },
  { cipher: 'rc2-cbc', legacy: true, promised: false },
];

/** Digests `-macalg` takes in OpenSSL 3.0 (checked: it writes and reads each). */
const OPENSSL_MACS: readonly { mac: string; legacy: boolean; promised: boolean }[] = [
  { mac: 'md5', legacy: false, promised: true },
  { mac: 'sha1', legacy: false, promised: true },
  { mac: 'sha224', legacy: false, promised: true },
  { mac: 'sha256', legacy: false, promised: true },
  { mac: 'sha384', legacy: false, promised: true },
  { mac: 'sha512', legacy: false, promised: true },
  { mac: 'sha512-224', legacy: false, promised: true },
  { mac: 'sha512-256', legacy: false, promised: true },
  { mac: 'sha3-224', legacy: false, promised: true },
  { mac: 'sha3-256', legacy: false, promised: true },
  { mac: 'sha3-384', legacy: false, promised: true },
  { mac: 'sha3-512', legacy: false, promised: true },
  { mac: 'sm3', legacy: false, promised: false },
  { mac: 'ripemd160', legacy: false, promised: false },
  { mac: 'blake2b512', legacy: false, promised: false },
  { mac: 'blake2s256', legacy: false, promised: false },
  { mac: 'md4', legacy: true, promised: false },
  { mac: 'whirlpool', legacy: true, promised: false },
];

const NSS_CIPHERS = [
  'PKCS #12 V2 PBE With SHA-1 And 3KEY Triple DES-CBC',
  'PKCS #12 V2 PBE With SHA-1 And 40 Bit RC2 CBC',
  'PKCS #12 V2 PBE With SHA-1 And 128 Bit RC2 CBC',
  'PKCS #12 V2 PBE With SHA-1 And 40 Bit RC4',
  'PKCS #12 V2 PBE With SHA-1 And 128 Bit RC4',
  'AES-128-CBC',
  'AES-192-CBC',
  'AES-256-CBC',
  'CAMELLIA-128-CBC',
  'CAMELLIA-256-CBC',
];
const GNUTLS_CIPHERS = ['3des', '3des-pkcs12', 'aes-128', 'aes-192', 'aes-256', 'rc2-40', 'arcfour'];

/** Checks a GnuTLS verdict on a file's MAC password form (GnuTLS tells a NULL from an empty one). */
const macKeyedWith =
  (form: 'zero bytes' | 'BMP empty') =>
  async (file: string, dir: string): Promise<void> => {
    const opens = async (flag: string) =>
      (await runTool('certtool', ['--p12-info', '--inder', '--infile', file, flag], { cwd: dir })).code === 0;
    const zero = await opens('--null-password');
    const bmp = await opens('--empty-password');
    const got = zero && !bmp ? 'zero bytes' : bmp && !zero ? 'BMP empty' : `null=${zero} empty=${bmp}`;
    if (got !== form) throw new Error(`the file's MAC is not keyed with ${form} (certtool: ${got})`);
  };

/** Every case of the corpus, by name. */
export function corpusSpecs(): CaseSpec[] {
  const specs: CaseSpec[] = [];
  // --- OpenSSL: encryption of the key and of the certificates.
  for (const { cipher, legacy, promised } of OPENSSL_CIPHERS) {
    const args = ['-keypbe', cipher, '-certpbe', cipher, ...(legacy ? ['-legacy'] : [])];
    specs.push(
      p12(`openssl ${args.join(' ')}`, 'openssl', ossl(args), {
        ...(promised ? {} : { orRefused: 'E_PKCS12_UNSUPPORTED' as const }),
        notice: cipher.startsWith('PBE-'),
      }),
    );
  }
  specs.push(
    p12(
      'openssl -legacy (its defaults: RC2-40 certificates, 3DES key, SHA-1 MAC), RSA',
      'openssl',
      ossl(['-legacy']),
      {
        keyType: 'rsa',
        notice: true,
      },
    ),
    p12('openssl 3 defaults (PBES2 AES-256, SHA-256 MAC), RSA', 'openssl', ossl([]), { keyType: 'rsa' }),
    p12(
      'openssl -keypbe aes-256-cbc -certpbe PBE-SHA1-RC2-40 -legacy (mixed)',
      'openssl',
      ossl(['-keypbe', 'aes-256-cbc', '-certpbe', 'PBE-SHA1-RC2-40', '-legacy']),
    ),
  );
  // --- OpenSSL: MAC digests.
  for (const { mac, legacy, promised } of OPENSSL_MACS) {
    const args = ['-macalg', mac, ...(legacy ? ['-legacy'] : [])];
    specs.push(
      p12(`openssl ${args.join(' ')}`, 'openssl', ossl(args), {
        ...(promised ? {} : { orRefused: 'E_PKCS12_UNSUPPORTED' as const }),
      }),
    );
  }
  // --- OpenSSL: iteration counts, MAC forms, no encryption.
  specs.push(
    p12('openssl -iter 1', 'openssl', ossl(['-iter', '1'])),
    p12('openssl -iter 2048', 'openssl', ossl(['-iter', '2048'])),
    p12('openssl -iter 600000 (high, below the bound)', 'openssl', ossl(['-iter', '600000'])),
    p12('openssl -iter 1000001 (above the 1 000 000 bound)', 'openssl', ossl(['-iter', '1000001']), {
      refused: ['E_PKCS12_ITERATIONS'],
    }),
    p12('openssl -maciter', 'openssl', ossl(['-maciter'])),
    p12('openssl -nomaciter (MAC iteration count 1)', 'openssl', ossl(['-nomaciter'])),
    p12('openssl -legacy -nomaciter', 'openssl', ossl(['-legacy', '-nomaciter'])),
    p12('openssl -nomac (encrypted, no MAC)', 'openssl', ossl(['-nomac'])),
    p12(
      'openssl -keypbe NONE -certpbe NONE (MAC only)',
      'openssl',
      ossl(['-keypbe', 'NONE', '-certpbe', 'NONE']),
    ),
    p12(
      'openssl -keypbe NONE -certpbe NONE -nomac, read without a password (no password at all)',
      'openssl',
      ossl(['-keypbe', 'NONE', '-certpbe', 'NONE', '-nomac']),
      { password: undefined, truthPassword: '' },
    ),
    p12(
      'openssl -keypbe NONE -certpbe NONE -nomac, read with a password it does not need',
      'openssl',
      ossl(['-keypbe', 'NONE', '-certpbe', 'NONE', '-nomac']),
      { truthPassword: '' },
    ),
  );
  // --- Passwords.
  const empty = ossl([], '');
  specs.push(
    p12('openssl -passout pass: (MAC keyed with the BMP empty password), read with ""', 'openssl', empty, {
      password: '',
      check: macKeyedWith('BMP empty'),
    }),
    p12(
      'openssl -passout pass: (MAC keyed with the BMP empty password), read without a password',
      'openssl',
      empty,
      {
        password: undefined,
        truthPassword: '',
      },
    ),
    p12('openssl -legacy -passout pass:, read without a password', 'openssl', ossl(['-legacy'], ''), {
      password: undefined,
      truthPassword: '',
    }),
    p12('openssl, password "pässwörd" (UTF-8)', 'openssl', ossl([], 'pässwörd'), { password: 'pässwörd' }),
    p12('openssl -legacy, password "pässwörd" (UTF-8)', 'openssl', ossl(['-legacy'], 'pässwörd'), {
      password: 'pässwörd',
    }),
    p12('openssl, a 200-character password', 'openssl', ossl([], `${'x'.repeat(199)}y`), {
      password: `${'x'.repeat(199)}y`,
    }),
    p12('openssl, a wrong password', 'openssl', ossl([]), {
      password: 'not the password',
      refused: ['E_PKCS12_PASSWORD'],
    }),
    p12('openssl -legacy, a wrong password', 'openssl', ossl(['-legacy']), {
      password: 'not the password',
      refused: ['E_PKCS12_PASSWORD'],
    }),
    p12('openssl -nomac, a wrong password', 'openssl', ossl(['-nomac']), {
      password: 'not the password',
      refused: ['E_PKCS12_PASSWORD'],
    }),
    p12('openssl, a password-protected file given no password', 'openssl', ossl([]), {
      password: undefined,
      refused: ['E_PASSWORD_REQUIRED', 'E_PASSIN_NEEDED'],
    }),
  );
  // --- Damaged files.
  specs.push(
    {
      name: 'openssl file truncated by 40 bytes',
      tool: 'openssl',
      outcome: 'refused (E_PKCS12_MALFORMED)',
      async make(ctx) {
        const out = path.join(ctx.dir, 'case.p12');
        await opensslPkcs12(await ctx.material('p256'), out, { password: PASSWORD });
        const bytes = await readFile(out);
        await writeFile(out, bytes.subarray(0, bytes.length - 40));
        return fileCase(this.name, out, PASSWORD, { class: 'refused', code: ['E_PKCS12_MALFORMED'] });
      },
    },
    {
      name: 'openssl file truncated to its first 100 bytes',
      tool: 'openssl',
      outcome: 'refused (E_PKCS12_MALFORMED)',
      async make(ctx) {
        const out = path.join(ctx.dir, 'case.p12');
        await opensslPkcs12(await ctx.material('p256'), out, { password: PASSWORD });
        await writeFile(out, (await readFile(out)).subarray(0, 100));
        return fileCase(this.name, out, PASSWORD, { class: 'refused', code: ['E_PKCS12_MALFORMED'] });
      },
    },
  );
  // --- What the file carries besides the key: the CA chain, the friendly name, certificates only.
  specs.push(
    p12(
      'openssl -certfile (intermediate and root CA)',
      'openssl',
      async (_m, out, ctx) => {
        const c = await ctx.chain();
        await opensslPkcs12(c.leaf, out, { password: PASSWORD, certfile: c.bundle });
      },
      { chain: true },
    ),
    p12(
      'openssl -chain -CAfile (intermediate and root CA)',
      'openssl',
      async (_m, out, ctx) => {
        const c = await ctx.chain();
        await opensslPkcs12(c.leaf, out, { password: PASSWORD, args: ['-chain', '-CAfile', c.bundle] });
      },
      { chain: true },
    ),
    p12(
      'openssl -legacy -certfile (intermediate and root CA)',
      'openssl',
      async (_m, out, ctx) => {
        const c = await ctx.chain();
        await opensslPkcs12(c.leaf, out, { password: PASSWORD, certfile: c.bundle, args: ['-legacy'] });
      },
      { chain: true },
    ),
    p12('openssl -name "Alice at work"', 'openssl', ossl([], PASSWORD, { name: 'Alice at work' })),
    p12(
      'openssl -name "Ålice’s ключ 証明書 ☃" (non-ASCII)',
      'openssl',
      ossl([], PASSWORD, {
        name: 'Ålice’s ключ 証明書 ☃',
      }),
      { friendlyName: 'Ålice’s ключ 証明書 ☃' },
    ),
    p12('openssl -nokeys (a certificate only)', 'openssl', ossl(['-nokeys'])),
  );
  // --- Certificate files.
  specs.push(...certificateSpecs());
  // --- Key types, each from openssl (the matrix covers them from the other tools).
  for (const keyType of ['rsa', 'rsa-pss', 'p384', 'p521', 'ed25519', 'ed448', 'dsa'] as const) {
    specs.push(p12(`openssl 3 defaults, ${KEY_LABEL[keyType]} key`, 'openssl', ossl([]), { keyType }));
    specs.push(
      p12(`openssl -legacy, ${KEY_LABEL[keyType]} key`, 'openssl', ossl(['-legacy']), {
        keyType,
        full: true,
      }),
    );
  }
  // --- NSS pk12util -o.
  specs.push(
    p12('NSS pk12util -o, its defaults (PBES2 AES, SHA-256 MAC, 600000 iterations)', 'nss', (m, out) =>
      nssPkcs12(m, out, { password: PASSWORD }),
    ),
  );
  for (const cipher of NSS_CIPHERS) {
    specs.push(
      p12(
        `NSS pk12util -o -c "${cipher}" -C "${cipher}"`,
        'nss',
        (m, out) => nssPkcs12(m, out, { password: PASSWORD, keyCipher: cipher, certCipher: cipher }),
        { full: !/3KEY|40 Bit RC2|AES-256/.test(cipher), notice: /PKCS #12 V2/.test(cipher) },
      ),
    );
  }
  for (const mac of ['SHA-1', 'SHA-224', 'SHA-384', 'SHA-512', 'MD5']) {
    specs.push(
      p12(`NSS pk12util -o -M ${mac}`, 'nss', (m, out) => nssPkcs12(m, out, { password: PASSWORD, mac }), {
        full: mac !== 'SHA-1',
      }),
    );
  }
  // --- GnuTLS certtool --to-p12.
  specs.push(
    p12('GnuTLS certtool --to-p12, its defaults', 'gnutls', (m, out) =>
      gnutlsPkcs12(m, out, { password: PASSWORD }),
    ),
  );
  for (const cipher of GNUTLS_CIPHERS) {
    specs.push(
      p12(
        `GnuTLS certtool --to-p12 --pkcs-cipher ${cipher}`,
        'gnutls',
        (m, out) => gnutlsPkcs12(m, out, { password: PASSWORD, cipher }),
        {
          full: !['3des-pkcs12', 'rc2-40', 'aes-256', '3des'].includes(cipher),
          notice: ['3des-pkcs12', 'rc2-40', 'arcfour'].includes(cipher),
        },
      ),
    );
  }
  specs.push(
    p12(
      'GnuTLS certtool --to-p12 --null-password (MAC keyed with a truly empty password: zero bytes), read without a password',
      'gnutls',
      (m, out) => gnutlsPkcs12(m, out, { password: 'NULL' }),
      { password: undefined, truthPassword: '', check: macKeyedWith('zero bytes') },
    ),
    p12(
      'GnuTLS certtool --to-p12 --null-password (MAC keyed with zero bytes), read with ""',
      'gnutls',
      (m, out) => gnutlsPkcs12(m, out, { password: 'NULL' }),
      { password: '', truthPassword: '' },
    ),
    p12(
      'GnuTLS certtool --to-p12 --null-password --pkcs-cipher 3des-pkcs12, read without a password',
      'gnutls',
      (m, out) => gnutlsPkcs12(m, out, { password: 'NULL', cipher: '3des-pkcs12' }),
      { password: undefined, truthPassword: '' },
    ),
    p12(
      'GnuTLS certtool --to-p12 --empty-password (BMP empty), read without a password',
      'gnutls',
      (m, out) => gnutlsPkcs12(m, out, { password: 'EMPTY' }),
      { password: undefined, truthPassword: '', check: macKeyedWith('BMP empty') },
    ),
  );
  // --- keytool (where a JRE is present).
  specs.push(
    p12(
      'keytool -storetype PKCS12, its defaults (Java 17: PBES2 AES-256, SHA-256 MAC)',
      'keytool',
      (m, out) => keytoolPkcs12(m, out, { password: PASSWORD }),
    ),
    p12(
      'keytool -J-Dkeystore.pkcs12.legacy (RC2-40, 3DES, SHA-1 MAC)',
      'keytool',
      (m, out) => keytoolPkcs12(m, out, { password: PASSWORD, jvm: ['-Dkeystore.pkcs12.legacy'] }),
      { notice: true },
    ),
  );
  return specs.filter((s) => FULL || !s.full);
}

function certificateSpecs(): CaseSpec[] {
  const cert = (
    name: string,
    kind: 'der' | 'pem' | 'p7b',
    make: (ctx: CorpusContext, out: string) => Promise<void>,
    options: { full?: boolean; truthFile?: string } = {},
  ): CaseSpec => ({
    name,
    tool: 'openssl',
    outcome: 'imported as a certificate without a key (the certificate openssl reads)',
    ...(options.full ? { full: true } : {}),
    async make(ctx) {
      const out = path.join(ctx.dir, `case.${kind === 'pem' ? 'pem' : kind}`);
      await make(ctx, out);
      const truth = await opensslReadsCertificates(
        options.truthFile ? path.join(ctx.dir, options.truthFile) : out,
        kind,
        ctx.dir,
      );
      return fileCase(name, out, undefined, imported(truth));
    },
  });
  const x509 = (args: readonly string[]) => async (ctx: CorpusContext, out: string) => {
    const m = await ctx.material('p256');
    await openssl(['x509', '-in', m.cert, ...args, '-out', out], ctx.dir);
  };
  const relabel = (label: string) => async (ctx: CorpusContext, out: string) => {
    const m = await ctx.material('p256');
    const pem = await readFile(m.cert, 'utf8');
    await writeFile(path.join(ctx.dir, 'plain.pem'), pem);
    await writeFile(
      out,
      pem
        .replaceAll('-----BEGIN CERTIFICATE-----', `-----BEGIN ${label}-----`)
        .replaceAll('-----END CERTIFICATE-----', `-----END ${label}-----`),
    );
  };
  const genconf = (conf: (spki: string) => string) => async (ctx: CorpusContext, out: string) => {
    const m = await ctx.material('p256');
    const spkiDer = await openssl(['pkey', '-in', m.key, '-pubout', '-outform', 'DER'], ctx.dir);
    // The EC point: the last 65 bytes of a P-256 SubjectPublicKeyInfo.
    const point = spkiDer.subarray(spkiDer.length - 65).toString('hex');
    const cnf = path.join(ctx.dir, 'cert.cnf');
    await writeFile(cnf, conf(point));
    await openssl(['asn1parse', '-genconf', cnf, '-noout', '-out', out], ctx.dir);
    await openssl(['x509', '-in', out, '-inform', 'DER', '-noout', '-subject'], ctx.dir); // openssl reads it
  };
  return [
    cert('a DER certificate', 'der', x509(['-outform', 'DER'])),
    cert('a PEM certificate', 'pem', x509([])),
    cert('a PEM certificate with the old "X509 CERTIFICATE" label', 'pem', relabel('X509 CERTIFICATE'), {
      truthFile: 'plain.pem',
    }),
    cert(
      'a "TRUSTED CERTIFICATE" (openssl x509 -trustout -addtrust clientAuth)',
      'pem',
      x509(['-trustout', '-addtrust', 'clientAuth', '-setalias', 'trusted one']),
    ),
    cert(
      'a PEM certificate with CRLF line ends and text before BEGIN (openssl x509 -text)',
      'pem',
      async (ctx, out) => {
        await x509(['-text'])(ctx, out);
        await writeFile(out, (await readFile(out, 'utf8')).replace(/\r?\n/g, '\r\n'));
      },
    ),
    cert('a .p7b (openssl crl2pkcs7 -nocrl -certfile) with one certificate', 'p7b', async (ctx, out) => {
      const m = await ctx.material('p256');
      await openssl(['crl2pkcs7', '-nocrl', '-certfile', m.cert, '-out', out], ctx.dir);
    }),
    cert('a DER .p7b with a leaf, its intermediate and root CA', 'p7b', async (ctx, out) => {
      const c = await ctx.chain();
      await openssl(
        [
          'crl2pkcs7',
          '-nocrl',
          '-certfile',
          c.leaf.cert,
          '-certfile',
          c.bundle,
          '-outform',
          'DER',
          '-out',
          out,
        ],
        ctx.dir,
      );
    }),
    cert('a certificate with an empty subject and issuer (openssl req -subj /)', 'pem', async (ctx, out) => {
      const m = await ctx.material('p256');
      await openssl(['req', '-x509', '-key', m.key, '-subj', '/', '-days', '30', '-out', out], ctx.dir);
    }),
    cert(
      'a certificate with odd times (UTCTime without seconds, GeneralizedTime before 2050; asn1parse -genconf)',
      'der',
      genconf(
        (point) => `asn1=SEQUENCE:cert
[cert]
tbs=SEQUENCE:tbs
alg=SEQUENCE:sigalg
sig=FORMAT:HEX,BITSTRING:3006020101020101
[sigalg]
oid=OID:ecdsa-with-SHA256
[tbs]
ver=EXPLICIT:0,INTEGER:2
serial=INTEGER:4242
alg=SEQUENCE:sigalg
issuer=SEQUENCE:name
validity=SEQUENCE:validity
subject=SEQUENCE:name
spki=SEQUENCE:spki
[name]
rdn=SET:rdn
[rdn]
cn=SEQUENCE:cn
[cn]
oid=OID:commonName
v=UTF8:odd times
[validity]
nb=UTCTIME:2401010000Z
na=GENERALIZEDTIME:20400101000000Z
[spki]
alg=SEQUENCE:spkialg
key=FORMAT:HEX,BITSTRING:${point}
[spkialg]
oid=OID:id-ecPublicKey
curve=OID:prime256v1
`,
      ),
    ),
    cert(
      'a certificate with an unknown public-key type (OID 1.3.6.1.4.1.99999.1.2; asn1parse -genconf)',
      'der',
      genconf(
        () => `asn1=SEQUENCE:cert
[cert]
tbs=SEQUENCE:tbs
alg=SEQUENCE:sigalg
sig=FORMAT:HEX,BITSTRING:3006020101020101
[sigalg]
oid=OID:ecdsa-with-SHA256
[tbs]
ver=EXPLICIT:0,INTEGER:2
serial=INTEGER:4243
alg=SEQUENCE:sigalg
issuer=SEQUENCE:name
validity=SEQUENCE:validity
subject=SEQUENCE:name
spki=SEQUENCE:spki
[name]
rdn=SET:rdn
[rdn]
cn=SEQUENCE:cn
[cn]
oid=OID:commonName
v=UTF8:unknown key type
[validity]
nb=UTCTIME:240101000000Z
na=UTCTIME:491231235959Z
[spki]
alg=SEQUENCE:spkialg
key=FORMAT:HEX,BITSTRING:00112233445566778899
[spkialg]
oid=OID:1.3.6.1.4.1.99999.1.2
`,
      ),
    ),
  ];
}

/** A context whose material (keys, certificates, the CA chain) is made once in `dir`. */
export function makeContext(dir: string): (caseDir: string) => CorpusContext {
  const materials = new Map<KeyType, Promise<Material>>();
  let chain: ReturnType<typeof makeChain> | undefined;
  const getChain = () => {
    chain ??= makeChain(dir);
    return chain;
  };
  return (caseDir) => ({
    dir: caseDir,
    material(keyType) {
      let m = materials.get(keyType);
      if (!m) {
        m = makeCredential(dir, keyType, `corpus-${keyType}`);
        materials.set(keyType, m);
      }
      return m;
    },
    chain: getChain,
  });
}

/** Makes every case of the corpus (this mode's) into `dir` and returns them. */
export async function makeCorpus(dir: string): Promise<CorpusCase[]> {
  const { mkdir } = await import('node:fs/promises');
  const context = makeContext(dir);
  const cases: CorpusCase[] = [];
  let i = 0;
  for (const spec of corpusSpecs()) {
    const caseDir = path.join(dir, `case-${++i}`);
    await mkdir(caseDir);
    cases.push(await spec.make(context(caseDir)));
  }
  return cases;
}

export { sha256 };
