import { createHash } from 'node:crypto';
import type { CredentialAttributes } from '../api/attributes.js';
import { CredroamError } from '../api/errors.js';
import { asn1js } from './asn1.js';
import { describeCertificate } from './certificate.js';

/*
 * What a credential carries besides its certificate and key: the name the user knows it by
 * (PKCS#12 friendlyName) and the CA certificates that chain it to a root. It roams as its own token
 * kind, `attrs`, one per certificate, with the certificate's id (docs/decisions/009). The type is
 * the API's (`CredentialAttributes`); this is its codec.
 */
export type { CredentialAttributes };

/** Bounds checked before any parsing work beyond them. */
export const ATTRIBUTE_LIMITS = {
  /** The whole document, in bytes: under the default token size (65 535) with room for the seal. */
  documentBytes: 60_000,
  /** Unicode code points. */
  friendlyNameChars: 256,
  chainCertificates: 10,
  /** One chain certificate's DER. */
  certificateBytes: 16_384,
} as const;

const FORMAT = 1;
const HEX64 = /^[0-9a-f]{64}$/;
// Control characters (C0, DEL, C1), line and paragraph separators, and the bidi embedding,
// override and isolate controls: a name shown in `credroam list` must not rewrite the line.
const FORBIDDEN = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');
const invalid = (message: string, details: Record<string, unknown> = {}): never => {
  throw new CredroamError('E_ATTRIBUTES_INVALID', message, details);
};

/** What is wrong with a friendly name, or undefined when it is one credroam roams. */
export function friendlyNameProblem(name: string): string | undefined {
  if (typeof name !== 'string') return 'the friendly name is not a string';
  if (name.length === 0) return 'the friendly name is empty';
  if (/\p{Cs}/u.test(name)) return 'the friendly name is not well-formed Unicode';
  // Counted before anything else is done with it (a length of UTF-16 units bounds the work).
  if (
    name.length > ATTRIBUTE_LIMITS.friendlyNameChars * 2 ||
    [...name].length > ATTRIBUTE_LIMITS.friendlyNameChars
  )
    return `the friendly name is longer than ${ATTRIBUTE_LIMITS.friendlyNameChars} characters`;
  if (FORBIDDEN.test(name))
    return 'the friendly name holds a control, line-separator or bidi-control character';
  if (name.normalize('NFC') !== name) return 'the friendly name is not in Unicode normal form C';
  return undefined;
}

/** The length of the SEQUENCE `der` starts with, when it is one (at most 16 KiB: checked before). */
function certificateLength(der: Uint8Array): number | undefined {
  const { offset, result } = asn1js().fromBER(der);
  return offset === -1 || !(result instanceof asn1js().Sequence) ? undefined : offset;
}

/** What is wrong with one chain certificate, or undefined. */
function certificateProblem(der: Uint8Array, index: number): string | undefined {
  if (der.length > ATTRIBUTE_LIMITS.certificateBytes)
    return `chain certificate ${index} is ${der.length} bytes, the limit is ${ATTRIBUTE_LIMITS.certificateBytes}`;
  // As every endpoint reads certificates (describeCertificate): one DER certificate, nothing after
  // it, read from its structure where this OpenSSL is stricter than another endpoint's.
  try {
    describeCertificate(der);
  } catch (error) {
    // A certificate with bytes after it: said as such (one that fills the whole value reads).
    const length = certificateLength(der);
    if (length !== undefined && length < der.length)
      return `chain certificate ${index} has bytes after the certificate`;
    return `chain certificate ${index} is not an X.509 certificate (${(error as Error).message})`;
  }
  return undefined;
}

/** Checks attributes against every rule; throws `E_ATTRIBUTES_INVALID` naming the first broken one. */
export function checkCredentialAttributes(a: CredentialAttributes): void {
  if (typeof a.cert !== 'string' || !HEX64.test(a.cert))
    invalid('the attributes do not name a certificate (a SHA-256 in lower-case hex)');
  if (a.friendlyName !== undefined) {
    const problem = friendlyNameProblem(a.friendlyName);
    if (problem) invalid(problem, { sha256: a.cert });
  }
  if (!Array.isArray(a.chain)) invalid('the chain is not a list', { sha256: a.cert });
  if (a.chain.length > ATTRIBUTE_LIMITS.chainCertificates)
    invalid(
      `the chain holds ${a.chain.length} certificates, the limit is ${ATTRIBUTE_LIMITS.chainCertificates}`,
      { sha256: a.cert },
    );
  if (a.friendlyName === undefined && a.chain.length === 0)
    invalid('the attributes carry neither a friendly name nor a chain', { sha256: a.cert });
  const seen = new Set<string>([a.cert]);
  a.chain.forEach((der, i) => {
    if (!(der instanceof Uint8Array)) invalid(`chain certificate ${i} is not bytes`, { sha256: a.cert });
    const problem = certificateProblem(der, i);
    if (problem) invalid(problem, { sha256: a.cert });
    const id = sha256(der);
    if (seen.has(id))
      invalid(
        id === a.cert
          ? `chain certificate ${i} is the credential's own certificate`
          : `chain certificate ${i} appears twice`,
        { sha256: a.cert },
      );
    seen.add(id);
  });
}

