import type * as Asn1js from 'asn1js';
import { asn1js } from '../engine/asn1.js';

/**
 * Certificate subjects as credroam reads and writes them: an RFC 4514 string in, the DER of an
 * X.501 Name out (RFC 5280 §4.1.2.4). One parser and one encoder for every enroller.
 *
 * The attribute types a name may use, by short name (case-insensitive; the dotted OID is accepted
 * too), and the string type each value is encoded as (RFC 5280 §4.1.2.6 and appendix A):
 *
 * | name           | also        | OID                        | encoded as                    |
 * |----------------|-------------|----------------------------|-------------------------------|
 * | `CN`           |             | 2.5.4.3                    | UTF8String                    |
 * | `SN` (surname) |             | 2.5.4.4                    | UTF8String                    |
 * | `SERIALNUMBER` |             | 2.5.4.5                    | PrintableString               |
 * | `C`            |             | 2.5.4.6                    | PrintableString, two letters  |
 * | `L`            |             | 2.5.4.7                    | UTF8String                    |
 * | `ST`           |             | 2.5.4.8                    | UTF8String                    |
 * | `STREET`       |             | 2.5.4.9                    | UTF8String                    |
 * | `O`            |             | 2.5.4.10                   | UTF8String                    |
 * | `OU`           |             | 2.5.4.11                   | UTF8String                    |
 * | `TITLE`        |             | 2.5.4.12                   | UTF8String                    |
 * | `GN`           | `GIVENNAME` | 2.5.4.42                   | UTF8String                    |
 * | `DC`           |             | 0.9.2342.19200300.100.1.25 | IA5String                     |
 * | `UID`          |             | 0.9.2342.19200300.100.1.1  | UTF8String                    |
 * | `E`            | `EMAILADDRESS` | 1.2.840.113549.1.9.1    | IA5String                     |
 *
 * The string (RFC 4514 §3), strictly: `CN=alice\, jr+UID=a1,OU=Staff,O=Example,C=FR` names the
 * most specific RDN first; `+` joins the attributes of one multi-valued RDN. In a value, `,` `+`
 * `"` `\` `<` `>` `;` `=` are escaped wherever they are, `#` and a space at the start and a space
 * at the end (`\,` `\+` `\"` `\\` `\<` `\>` `\;` `\=` `\#` `\ `), and any byte may be written
 * `\XX` (the value's bytes must be UTF-8). Refused, never guessed at:
 * - the empty string (the empty Name is `distinguishedNameDer([])`, never parsed);
 * - a space around `,` `+` `=`, a special character not escaped, a bad escape, bad UTF-8;
 * - a value in `#HEX` (BER) form: credroam encodes every value itself, so it would have to trust
 *   BER it cannot check against the attribute's syntax;
 * - an unknown type, an empty value, a type twice in one RDN, a control character, a character
 *   the value's string type cannot hold (PrintableString, IA5String), a `C` not two letters.
 *
 * Stricter than RFC 4514's grammar in two places: an `=` inside a value must be escaped, and no
 * value may hold a control character, even escaped. (`escapeDnValue` in profile.ts writes values
 * this parser takes.) Characters beyond the BMP are taken whole, raw or as `\XX` UTF-8 bytes.
 */

/** One attribute of a relative distinguished name: RFC 5280's AttributeTypeAndValue. */
export interface AttributeTypeAndValue {
  /** The attribute type, dotted (`2.5.4.3`). */
  readonly oid: string;
  /** Its short name from the table above, upper case (`CN`; `E` for emailAddress, `GN` for givenName). */
  readonly name: string;
  /** The value, unescaped. */
  readonly value: string;
}

/** An RDN: one attribute, or several joined by `+`. */
export type RelativeDistinguishedName = readonly AttributeTypeAndValue[];

/** What reading a name gave: its RDNs in the string's order (most specific first), or why not. */
export type ParsedDistinguishedName =
  | { readonly ok: true; readonly rdns: readonly RelativeDistinguishedName[] }
  | { readonly ok: false; readonly reason: string };

type StringType = 'utf8' | 'printable' | 'ia5';

interface AttributeSpec {
  readonly name: string;
  readonly oid: string;
  readonly type: StringType;
}

