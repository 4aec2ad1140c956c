/**
 * The algorithms a PKCS#12 file names, by OID, mapped onto Node's (OpenSSL's) names. Tables only:
 * what each algorithm does lives in `pbe.ts` (decryption, encryption) and `pkcs12-mac.ts`.
 *
 * Sources: RFC 7292 (PKCS#12) appendices B and C, RFC 8018 (PKCS#5) appendices A and B,
 * RFC 8018 B.1.2 / RFC 3565 (AES), RFC 3657 (Camellia), RFC 5794 (ARIA), RFC 9579 (PBMAC1).
 */

/** A digest: Node's name, its output length `u` and its block length `v` (RFC 7292 B.2). */
export interface Digest {
  readonly name: string;
  readonly u: number;
  readonly v: number;
}

/** Digests by OID, for the classic PKCS#12 MAC (DigestInfo) and PBES1. */
export const DIGESTS: ReadonlyMap<string, Digest> = new Map([
  ['1.2.840.113549.2.5', { name: 'md5', u: 16, v: 64 }],
  ['1.3.14.3.2.26', { name: 'sha1', u: 20, v: 64 }],
  ['2.16.840.1.101.3.4.2.4', { name: 'sha224', u: 28, v: 64 }],
  ['2.16.840.1.101.3.4.2.1', { name: 'sha256', u: 32, v: 64 }],
  ['2.16.840.1.101.3.4.2.2', { name: 'sha384', u: 48, v: 128 }],
  ['2.16.840.1.101.3.4.2.3', { name: 'sha512', u: 64, v: 128 }],
  ['2.16.840.1.101.3.4.2.5', { name: 'sha512-224', u: 28, v: 128 }],
  ['2.16.840.1.101.3.4.2.6', { name: 'sha512-256', u: 32, v: 128 }],
  ['2.16.840.1.101.3.4.2.7', { name: 'sha3-224', u: 28, v: 144 }],
  ['2.16.840.1.101.3.4.2.8', { name: 'sha3-256', u: 32, v: 136 }],
  ['2.16.840.1.101.3.4.2.9', { name: 'sha3-384', u: 48, v: 104 }],
  ['2.16.840.1.101.3.4.2.10', { name: 'sha3-512', u: 64, v: 72 }],
]);

/** HMAC PRFs of PBKDF2 and PBMAC1 by OID (RFC 8018 B.1), as Node digest names. Absent = SHA-1. */
export const HMACS: ReadonlyMap<string, string> = new Map([
  ['1.2.840.113549.2.7', 'sha1'],
  ['1.2.840.113549.2.8', 'sha224'],
  ['1.2.840.113549.2.9', 'sha256'],
  ['1.2.840.113549.2.10', 'sha384'],
  ['1.2.840.113549.2.11', 'sha512'],
  ['1.2.840.113549.2.12', 'sha512-224'],
  ['1.2.840.113549.2.13', 'sha512-256'],
  ['2.16.840.1.101.3.4.2.13', 'sha3-224'],
  ['2.16.840.1.101.3.4.2.14', 'sha3-256'],
  ['2.16.840.1.101.3.4.2.15', 'sha3-384'],
  ['2.16.840.1.101.3.4.2.16', 'sha3-512'],
]);
export const HMAC_OID: Readonly<Record<string, string>> = Object.fromEntries(
  [...HMACS].map(([oid, name]) => [name, oid]),
);

/** A block cipher in CBC mode: Node's name, key and IV lengths; `legacy` if OpenSSL 3 keeps it in its legacy provider. */
export interface Cipher {
  readonly name: string;
  readonly keyLength: number;
  readonly ivLength: number;
  readonly legacy?: boolean;
}

/** PBES2 encryption schemes by OID. RC2-CBC's parameters are a SEQUENCE (see `pbe.ts`). */
export const PBES2_CIPHERS: ReadonlyMap<string, Cipher> = new Map([
  ['2.16.840.1.101.3.4.1.2', { name: 'aes-128-cbc', keyLength: 16, ivLength: 16 }],
  ['2.16.840.1.101.3.4.1.22', { name: 'aes-192-cbc', keyLength: 24, ivLength: 16 }],
  ['2.16.840.1.101.3.4.1.42', { name: 'aes-256-cbc', keyLength: 32, ivLength: 16 }],
  ['1.2.840.113549.3.7', { name: 'des-ede3-cbc', keyLength: 24, ivLength: 8 }],
  ['1.3.14.3.2.7', { name: 'des-cbc', keyLength: 8, ivLength: 8, legacy: true }],
  ['1.2.840.113549.3.2', { name: 'rc2-cbc', keyLength: 16, ivLength: 8, legacy: true }],
  ['1.2.392.200011.61.1.1.1.2', { name: 'camellia-128-cbc', keyLength: 16, ivLength: 16 }],
  ['1.2.392.200011.61.1.1.1.3', { name: 'camellia-192-cbc', keyLength: 24, ivLength: 16 }],
  ['1.2.392.200011.61.1.1.1.4', { name: 'camellia-256-cbc', keyLength: 32, ivLength: 16 }],
  ['1.2.410.200046.1.1.2', { name: 'aria-128-cbc', keyLength: 16, ivLength: 16 }],
  ['1.2.410.200046.1.1.7', { name: 'aria-192-cbc', keyLength: 24, ivLength: 16 }],
  ['1.2.410.200046.1.1.12', { name: 'aria-256-cbc', keyLength: 32, ivLength: 16 }],
  ['1.2.156.10197.1.104.2', { name: 'sm4-cbc', keyLength: 16, ivLength: 16 }],
]);