/**
 * The one encoding of attributes: UTF-8 JSON without spaces, keys in this order, optional keys
 * left out: `{"v":1,"cert":"<sha256>","friendlyName":"…","chain":["<base64 DER>",…]}`.
 * Throws `E_ATTRIBUTES_INVALID` for attributes that break a rule.
 */
export function encodeCredentialAttributes(a: CredentialAttributes): Uint8Array {
  checkCredentialAttributes(a);
  const doc: Record<string, unknown> = { v: FORMAT, cert: a.cert };
  if (a.friendlyName !== undefined) doc.friendlyName = a.friendlyName;
  if (a.chain.length > 0) doc.chain = a.chain.map((c) => Buffer.from(c).toString('base64'));
  const bytes = new TextEncoder().encode(JSON.stringify(doc));
  if (bytes.length > ATTRIBUTE_LIMITS.documentBytes)
    invalid(`the attributes are ${bytes.length} bytes, the limit is ${ATTRIBUTE_LIMITS.documentBytes}`, {
      sha256: a.cert,
    });
  return bytes;
}

const KEYS = ['v', 'cert', 'friendlyName', 'chain'];

/**
 * Reads attributes from untrusted bytes (the directory, a file): bounded first, then strict: only
 * the canonical encoding of valid attributes is accepted (the bytes must equal what
 * `encodeCredentialAttributes` makes of what they say), so one set of attributes has one version
 * hash on every endpoint. Throws `E_ATTRIBUTES_INVALID` naming what is wrong.
 */
export function decodeCredentialAttributes(bytes: Uint8Array): CredentialAttributes {
  if (bytes.length > ATTRIBUTE_LIMITS.documentBytes)
    invalid(`the attributes are ${bytes.length} bytes, the limit is ${ATTRIBUTE_LIMITS.documentBytes}`);
  let text: string;
  let doc: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    doc = JSON.parse(text);
  } catch {
    return invalid('the attributes are not UTF-8 JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    return invalid('the attributes are not a JSON object');
  const o = doc as Record<string, unknown>;
  const extra = Object.keys(o).find((k) => !KEYS.includes(k));
  if (extra !== undefined) invalid(`unknown field in the attributes: ${JSON.stringify(extra.slice(0, 32))}`);
  if (o.v !== FORMAT) invalid(`unsupported attributes format ${JSON.stringify(o.v)}`);
  if (typeof o.cert !== 'string' || !HEX64.test(o.cert))
    invalid('the attributes do not name a certificate (a SHA-256 in lower-case hex)');
  if (o.friendlyName !== undefined && typeof o.friendlyName !== 'string')
    invalid('the friendly name is not a string');
  const raw = o.chain ?? [];
  if (!Array.isArray(raw)) return invalid('the chain is not a list');
  if (raw.length > ATTRIBUTE_LIMITS.chainCertificates)
    invalid(`the chain holds ${raw.length} certificates, the limit is ${ATTRIBUTE_LIMITS.chainCertificates}`);
  if (o.chain !== undefined && raw.length === 0) invalid('an empty chain is left out, not written');
  const chain = raw.map((c, i) =>
    typeof c === 'string'
      ? new Uint8Array(Buffer.from(c, 'base64'))
      : invalid(`chain certificate ${i} is not a string`),
  );
  const attributes: CredentialAttributes = {
    cert: o.cert as string,
    ...(o.friendlyName !== undefined ? { friendlyName: o.friendlyName as string } : {}),
    chain,
  };
  const again = encodeCredentialAttributes(attributes);
  if (!Buffer.from(again).equals(Buffer.from(bytes)))
    invalid('the attributes are not in their canonical encoding');
  return attributes;
}