const SPECS: readonly AttributeSpec[] = [
  { name: 'CN', oid: '2.5.4.3', type: 'utf8' },
  { name: 'SN', oid: '2.5.4.4', type: 'utf8' },
  { name: 'SERIALNUMBER', oid: '2.5.4.5', type: 'printable' },
  { name: 'C', oid: '2.5.4.6', type: 'printable' },
  { name: 'L', oid: '2.5.4.7', type: 'utf8' },
  { name: 'ST', oid: '2.5.4.8', type: 'utf8' },
  { name: 'STREET', oid: '2.5.4.9', type: 'utf8' },
  { name: 'O', oid: '2.5.4.10', type: 'utf8' },
  { name: 'OU', oid: '2.5.4.11', type: 'utf8' },
  { name: 'TITLE', oid: '2.5.4.12', type: 'utf8' },
  { name: 'GN', oid: '2.5.4.42', type: 'utf8' },
  { name: 'DC', oid: '0.9.2342.19200300.100.1.25', type: 'ia5' },
  { name: 'UID', oid: '0.9.2342.19200300.100.1.1', type: 'utf8' },
  { name: 'E', oid: '1.2.840.113549.1.9.1', type: 'ia5' },
];
const BY_OID = new Map(SPECS.map((s) => [s.oid, s]));
const BY_NAME = new Map<string, AttributeSpec>([
  ...SPECS.map((s) => [s.name, s] as const),
  ['GIVENNAME', BY_OID.get('2.5.4.42')!],
  ['EMAILADDRESS', BY_OID.get('1.2.840.113549.1.9.1')!],
]);

/** RFC 4514 §3: a descr (keystring) or a numericoid, then `=`. */
const TYPE = /([A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)+)/y;
/** What may follow a backslash as itself (RFC 4514 §3 `special` and `\`). */
const ESCAPABLE = new Set([',', '+', '"', '\\', '<', '>', ';', '=', '#', ' ']);
/** Never unescaped in a value: RFC 4514 §2.4's `escaped`, and `=` (stricter than the grammar). */
const MUST_ESCAPE = new Set(['"', '<', '>', ';', '=']);
const HEX_PAIR = /^[0-9A-Fa-f]{2}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const CONTROL = /[\u0000-\u001f\u007f]/;
const LONE_SURROGATE = /\p{Cs}/u;
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
const IA5 = /^[\x20-\x7e]*$/;
const COUNTRY = /^[A-Za-z]{2}$/;
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Reads an RFC 4514 string by the rules above. Never throws: a name it refuses comes back as
 * `{ ok: false, reason }`, the reason naming what is wrong and its offset in `text`.
 */
export function parseDistinguishedName(text: string): ParsedDistinguishedName {
  if (text === '') return { ok: false, reason: 'the name is empty' };
  if (LONE_SURROGATE.test(text)) return { ok: false, reason: 'the name is not valid Unicode' };
  const rdns: RelativeDistinguishedName[] = [];
  let rdn: AttributeTypeAndValue[] = [];
  let i = 0;
  const fail = (what: string, at = i): ParsedDistinguishedName => ({
    ok: false,
    reason: `${what} at offset ${at}`,
  });
  for (;;) {
    if (text[i] === ' ')
      return fail(
        i === 0 ? 'a space at the start is not RFC 4514' : 'a space after a separator is not RFC 4514',
      );
    TYPE.lastIndex = i;
    const typeMatch = TYPE.exec(text);
    if (!typeMatch?.[1]) return fail('expected an attribute type');
    const written = typeMatch[1];
    const spec = /^[0-9]/.test(written) ? BY_OID.get(written) : BY_NAME.get(written.toUpperCase());
    if (!spec) return fail(`unknown attribute type '${written}'`);
    if (rdn.some((a) => a.oid === spec.oid)) return fail(`'${spec.name}' twice in one RDN`);
    i += written.length;
    if (text[i] === ' ') return fail("a space before '=' is not RFC 4514");
    if (text[i] !== '=') return fail(`expected '=' after '${written}'`);
    i += 1;
    const start = i;
    if (text[i] === ' ') return fail(`a leading space in the ${spec.name} value must be escaped`);
    if (text[i] === '#')
      return fail(`the ${spec.name} value is #hex (BER), which credroam refuses (write it as a string)`);
    const bytes: number[] = [];
    while (i < text.length && text[i] !== ',' && text[i] !== '+') {
      const c = text[i]!;
      if (c === '\\') {
        const pair = text.slice(i + 1, i + 3);
        const next = text[i + 1];
        if (HEX_PAIR.test(pair)) {
          bytes.push(Number.parseInt(pair, 16));
          i += 3;
        } else if (next !== undefined && ESCAPABLE.has(next)) {
          bytes.push(next.charCodeAt(0));
          i += 2;
        } else
          return fail(
            'a backslash must escape one of , + " \\ < > ; = # and space, or two hexadecimal digits',
          );
        continue;
      }
      if (MUST_ESCAPE.has(c)) return fail(`'${c}' must be escaped`);
      if (CONTROL.test(c)) return fail(`a control character in the ${spec.name} value`);
      if (c === ' ' && (i + 1 === text.length || text[i + 1] === ',' || text[i + 1] === '+'))
        return fail(`a trailing space in the ${spec.name} value must be escaped`);
      const point = String.fromCodePoint(text.codePointAt(i)!);
      bytes.push(...Buffer.from(point, 'utf8'));
      i += point.length;
    }
    let value: string;
    try {
      value = UTF8.decode(Uint8Array.from(bytes));
    } catch {
      return fail(`the ${spec.name} value is not UTF-8`, start);
    }
    const problem = valueProblem(spec, value);
    if (problem) return fail(problem, start);
    rdn.push({ oid: spec.oid, name: spec.name, value });
    if (i === text.length) break;
    if (text[i] === ',') {
      rdns.push(rdn);
      rdn = [];
    }
    i += 1;
  }
  rdns.push(rdn);
  return { ok: true, rdns };
}

