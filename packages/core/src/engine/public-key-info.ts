import { createRequire } from 'node:module';
import type * as Pkijs from 'pkijs';
import { asn1js } from './asn1.js';
import {
  BIT_STRING,
  CONTEXT,
  children,
  type Element,
  encode,
  INTEGER,
  isDer,
  isUniversal,
  OBJECT_IDENTIFIER,
  OCTET_STRING,
  only,
  SEQUENCE,
} from './der.js';

/** id-ecPublicKey (RFC 5480) and rsaEncryption (RFC 8017): the key types read here. */
const EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const RSA_ENCRYPTION = '1.2.840.113549.1.1.1';
/** The DER of an ASN.1 NULL: rsaEncryption's parameters. */
const NULL = [0x05, 0x00];

interface KnownOids {
  readonly ecPublicKey: string;
  readonly rsaEncryption: string;
  /** pkijs's named curves: the coordinate size in bytes, by the curve's OID. */
  readonly curveSizes: ReadonlyMap<string, number>;
}
let known: KnownOids | undefined;

/**
 * The OIDs read here, by the hex of their DER (compared as bytes: asn1js's reading of an OID costs
 * about 10 µs), made once, at the first use; pkijs is loaded then, as asn1js is (`asn1.ts`).
 */
function knownOids(): KnownOids {
  if (known) return known;
  const der = (oid: string) =>
    Buffer.from(new (asn1js().ObjectIdentifier)({ value: oid }).toBER()).toString('hex');
  const pkijs = createRequire(import.meta.url)('pkijs') as typeof Pkijs;
  known = {
    ecPublicKey: der(EC_PUBLIC_KEY),
    rsaEncryption: der(RSA_ENCRYPTION),
    curveSizes: new Map(Object.values(pkijs.ECNamedCurves.namedCurves).map((c) => [der(c.id), c.size])),
  };
  return known;
}
const hex = (e: Element): string => Buffer.from(e.bytes).toString('hex');

/**
 * The SubjectPublicKeyInfo a private key (PKCS#8 DER) holds, taken from its own bytes, where those
 * bytes are exactly what OpenSSL would export after reading the key; undefined for any other key,
 * which the caller has OpenSSL read (decision 029). Reading a key through OpenSSL costs about
 * 0.5 ms; this, about a fiftieth of that.
 *
 * Two forms, as OpenSSL and Node write them:
 * - an EC key on a named curve whose ECPrivateKey carries its public key, uncompressed: OpenSSL
 *   takes the stored point as the key's public key (it does not derive it again) and writes it
 *   back in the form it was read in;
 * - an RSA key (two primes) with its modulus and exponent in minimal DER: what OpenSSL writes.
 *
 * Unlike OpenSSL, this does not check that the point lies on its curve: the keys it meets were
 * sealed by an endpoint holding the user's keys, which read them with OpenSSL when they came in
 * (`credroam import`, enrollment).
 */
export function publicKeyInfoOfPkcs8(pkcs8: Uint8Array): Uint8Array | undefined {
  const info = only(pkcs8);
  if (!isUniversal(info, SEQUENCE)) return undefined;
  const [version, algorithm, privateKey, ...rest] = children(info.content) ?? [];
  if (rest.length > 0 || !isUniversal(version, INTEGER) || !bytesAre(version.content, [0])) return undefined;
  if (!isUniversal(algorithm, SEQUENCE) || !isUniversal(privateKey, OCTET_STRING)) return undefined;
  const [type, parameters, ...more] = children(algorithm.content) ?? [];
  if (more.length > 0 || !isUniversal(type, OBJECT_IDENTIFIER)) return undefined;
  const oids = knownOids();
  switch (hex(type)) {
    case oids.ecPublicKey:
      return parameters && ecPublicKeyInfo(algorithm, parameters, privateKey.content);
    case oids.rsaEncryption:
      return parameters && bytesAre(parameters.bytes, NULL)
        ? rsaPublicKeyInfo(algorithm, privateKey.content)
        : undefined;
    default:
      return undefined;
  }
}

/**
 * The key type ('ec' or 'rsa') of a SubjectPublicKeyInfo (a certificate's) whose bytes are exactly
 * what OpenSSL exports after reading it: the two forms `publicKeyInfoOfPkcs8` makes, an EC point on
 * a named curve, uncompressed, and an RSA modulus and exponent in minimal DER, every header DER;
 * undefined for any other. Only the form is judged here: the caller has OpenSSL read the key as
 * well (which refuses a point off its curve, say) and checks that it read a key of this type.
 */
