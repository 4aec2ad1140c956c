import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Certificates that OpenSSL reads but that Node cannot fully describe, for testing that a store or
 * a command copes with them: `bad-time` (its notBefore is a GeneralizedTime that is not a time at
 * all, its notAfter a UTCTime in month 13), `unknown-key` (a public key of algorithm 1.2.3.4),
 * `empty-subject` (a subject without any RDN). Signatures are junk: nothing here verifies.
 */
export type HostileCertificate = 'bad-time' | 'unknown-key' | 'empty-subject';

export const HOSTILE_CERTIFICATES: readonly HostileCertificate[] = [
  'bad-time',
  'unknown-key',
  'empty-subject',
];

const RSA_KEY = `[spki]
alg=SEQUENCE:rsa_alg
key=BITWRAP,SEQUENCE:rsa_key
[rsa_alg]
oid=OID:rsaEncryption
null=NULL
[rsa_key]
n=INTEGER:0xC2D4E6F80A1C2E3F50617283940516273849505A6B7C8D9EAFB0C1D2E3F405162738495A6B7C8D9EAFB0C1D2E3F40516273849505A6B7C8D9EAFB0C1D2E3F4051
e=INTEGER:65537
`;

const UNKNOWN_KEY = `[spki]
alg=SEQUENCE:unknown_alg
key=FORMAT:HEX,BITSTRING:0102030405060708
[unknown_alg]
oid=OID:1.2.3.4
`;

/** An `openssl asn1parse -genconf` configuration for one hostile certificate. */
export function hostileCertificateConfig(kind: HostileCertificate): string {
  const times =
    kind === 'bad-time'
      ? ['notBefore=IMPLICIT:24U,OCTETSTRING:not a time', 'notAfter=IMPLICIT:23U,OCTETSTRING:241301000000Z']
      : ['notBefore=UTCTIME:240101000000Z', 'notAfter=GENTIME:20991231235959Z'];
  return [
    'asn1=SEQUENCE:certificate',
    '[certificate]',
    'tbs=SEQUENCE:tbs',
    'signatureAlgorithm=SEQUENCE:signature_alg',
    'signature=FORMAT:HEX,BITSTRING:00112233445566778899',
    '[tbs]',
    'version=EXPLICIT:0C,INTEGER:2',
    `serial=INTEGER:0x${Buffer.from(kind).toString('hex')}`,
    'signature=SEQUENCE:signature_alg',
    'issuer=SEQUENCE:name',
    'validity=SEQUENCE:validity',
    `subject=SEQUENCE:${kind === 'empty-subject' ? 'empty_name' : 'name'}`,
    'spki=SEQUENCE:spki',
    '[signature_alg]',
    'oid=OID:sha256WithRSAEncryption',
    'null=NULL',
    '[validity]',
    ...times,
    '[empty_name]',
    '[name]',
    'rdn=SET:rdn',
    '[rdn]',
    'attr=SEQUENCE:attr',
    '[attr]',
    'oid=OID:commonName',
    `value=UTF8:hostile ${kind}`,
    kind === 'unknown-key' ? UNKNOWN_KEY : RSA_KEY,
  ].join('\n');
}

/**
 * Makes a hostile certificate with the real `openssl` in `dir`: `<kind>.der` and `<kind>.pem`
 * (written by `openssl x509`, which reads it first). Returns both paths and its SHA-256 (hex).
 */
export async function makeHostileCertificate(
  dir: string,
  kind: HostileCertificate,
): Promise<{ der: string; pem: string; sha256: string }> {
  const conf = path.join(dir, `${kind}.cnf`);
  const der = path.join(dir, `${kind}.der`);
  const pem = path.join(dir, `${kind}.pem`);
  await writeFile(conf, hostileCertificateConfig(kind));
  await run('openssl', ['asn1parse', '-genconf', conf, '-noout', '-out', der]);
  await run('openssl', ['x509', '-inform', 'DER', '-in', der, '-out', pem]);
  const { stdout } = await run('openssl', ['x509', '-in', pem, '-noout', '-fingerprint', '-sha256']);
  return { der, pem, sha256: stdout.split('=')[1]!.trim().replace(/:/g, '').toLowerCase() };
}