/**
 * The DER of the X.501 Name for RDNs in string order (as `parseDistinguishedName` gives them):
 * the string names the most specific RDN first and the Name holds it last (RFC 4514 §2.1), so
 * `CN=alice,O=Example` is encoded O, then CN. A multi-valued RDN is a SET in DER order (sorted by
 * the encodings of its attributes). No RDNs give the empty Name (`30 00`).
 *
 * Whatever `parseDistinguishedName` accepted encodes. RDNs made otherwise are checked by the same
 * rules: an unknown OID, an empty RDN, a type twice in one RDN or a value its string type cannot
 * hold throws a `RangeError` naming it.
 */
export function distinguishedNameDer(rdns: readonly RelativeDistinguishedName[]): Uint8Array {
  const sets = [...rdns].reverse().map((rdn) => {
    if (rdn.length === 0) throw new RangeError('distinguishedNameDer: an RDN with no attribute');
    const seen = new Set<string>();
    const members = rdn.map((a) => {
      const spec = BY_OID.get(a.oid);
      if (!spec) throw new RangeError(`distinguishedNameDer: unknown attribute type ${a.oid}`);
      if (seen.has(spec.oid)) throw new RangeError(`distinguishedNameDer: '${spec.name}' twice in one RDN`);
      seen.add(spec.oid);
      const problem = valueProblem(spec, a.value);
      if (problem) throw new RangeError(`distinguishedNameDer: ${problem}`);
      const node = new (asn1js().Sequence)({
        value: [new (asn1js().ObjectIdentifier)({ value: spec.oid }), stringOf(spec.type, a.value)],
      });
      return { node, der: Buffer.from(node.toBER(false)) };
    });
    members.sort((x, y) => Buffer.compare(x.der, y.der));
    return new (asn1js().Set)({ value: members.map((m) => m.node) });
  });
  return new Uint8Array(new (asn1js().Sequence)({ value: sets }).toBER(false));
}

/** Why `value` cannot be the value of `spec`'s attribute, or undefined when it can. */
function valueProblem(spec: AttributeSpec, value: string): string | undefined {
  const name = spec.name;
  if (value === '') return `the ${name} value is empty`;
  if (LONE_SURROGATE.test(value)) return `the ${name} value is not valid Unicode`;
  if (CONTROL.test(value)) return `a control character in the ${name} value`;
  if (spec.type === 'printable' && !PRINTABLE.test(value))
    return `the ${name} value has characters a PrintableString cannot hold (A-Z a-z 0-9 space ' ( ) + , - . / : = ?)`;
  if (spec.type === 'ia5' && !IA5.test(value))
    return `the ${name} value has characters an IA5String cannot hold (ASCII only)`;
  if (name === 'C' && !COUNTRY.test(value)) return 'C must be a two-letter country code';
  return undefined;
}

function stringOf(type: StringType, value: string): Asn1js.BaseBlock {
  if (type === 'printable') return new (asn1js().PrintableString)({ value });
  if (type === 'ia5') return new (asn1js().IA5String)({ value });
  return new (asn1js().Utf8String)({ value });
}