export function exportedFormOf(spki: Uint8Array): 'ec' | 'rsa' | undefined {
  const info = only(spki);
  if (!isUniversal(info, SEQUENCE)) return undefined;
  const [algorithm, key, ...rest] = children(info.content) ?? [];
  if (rest.length > 0 || !isUniversal(algorithm, SEQUENCE) || !isUniversal(key, BIT_STRING)) return undefined;
  const [type, parameters, ...more] = children(algorithm.content) ?? [];
  if (more.length > 0 || !isUniversal(type, OBJECT_IDENTIFIER) || parameters === undefined) return undefined;
  const oids = knownOids();
  const c = key.content;
  let form: 'ec' | 'rsa';
  let written: Uint8Array;
  switch (hex(type)) {
    case oids.ecPublicKey: {
      const size = isUniversal(parameters, OBJECT_IDENTIFIER)
        ? oids.curveSizes.get(hex(parameters))
        : undefined;
      // No unused bits, then 04 ‖ X ‖ Y: the uncompressed form, each coordinate the curve's size.
      if (size === undefined || c.length !== 2 + 2 * size || c[0] !== 0 || c[1] !== 0x04) return undefined;
      form = 'ec';
      written = encode(0x30, algorithm.bytes, key.bytes);
      break;
    }
    case oids.rsaEncryption: {
      const rsa = c[0] === 0 ? only(c.subarray(1)) : undefined;
      const parts = isUniversal(rsa, SEQUENCE) ? children(rsa.content) : undefined;
      const [modulus, exponent] = parts ?? [];
      if (
        !bytesAre(parameters.bytes, NULL) ||
        parts?.length !== 2 ||
        !isUniversal(modulus, INTEGER) ||
        !isUniversal(exponent, INTEGER) ||
        !isMinimalPositive(modulus) ||
        !isMinimalPositive(exponent)
      )
        return undefined;
      form = 'rsa';
      written = rsaInfo(algorithm, modulus, exponent);
      break;
    }
    default:
      return undefined;
  }
  // What OpenSSL writes is DER throughout: the bytes as given must be that, to the last header.
  return bytesAre(written, spki) ? form : undefined;
}

/** An RSA SubjectPublicKeyInfo as OpenSSL writes it: the algorithm, then RSAPublicKey in a BIT STRING. */
const rsaInfo = (algorithm: Element, modulus: Element, exponent: Element): Uint8Array =>
  encode(0x30, algorithm.bytes, encode(0x03, Uint8Array.of(0), encode(0x30, modulus.bytes, exponent.bytes)));

/** ECPrivateKey (RFC 5915): version 1, the private key, [0] the curve, [1] the public key. */
function ecPublicKeyInfo(
  algorithm: Element,
  curve: Element,
  ecPrivateKey: Uint8Array,
): Uint8Array | undefined {
  if (!isUniversal(curve, OBJECT_IDENTIFIER)) return undefined;
  const size = knownOids().curveSizes.get(hex(curve));
  const key = only(ecPrivateKey);
  if (size === undefined || !isUniversal(key, SEQUENCE)) return undefined;
  const [version, privateKey, ...tagged] = children(key.content) ?? [];
  if (!isUniversal(version, INTEGER) || !bytesAre(version.content, [1])) return undefined;
  if (!isUniversal(privateKey, OCTET_STRING)) return undefined;
  const params = tagged.length === 2 ? tagged[0] : undefined;
  const publicKey = tagged.at(-1);
  if (tagged.length > 2 || !isContext(publicKey, 1)) return undefined;
  // The curve named again in [0], if at all, must be the same one.
  if (tagged.length === 2 && !(isContext(params, 0) && bytesAre(params.content, curve.bytes)))
    return undefined;
  const point = only(publicKey.content);
  if (!isUniversal(point, BIT_STRING)) return undefined;
  // No unused bits, then 04 ‖ X ‖ Y: the uncompressed form, each coordinate the curve's size.
  const c = point.content;
  if (c.length !== 2 + 2 * size || c[0] !== 0 || c[1] !== 0x04) return undefined;
  return encode(0x30, algorithm.bytes, point.bytes);
}

/** RSAPrivateKey (RFC 8017 A.1.2), two primes: its modulus and public exponent. */
function rsaPublicKeyInfo(algorithm: Element, rsaPrivateKey: Uint8Array): Uint8Array | undefined {
  const key = only(rsaPrivateKey);
  if (!isUniversal(key, SEQUENCE)) return undefined;
  const parts = children(key.content);
  if (parts?.length !== 9 || !parts.every((p) => isUniversal(p, INTEGER))) return undefined;
  const [version, modulus, exponent] = parts as [Element, Element, Element];
  if (!bytesAre(version.content, [0]) || !isMinimalPositive(modulus) || !isMinimalPositive(exponent))
    return undefined;
  return rsaInfo(algorithm, modulus, exponent);
}

/** An explicit tag ([0] the curve, [1] the public key): constructed, its header in DER. */
const isContext = (e: Element | undefined, tagNumber: number): e is Element =>
  e?.tagClass === CONTEXT && e.tagNumber === tagNumber && e.constructed && isDer(e);

/** A positive INTEGER in its shortest form: no sign bit set, no leading zero it does not need. */
const isMinimalPositive = ({ content: c }: Element): boolean =>
  c.length > 0 && c[0]! < 0x80 && !(c[0] === 0 && (c.length === 1 || c[1]! < 0x80));

const bytesAre = (bytes: Uint8Array, expected: ArrayLike<number>): boolean =>
  bytes.length === expected.length && bytes.every((b, i) => b === expected[i]);
