import * as asn1js from 'asn1js';
import { decode, MalformedAsn1, oid, seq } from './asn1/der.js';

/**
 * A strict RFC 4514 parser: `CN=alice+UID=a1,OU=Staff,O=Example` (the string starts with the last,
 * most specific RDN). Escapes `\,` `\+` `\"` `\\` `\<` `\>` `\;` `\=` `\#` `\ ` and `\XX` (UTF-8
 * bytes); a value `#HEX` is the DER of the value. Refused, never guessed at: an unknown attribute
 * name, a special character not escaped, a space around `,` `+` `=`, an empty RDN, bad UTF-8.
 */
export interface NameAttribute {
  readonly type: string;
  /** The string value, or the DER of a `#HEX` value. */
  readonly value: string | Uint8Array;
}

export type ParsedName = { ok: true; rdns: NameAttribute[][] } | { ok: false; reason: string };

/** RFC 4514 §3 names, and those of RFC 4519 certificates commonly carry. */
const NAMES: Readonly<Record<string, string>> = {
  CN: '2.5.4.3',
  SN: '2.5.4.4',
  SERIALNUMBER: '2.5.4.5',
  C: '2.5.4.6',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  STREET: '2.5.4.9',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  TITLE: '2.5.4.12',
  GN: '2.5.4.42',
  GIVENNAME: '2.5.4.42',
  DC: '0.9.2342.19200300.100.1.25',
  UID: '0.9.2342.19200300.100.1.1',
  EMAILADDRESS: '1.2.840.113549.1.9.1',
};
const IA5 = new Set(['0.9.2342.19200300.100.1.25', '1.2.840.113549.1.9.1']);
const PRINTABLE = new Set(['2.5.4.6', '2.5.4.5']);
const SPECIAL = ',+"\\<>;=# ';
const MUST_ESCAPE = ',+"\\<>;';

export function parseSubject(text: string): ParsedName {
  if (text === '') return { ok: true, rdns: [] };
  const rdns: NameAttribute[][] = [];
  let i = 0;
  const fail = (reason: string): ParsedName => ({ ok: false, reason: `${reason} at offset ${i}` });
  let rdn: NameAttribute[] = [];
  for (;;) {
    if (text[i] === ' ') return fail('a space after a separator is not RFC 4514');
    const typeMatch = /^([A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)+)=/.exec(text.slice(i));
    if (!typeMatch?.[1]) return fail('expected an attribute type and =');
    const name = typeMatch[1];
    const type = /^[0-9]/.test(name) ? name : NAMES[name.toUpperCase()];
    if (!type) return fail(`unknown attribute type '${name}'`);
    i += typeMatch[0].length;
    let value: string | Uint8Array;
    if (text[i] === '#') {
      const hex = /^#((?:[0-9A-Fa-f]{2})+)/.exec(text.slice(i));
      if (!hex?.[1]) return fail('a # value must be hexadecimal DER');
      value = Buffer.from(hex[1], 'hex');
      try {
        decode(value, 'the # value');
      } catch (error) {
        if (error instanceof MalformedAsn1) return fail(error.message);
        throw error;
      }
      i += hex[0].length;
    } else {
      const raw: number[] = [];
      const start = i;
      while (i < text.length && text[i] !== ',' && text[i] !== '+') {
        const c = text[i]!;
        if (c === '\\') {
          const next = text[i + 1];
          const hex = text.slice(i + 1, i + 3);
          if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
            raw.push(Number.parseInt(hex, 16));
            i += 3;
          } else if (next !== undefined && SPECIAL.includes(next)) {
            raw.push(next.charCodeAt(0));
            i += 2;
          } else return fail('a backslash must escape a special character or two hex digits');
        } else {
          if (MUST_ESCAPE.includes(c) || c === '\0') return fail(`'${c}' must be escaped`);
          if (
            c === ' ' &&
            (i === start || i === text.length - 1 || text[i + 1] === ',' || text[i + 1] === '+')
          )
            return fail('a leading or trailing space must be escaped');
          if (c === '#' && i === start) return fail('a leading # must be escaped');
          raw.push(...Buffer.from(c, 'utf8'));
          i += 1;
        }
      }
      if (raw.length === 0) return fail('empty value');
      try {
        value = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(raw));
      } catch {
        return fail('the value is not UTF-8');
      }
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: IA5String is ASCII, control characters included
    if (typeof value === 'string' && IA5.has(type) && !/^[\x00-\x7f]*$/.test(value))
      return fail(`'${name}' takes ASCII only`);
    if (typeof value === 'string' && PRINTABLE.has(type) && !/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(value))
      return fail(`'${name}' takes PrintableString characters only`);
    rdn.push({ type, value });
    if (i === text.length) {
      rdns.push(rdn);
      break;
    }
    const separator = text[i];
    i += 1;
    if (separator === ',') {
      rdns.push(rdn);
      rdn = [];
    }
  }
  return { ok: true, rdns: rdns.reverse() };
}

function attributeValue(a: NameAttribute): asn1js.BaseBlock {
  if (typeof a.value !== 'string') return decode(a.value, 'a # value');
  if (IA5.has(a.type)) return new asn1js.IA5String({ value: a.value });
  if (PRINTABLE.has(a.type)) return new asn1js.PrintableString({ value: a.value });
  return new asn1js.Utf8String({ value: a.value });
}

/** Name ::= RDNSequence, from the parsed RDNs (most significant first). */
export function nameOf(rdns: readonly NameAttribute[][]): asn1js.Sequence {
  // DER: a SET OF in the order of its members' encodings.
  const set = (rdn: readonly NameAttribute[]): asn1js.Set =>
    new asn1js.Set({
      value: rdn
        .map((a) => seq(oid(a.type), attributeValue(a)))
        .map((node) => ({ node, bytes: Buffer.from(node.toBER(false)) }))
        .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
        .map((x) => x.node),
    });
  return seq(...rdns.map(set));
}
