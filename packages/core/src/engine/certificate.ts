import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { printable } from '../text/printable.js';
import { asn1js } from './asn1.js';
import { BIT_STRING, CONTEXT, children, type Element, element, SEQUENCE, UNIVERSAL } from './der.js';
import { exportedFormOf } from './public-key-info.js';

/** A part of a certificate that `describeCertificate` may find unreadable. */
export type CertificateField = 'subject' | 'issuer' | 'notBefore' | 'notAfter' | 'publicKey';

/**
 * What credroam says about a certificate. Every certificate OpenSSL reads has one: a part that
 * cannot be described is shown as such (and named in `unreadable`), never an exception.
 */
export interface CertificateDescription {
  /** SHA-256 (hex) of the DER: the certificate's id. */
  readonly id: string;
  /**
   * The subject on one line (`CN=alice, O=Example`), printable (`printable.ts`: no control or
   * bidi character, at most 512 characters); `(empty subject)` for a name without any RDN;
   * `(unreadable subject)` when it cannot be printed (then `unreadable` names it).
   */
  readonly subject: string;
  /** The issuer, as `subject` (`(empty issuer)`, `(unreadable issuer)`). */
  readonly issuer: string;
  /** Start of validity (ms since the epoch); undefined when the time cannot be read. */
  readonly notBefore?: number;
  /** End of validity (ms since the epoch); undefined when the time cannot be read. */
  readonly notAfter?: number;
  /**
   * The id of the certificate's key: SHA-256 (hex) of its SubjectPublicKeyInfo as Node exports it
   * (the id of the matching private key). For a public key Node cannot read (an unknown algorithm,
   * damaged key bits) it is the SHA-256 of the SubjectPublicKeyInfo bytes in the certificate, and
   * `unreadable` names `publicKey`: no private key can match it.
   */
  readonly keyId: string;
  /** The parts that cannot be read (in this order): empty for a well-formed certificate. */
  readonly unreadable: readonly CertificateField[];
}

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/**
 * Describes a certificate (DER) safely: the one place where credroam reads what a certificate says,
 * for the engine (its id and end of validity) and for the commands that show it. It throws only
 * for bytes that are not exactly one certificate OpenSSL reads (not DER, trailing bytes, PEM).
 *
 * OpenSSL reads certificates that Node cannot fully describe: an empty subject (Node gives no
 * `subject` at all), a time that is not a valid date (`Bad time value`), a public key of an
 * algorithm it does not know (`publicKey` throws). Node is asked first; where it gives nothing
 * usable, the certificate's own bytes (their DER headers, through asn1js) tell an empty name from
 * an unreadable one and give the SubjectPublicKeyInfo. A certificate whose SubjectPublicKeyInfo
 * cannot even be found that way throws: the local store lists it as unreadable, never as a
 * credential.
 *
 * OpenSSL itself grows stricter between versions (3.5, in Node 24, refuses a GeneralizedTime
 * without seconds that 3.0, in Node 20, reads). Endpoints of one user may run either, and must
 * agree on what is a credential: a certificate this OpenSSL refuses is described from its own
 * bytes when they are exactly one DER Certificate (SEQUENCE of TBSCertificate, algorithm and
 * signature BIT STRING, the SubjectPublicKeyInfo where RFC 5280 puts it), its unreadable parts
 * named as such.
 */
export function describeCertificate(der: Uint8Array): CertificateDescription {
  const id = sha256(der);
  const known = described.get(id);
  if (known) return known;
  let cert: X509Certificate | undefined;
  try {
    cert = new X509Certificate(der);
  } catch (error) {
    if (!isCertificateShape(der)) throw error;
  }
  const description = describe(der, cert);
  if (described.size >= DESCRIBED_MAX) described.clear();
  described.set(id, description);
  return description;
}

/**
 * The id of the private key a certificate's public key belongs to (SHA-256 of its
 * SubjectPublicKeyInfo, as `privateKeyId` gives it for the key); undefined for bytes that are no
 * certificate here, or whose public key cannot be read (then no key is known to be its).
 */
export function certificateKeyId(der: Uint8Array): string | undefined {
  try {
    const d = describeCertificate(der);
    return d.unreadable.includes('publicKey') ? undefined : d.keyId;
  } catch {
    return undefined;
  }
}

/**
 * Descriptions by the SHA-256 of the DER they describe (frozen: shared by every caller). One
 * command reads a certificate in several passes (the store's listing, the view, the mirrors): each
 * is parsed once per process. Bounded: a long-lived agent starts over past `DESCRIBED_MAX`.
 */
const described = new Map<string, CertificateDescription>();
const DESCRIBED_MAX = 50_000;

