/**
 * DER elements read by their headers alone, and put together again: what
 * the certificate and key readers need to find a part by its place and take its bytes as they are.
 */

export interface Element {
  /** The element's bytes, header included. */
  readonly bytes: Uint8Array;
  /** Its content (after the header). */
  readonly content: Uint8Array;
  readonly tagClass: number;
  readonly tagNumber: number;
  /** The constructed form (bit 6 of the first byte): a SEQUENCE is, an INTEGER is not. */
  readonly constructed: boolean;
}

/**
 * One element's header: its tag (class and number, in one or more bytes) and a definite length
 * (short or long form, at most eight length bytes, leading zeros allowed) that fits in `data`;
 * nothing inside a constructed element is looked at. Undefined for anything else (an indefinite
 * length included). Read here rather than by asn1js, whose reading of a header costs about 10 µs:
 * a key's id reads a dozen (decision 029).
 *
 * It reads headers as asn1js read them for the certificate structure reader, and as OpenSSL does:
 * a length of up to eight bytes (OpenSSL skips leading zeros, then takes up to a `long`), a tag
 * number in as many bytes as it takes (one of more than eight digits, or past 2^53, is no number
 * this code asks for: -1). So a header need not be DER: `isDer` tells whether it is.
 */
export function element(data: Uint8Array): Element | undefined {
  if (data.length < 2) return undefined;
  const first = data[0]!;
  let at = 1;
  let tagNumber = first & 0x1f;
  if (tagNumber === 0x1f) {
    // The high-tag-number form: base-128 digits, the last without its top bit.
    tagNumber = 0;
    for (;;) {
      const b = data[at++];
      if (b === undefined) return undefined;
      tagNumber = tagNumber * 128 + (b & 0x7f);
      if ((b & 0x80) === 0) break;
    }
    if (at - 1 > 8 || tagNumber > Number.MAX_SAFE_INTEGER) tagNumber = -1;
  }
  const lengthByte = data[at++];
  if (lengthByte === undefined || lengthByte === 0x80) return undefined;
  let length = lengthByte;
  if (lengthByte > 0x80) {
    const count = lengthByte & 0x7f;
    if (count > 8 || at + count > data.length) return undefined;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + data[at++]!;
  }
  if (at + length > data.length) return undefined;
  return {
    bytes: data.subarray(0, at + length),
    content: data.subarray(at, at + length),
    tagClass: (first >> 6) + 1,
    tagNumber,
    constructed: (first & 0x20) !== 0,
  };
}

/** The elements of a constructed element's content, in order; undefined if one does not read. */
export function children(content: Uint8Array): Element[] | undefined {
  const out: Element[] = [];
  for (let at = 0; at < content.length; ) {
    const e = element(content.subarray(at));
    if (e === undefined) return undefined;
    out.push(e);
    at += e.bytes.length;
  }
  return out;
}

export const UNIVERSAL = 1;
export const CONTEXT = 3;
export const SEQUENCE = 16;
export const BIT_STRING = 3;

export const INTEGER = 2;
export const OCTET_STRING = 4;
export const OBJECT_IDENTIFIER = 6;

/**
 * Whether `e` is a universal element with this tag number, in the form DER gives it: a SEQUENCE
 * constructed, the others read here (INTEGER, BIT STRING, OCTET STRING, OBJECT IDENTIFIER) not.
 */
export const isUniversal = (e: Element | undefined, tagNumber: number): e is Element =>
  e?.tagClass === UNIVERSAL &&
  e.tagNumber === tagNumber &&
  e.constructed === (tagNumber === SEQUENCE) &&
  isDer(e);

/**
 * Whether `e`'s header is the one DER gives it: its tag in one byte (a number below 31) and its
 * length in the fewest bytes (short form below 128, else long form without leading zeros).
 * OpenSSL reads the other forms too (a length `81 05`, `82 00 40`, a tag `1f 10`), and writes DER
 * when it writes the value back: bytes taken as they are must have DER headers to be its bytes.
 */
export function isDer(e: Element): boolean {
  if ((e.bytes[0]! & 0x1f) === 0x1f) return false;
  let lengthBytes = 0;
  for (let n = e.content.length; n > 0; n = Math.floor(n / 256)) lengthBytes++;
  const header = e.content.length < 0x80 ? 2 : 2 + lengthBytes;
  return e.bytes.length - e.content.length === header;
}

/** The one element `data` is, exactly (nothing after it); undefined otherwise. */
export function only(data: Uint8Array): Element | undefined {
  const e = element(data);
  return e && e.bytes.length === data.length ? e : undefined;
}

/** A DER element of the universal tag byte `tag` (0x30 a SEQUENCE, 0x03 a BIT STRING) holding `parts`. */
export function encode(tag: number, ...parts: readonly Uint8Array[]): Uint8Array {
  const length = parts.reduce((n, p) => n + p.length, 0);
  const lengthBytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) lengthBytes.unshift(n % 256);
  const header = length < 0x80 ? [tag, length] : [tag, 0x80 | lengthBytes.length, ...lengthBytes];
  const out = new Uint8Array(header.length + length);
  out.set(header, 0);
  let at = header.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