/** RC2's effective key bits as RFC 8018 B.2.3 encodes them (the "version"), and Node's cipher for each. */
export const RC2_VERSIONS: ReadonlyMap<number, Cipher> = new Map([
  [160, { name: 'rc2-40-cbc', keyLength: 5, ivLength: 8, legacy: true }],
  [120, { name: 'rc2-64-cbc', keyLength: 8, ivLength: 8, legacy: true }],
  [58, { name: 'rc2-cbc', keyLength: 16, ivLength: 8, legacy: true }],
]);

/** PKCS#12's own password-based encryption (RFC 7292 C): SHA-1 and its key derivation (B.2). */
export const PKCS12_PBE: ReadonlyMap<string, Cipher & { readonly label: string }> = new Map([
  [
    '1.2.840.113549.1.12.1.1',
    { label: 'pbeWithSHAAnd128BitRC4', name: 'rc4', keyLength: 16, ivLength: 0, legacy: true },
  ],
  [
    '1.2.840.113549.1.12.1.2',
    { label: 'pbeWithSHAAnd40BitRC4', name: 'rc4-40', keyLength: 5, ivLength: 0, legacy: true },
  ],
  [
    '1.2.840.113549.1.12.1.3',
    { label: 'pbeWithSHAAnd3-KeyTripleDES-CBC', name: 'des-ede3-cbc', keyLength: 24, ivLength: 8 },
  ],
  [
    '1.2.840.113549.1.12.1.4',
    { label: 'pbeWithSHAAnd2-KeyTripleDES-CBC', name: 'des-ede-cbc', keyLength: 16, ivLength: 8 },
  ],
  [
    '1.2.840.113549.1.12.1.5',
    { label: 'pbeWithSHAAnd128BitRC2-CBC', name: 'rc2-cbc', keyLength: 16, ivLength: 8, legacy: true },
  ],
  [
    '1.2.840.113549.1.12.1.6',
    { label: 'pbeWithSHAAnd40BitRC2-CBC', name: 'rc2-40-cbc', keyLength: 5, ivLength: 8, legacy: true },
  ],
]);

/** PKCS#5 v1.5 PBES1 (RFC 8018 6.1): PBKDF1 over MD5 or SHA-1, DES or RC2 (64-bit effective key). */
export const PBES1: ReadonlyMap<string, Cipher & { readonly label: string; readonly digest: string }> =
  new Map([
    [
      '1.2.840.113549.1.5.3',
      {
        label: 'pbeWithMD5AndDES-CBC',
        digest: 'md5',
        name: 'des-cbc',
        keyLength: 8,
        ivLength: 8,
        legacy: true,
      },
    ],
    [
      '1.2.840.113549.1.5.6',
      {
        label: 'pbeWithMD5AndRC2-CBC',
        digest: 'md5',
        name: 'rc2-64-cbc',
        keyLength: 8,
        ivLength: 8,
        legacy: true,
      },
    ],
    [
      '1.2.840.113549.1.5.10',
      {
        label: 'pbeWithSHA1AndDES-CBC',
        digest: 'sha1',
        name: 'des-cbc',
        keyLength: 8,
        ivLength: 8,
        legacy: true,
      },
    ],
    [
      '1.2.840.113549.1.5.11',
      {
        label: 'pbeWithSHA1AndRC2-CBC',
        digest: 'sha1',
        name: 'rc2-64-cbc',
        keyLength: 8,
        ivLength: 8,
        legacy: true,
      },
    ],
  ]);

export const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  encryptedData: '1.2.840.113549.1.7.6',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  scrypt: '1.3.6.1.4.1.11591.4.11',
  pbmac1: '1.2.840.113549.1.5.14',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  shroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  safeContentsBag: '1.2.840.113549.1.12.10.1.6',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  localKeyId: '1.2.840.113549.1.9.21',
  friendlyName: '1.2.840.113549.1.9.20',
  sha256: '2.16.840.1.101.3.4.2.1',
  aes256cbc: '2.16.840.1.101.3.4.1.42',
} as const;

/** What a file names, for notices and errors: the label of a known OID, else the OID. */
export function algorithmLabel(oid: string): string {
  return (
    PKCS12_PBE.get(oid)?.label ??
    PBES1.get(oid)?.label ??
    PBES2_CIPHERS.get(oid)?.name.toUpperCase() ??
    DIGESTS.get(oid)?.name.toUpperCase() ??
    oid
  );
}