/**
 * What `describeCertificate` says of a certificate this OpenSSL refuses: read from its structure
 * alone. Exported for the test that holds it to OpenSSL's reading of the certificates OpenSSL does
 * read; not part of the kit.
 */
export function describeCertificateStructure(der: Uint8Array): CertificateDescription {
  if (!isCertificateShape(der)) throw new Error('not exactly one DER certificate');
  return describe(der, undefined);
}

function describe(der: Uint8Array, cert: X509Certificate | undefined): CertificateDescription {
  if (cert && !Buffer.from(cert.raw).equals(Buffer.from(der)))
    throw new Error('not exactly one DER certificate (trailing bytes, or another encoding)');
  const unreadable: CertificateField[] = [];
  let fields: TbsFields | undefined;
  const tbs = (): TbsFields => {
    fields ??= tbsFields(der);
    return fields;
  };

  // Shown to people and written to logs: whoever made the certificate chose the name, so it is
  // made printable (OpenSSL escapes C0 controls only; from the structure nothing is escaped).
  const name = (printed: string | undefined, which: 'subject' | 'issuer'): string => {
    if (printed) return printable(printed.replace(/\n/g, ', '));
    // A Name is a SEQUENCE of RDNs: empty content is a name without any.
    const element = tbs()[which];
    if (element?.content.length === 0) return `(empty ${which})`;
    const text = !cert && element ? nameText(element.bytes) : undefined;
    if (text) return printable(text);
    unreadable.push(which);
    return `(unreadable ${which})`;
  };
  const subject = name(cert?.subject, 'subject');
  const issuer = name(cert?.issuer, 'issuer');

  const notBefore = cert ? opensslTime(cert.validFrom) : asn1Time(tbs().validity?.[0]);
  if (notBefore === undefined) unreadable.push('notBefore');
  const notAfter = cert ? opensslTime(cert.validTo) : asn1Time(tbs().validity?.[1]);
  if (notAfter === undefined) unreadable.push('notAfter');

  let keyId: string;
  try {
    const key = cert
      ? cert.publicKey
      : createPublicKey({ key: Buffer.from(tbs().spki?.bytes ?? []), format: 'der', type: 'spki' });
    // OpenSSL read the key. Where the certificate holds it in the form OpenSSL writes (decision
    // 029), those bytes are its export: about 0.15 ms a certificate not spent writing them again.
    const spki = tbs().spki?.bytes;
    const asWritten = spki !== undefined && exportedFormOf(spki) === key.asymmetricKeyType;
    keyId = sha256(asWritten ? spki : key.export({ type: 'spki', format: 'der' }));
  } catch {
    const spki = tbs().spki;
    if (spki === undefined) throw new Error('its SubjectPublicKeyInfo cannot be found');
    keyId = sha256(spki.bytes);
    unreadable.push('publicKey');
  }

  return Object.freeze({
    id: sha256(der),
    subject,
    issuer,
    ...(notBefore !== undefined ? { notBefore } : {}),
    ...(notAfter !== undefined ? { notAfter } : {}),
    keyId,
    unreadable: Object.freeze(unreadable),
  });
}

/**
 * Whether `der` is exactly one DER Certificate by its structure (RFC 5280 4.1): a SEQUENCE of
 * TBSCertificate (a SEQUENCE), signatureAlgorithm (a SEQUENCE) and signatureValue (a BIT STRING),
 * nothing after it, with a SubjectPublicKeyInfo where the TBSCertificate holds it.
 */
function isCertificateShape(der: Uint8Array): boolean {
  const cert = element(der);
  if (!cert || cert.bytes.length !== der.length || cert.tagClass !== UNIVERSAL || cert.tagNumber !== SEQUENCE)
    return false;
  const parts = children(cert.content);
  const is = (e: Element | undefined, tag: number) => e?.tagClass === UNIVERSAL && e.tagNumber === tag;
  return (
    parts?.length === 3 &&
    is(parts[0], SEQUENCE) &&
    is(parts[1], SEQUENCE) &&
    is(parts[2], BIT_STRING) &&
    tbsFields(der).spki !== undefined
  );
}

interface TbsFields {
  readonly issuer?: Element;
  readonly subject?: Element;
  readonly spki?: Element;
  /** notBefore and notAfter, as they are (UTCTime or GeneralizedTime). */
  readonly validity?: readonly Element[];
}

/**
 * The issuer, subject and SubjectPublicKeyInfo of a certificate (RFC 5280 4.1: TBSCertificate is
 * [0] version (optional), serialNumber, signature, issuer, validity, subject,
 * subjectPublicKeyInfo, ...), each only when it is a SEQUENCE where it should be.
 */
