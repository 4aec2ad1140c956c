import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type * as asn1js from 'asn1js';
import {
  integer,
  MalformedAsn1,
  octets,
  oid,
  readInteger,
  readOctets,
  readOid,
  seq,
  sequenceOf,
} from './asn1/der.js';
import { OID } from './asn1/oids.js';

/**
 * Password-based MAC (RFC 4210 §5.1.3.1), the protection of every message with the shared secret:
 *
 *   PBMParameter ::= SEQUENCE { salt OCTET STRING, owf AlgorithmIdentifier,
 *                               iterationCount INTEGER, mac AlgorithmIdentifier }
 *
 * BASEKEY = OWF(secret ‖ salt), OWF applied iterationCount times in all; the protection is
 * MAC(BASEKEY, DER(ProtectedPart)). Requests use SHA-256 and HMAC-SHA256; replies are checked with
 * the parameters they carry, within bounds (OpenSSL's mock server sends HMAC-SHA1, still a sound MAC).
 */
const OWF: Readonly<Record<string, string>> = {
  [OID.sha1]: 'sha1',
  [OID.sha256]: 'sha256',
  [OID.sha384]: 'sha384',
  [OID.sha512]: 'sha512',
};
const MAC: Readonly<Record<string, string>> = {
  [OID.hmacSha1]: 'sha1',
  [OID.hmacSha256]: 'sha256',
  [OID.hmacSha384]: 'sha384',
  [OID.hmacSha512]: 'sha512',
};
/** A reply may not make us hash more than this (OpenSSL's own bound). */
const MAX_ITERATIONS = 100_000;

export interface PbmParameters {
  readonly salt: Uint8Array;
  readonly owf: string;
  readonly iterations: number;
  readonly mac: string;
}

export const newPbmParameters = (iterations: number): PbmParameters => ({
  salt: randomBytes(16),
  owf: OID.sha256,
  iterations,
  mac: OID.hmacSha256,
});

/** The protectionAlg: AlgorithmIdentifier { id-PasswordBasedMac, PBMParameter }. */
export function pbmAlgorithm(p: PbmParameters): asn1js.Sequence {
  return seq(
    oid(OID.passwordBasedMac),
    seq(octets(p.salt), seq(oid(p.owf)), integer(p.iterations), seq(oid(p.mac))),
  );
}

/** Reads a reply's protectionAlg; a tagged result (anything but bounded PBM is a reason). */
export function readPbmAlgorithm(
  node: asn1js.BaseBlock | undefined,
): { ok: true; parameters: PbmParameters } | { ok: false; reason: string } {
  try {
    const [algorithm, parameters] = sequenceOf(node, 'protectionAlg');
    const id = readOid(algorithm, 'protectionAlg');
    if (id !== OID.passwordBasedMac)
      return {
        ok: false,
        reason: `it is protected with ${id}, not a password-based MAC (the only protection credroam checks)`,
      };
    const [salt, owf, count, mac] = sequenceOf(parameters, 'PBMParameter');
    const p: PbmParameters = {
      salt: readOctets(salt, 'PBMParameter.salt'),
      owf: readOid(sequenceOf(owf, 'PBMParameter.owf')[0], 'PBMParameter.owf'),
      iterations: readInteger(count, 'PBMParameter.iterationCount'),
      mac: readOid(sequenceOf(mac, 'PBMParameter.mac')[0], 'PBMParameter.mac'),
    };
    if (!OWF[p.owf])
      return { ok: false, reason: `its PBM one-way function ${p.owf} is not one credroam takes` };
    if (!MAC[p.mac]) return { ok: false, reason: `its PBM MAC ${p.mac} is not one credroam takes` };
    if (p.iterations < 1 || p.iterations > MAX_ITERATIONS)
      return { ok: false, reason: `its PBM iteration count ${p.iterations} is outside 1…${MAX_ITERATIONS}` };
    if (p.salt.length > 128) return { ok: false, reason: 'its PBM salt is longer than 128 bytes' };
    return { ok: true, parameters: p };
  } catch (error) {
    if (error instanceof MalformedAsn1)
      return { ok: false, reason: `its protectionAlg is malformed (${error.message})` };
    throw error;
  }
}

/** MAC(BASEKEY, protectedPart): the PKIProtection bits. */
export function pbmProtection(p: PbmParameters, secret: string, protectedPart: Uint8Array): Uint8Array {
  const owf = OWF[p.owf];
  const mac = MAC[p.mac];
  if (!owf || !mac) throw new TypeError('unsupported PBM algorithms');
  let key = createHash(owf).update(Buffer.from(secret, 'utf8')).update(p.salt).digest();
  for (let i = 1; i < p.iterations; i += 1) key = createHash(owf).update(key).digest();
  return createHmac(mac, key).update(protectedPart).digest();
}

export function pbmVerifies(
  p: PbmParameters,
  secret: string,
  protectedPart: Uint8Array,
  given: Uint8Array,
): boolean {
  const want = pbmProtection(p, secret, protectedPart);
  return want.length === given.length && timingSafeEqual(want, given);
}