function tbsFields(der: Uint8Array): TbsFields {
  const cert = element(der);
  const tbs = cert && children(cert.content)?.[0];
  const items = tbs && children(tbs.content);
  if (!items) return {};
  const at = items[0]?.tagClass === CONTEXT && items[0].tagNumber === 0 ? 1 : 0;
  const sequence = (i: number) => {
    const e = items[at + i];
    return e?.tagClass === UNIVERSAL && e.tagNumber === SEQUENCE ? e : undefined;
  };
  const validity = sequence(3);
  const times = validity && children(validity.content);
  return {
    issuer: sequence(2),
    subject: sequence(4),
    spki: sequence(5),
    ...(times?.length === 2 ? { validity: times } : {}),
  };
}

/** Short names of the attribute types OpenSSL prints by name; others print as their OID. */
const NAME_TYPES: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.4': 'SN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.12': 'title',
  '2.5.4.42': 'GN',
  '1.2.840.113549.1.9.1': 'emailAddress',
  '0.9.2342.19200300.100.1.1': 'UID',
  '0.9.2342.19200300.100.1.25': 'DC',
};

/**
 * A Name as OpenSSL prints it (`CN=x, O=y`), read from its DER for a certificate this OpenSSL
 * refuses; undefined when any attribute is not a type and a string.
 */
function nameText(der: Uint8Array): string | undefined {
  const parsed = asn1js().fromBER(der);
  if (parsed.offset === -1 || !(parsed.result instanceof asn1js().Sequence)) return undefined;
  const parts: string[] = [];
  for (const rdn of parsed.result.valueBlock.value) {
    if (!(rdn instanceof asn1js().Set)) return undefined;
    for (const atv of rdn.valueBlock.value) {
      const [type, value] = atv instanceof asn1js().Sequence ? atv.valueBlock.value : [];
      const text = (value as { valueBlock?: { value?: unknown } } | undefined)?.valueBlock?.value;
      if (!(type instanceof asn1js().ObjectIdentifier) || typeof text !== 'string') return undefined;
      const oid = type.valueBlock.toString();
      parts.push(`${NAME_TYPES[oid] ?? oid}=${text}`);
    }
  }
  return parts.join(', ');
}

const UTC_TIME = 23;
const GENERALIZED_TIME = 24;

/**
 * A certificate time from its DER, as OpenSSL 3.0 reads it: UTCTime `YYMMDDhhmm[ss]Z` (years 50–99
 * are 19xx) or GeneralizedTime `YYYYMMDDhhmm[ss[.f]]Z`, in ms since the epoch; undefined for
 * anything else or a date that does not exist.
 */
function asn1Time(e: Element | undefined): number | undefined {
  if (e?.tagClass !== UNIVERSAL) return undefined;
  const text = Buffer.from(e.content).toString('latin1');
  const m =
    e.tagNumber === UTC_TIME
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(text)
      : e.tagNumber === GENERALIZED_TIME
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(?:(\d{2})(\.\d+)?)?Z$/.exec(text)
        : null;
  if (!m) return undefined;
  let year = Number(m[1]);
  if (e.tagNumber === UTC_TIME) year += year < 50 ? 2000 : 1900;
  const fraction = e.tagNumber === GENERALIZED_TIME ? m[7] : undefined;
  return utcDate(
    [year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)],
    fraction,
  );
}

/** [year, month 0–11, day, hour, minute, second] as ms since the epoch; undefined if no such date. */
function utcDate(parts: readonly number[], fraction: string | undefined): number | undefined {
  const date = new Date(0);
  date.setUTCFullYear(parts[0]!, parts[1]!, parts[2]!);
  date.setUTCHours(parts[3]!, parts[4]!, parts[5]!, Math.floor(Number(`0${fraction ?? ''}`) * 1000));
  const back = [
    date.getUTCFullYear(),
    date.getUTCMonth(),
    date.getUTCDate(),
    date.getUTCHours(),
    date.getUTCMinutes(),
    date.getUTCSeconds(),
  ];
  if (parts[1]! < 0 || back.some((v, i) => v !== parts[i])) return undefined;
  return date.getTime();
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const OPENSSL_TIME = /^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(\.\d+)? (\d{1,4}) GMT$/;

/**
 * A time as OpenSSL prints it (`Jan  2 03:04:05 2025 GMT`, `Jan  2 03:04:05.5 2025 GMT`), in ms
 * since the epoch; undefined for anything else (OpenSSL prints `Bad time value` for a time that
 * is not a date). Read strictly, never by `Date.parse`: a date that does not exist is undefined.
 */
export function opensslTime(text: string | undefined): number | undefined {
  const m = OPENSSL_TIME.exec(text ?? '');
  if (!m) return undefined;
  const [, mon, day, hh, mm, ss, fraction, year] = m;
  const month = MONTHS.indexOf(mon!);
  return utcDate([Number(year), month, Number(day), Number(hh), Number(mm), Number(ss)], fraction);
}
