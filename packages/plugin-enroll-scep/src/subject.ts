import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

/**
 * The attribute types a subject may name (RFC 4514 §3 and the usual extras), with the string type
 * each is encoded as: countryName is PrintableString (X.520), emailAddress and domainComponent
 * IA5String, the rest UTF8String (RFC 5280 §4.1.2.6).
 */
const ATTRIBUTES: Readonly<
  Record<string, { readonly oid: string; readonly kind: 'utf8' | 'printable' | 'ia5' }>
> = {
  CN: { oid: '2.5.4.3', kind: 'utf8' },
  O: { oid: '2.5.4.10', kind: 'utf8' },
  OU: { oid: '2.5.4.11', kind: 'utf8' },
  C: { oid: '2.5.4.6', kind: 'printable' },
  L: { oid: '2.5.4.7', kind: 'utf8' },
  ST: { oid: '2.5.4.8', kind: 'utf8' },
  STREET: { oid: '2.5.4.9', kind: 'utf8' },
  SERIALNUMBER: { oid: '2.5.4.5', kind: 'printable' },
  E: { oid: '1.2.840.113549.1.9.1', kind: 'ia5' },
  EMAILADDRESS: { oid: '1.2.840.113549.1.9.1', kind: 'ia5' },
  DC: { oid: '0.9.2342.19200300.100.1.25', kind: 'ia5' },
  UID: { oid: '0.9.2342.19200300.100.1.1', kind: 'utf8' },
};

/** One attribute of a relative distinguished name, as read from the string. */
export interface SubjectAttribute {
  /** The short name, upper case (`CN`). */
  readonly type: string;
  readonly value: string;
}

/** The outcome of reading a subject: RDNs in the string's order (most specific first), or why not. */
export type ParsedSubject =
  | { readonly ok: true; readonly rdns: readonly (readonly SubjectAttribute[])[] }
  | { readonly ok: false; readonly reason: string };

const SPECIAL = new Set([',', '+', '"', '\\', '<', '>', ';', '=', ' ', '#']);
const HEX = /^[0-9a-fA-F]{2}$/;
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
const IA5 = /^[\x20-\x7e]*$/;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads an RFC 4514 string (`CN=alice\, jr,OU=Staff+L=Paris,O=Example`): types are short names
 * from the table above (case-insensitive), values may use backslash escapes (`\,`, `\2C`, UTF-8 as
 * `\C3\A9`), `+` joins attributes of one RDN. A value in `#hex` (BER) form, an unknown type, an
 * empty value or a character outside what the type's string type holds is refused. Never throws.
 */
export function parseSubject(text: string): ParsedSubject {
  if (text.trim() === '') return { ok: false, reason: 'the subject is empty' };
  const rdns: SubjectAttribute[][] = [];
  let rdn: SubjectAttribute[] = [];
  let i = 0;
  while (i <= text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) return { ok: false, reason: `no '=' after position ${i}` };
    const type = text.slice(i, eq).trim().toUpperCase();
    const spec = ATTRIBUTES[type];
    if (!spec) return { ok: false, reason: `unknown attribute type '${text.slice(i, eq).trim()}'` };
    i = eq + 1;
    while (text[i] === ' ') i++; // unescaped spaces before a value are not part of it
    if (text[i] === '#')
      return { ok: false, reason: `the ${type} value is in #hex form, which credroam does not take` };
    const bytes: number[] = [];
    let trailingSpaces = 0;
    let end: string | undefined;
    while (i < text.length) {
      const c = text[i]!;
      const code = text.codePointAt(i)!;
      if (c === ',' || c === '+') {
        end = c;
        i++;
        break;
      }
      if (c === '\\') {
        const pair = text.slice(i + 1, i + 3);
        if (HEX.test(pair)) {
          bytes.push(Number.parseInt(pair, 16));
          i += 3;
        } else if (SPECIAL.has(text[i + 1] ?? '')) {
          bytes.push(text.charCodeAt(i + 1));
          i += 2;
        } else return { ok: false, reason: `a bad escape in the ${type} value` };
        trailingSpaces = 0;
        continue;
      }
      if (c === '"' || c === ';' || c === '<' || c === '>' || c === '=')
        return { ok: false, reason: `'${c}' must be escaped in the ${type} value` };
      if (code < 0x20 || code === 0x7f)
        return { ok: false, reason: `a control character in the ${type} value` };
      const encoded = Buffer.from(String.fromCodePoint(code), 'utf8');
      i += code > 0xffff ? 2 : 1;
      if (c === ' ') trailingSpaces++;
      else trailingSpaces = 0;
      bytes.push(...encoded);
    }
    // Unescaped spaces after a value are not part of it either (RFC 4514 §3 allows none; lenient on input).
    const raw = Buffer.from(bytes.slice(0, bytes.length - trailingSpaces));
    let value: string;
    try {
      value = UTF8.decode(raw);
    } catch {
      return { ok: false, reason: `the ${type} value is not UTF-8` };
    }
    if (value === '') return { ok: false, reason: `the ${type} value is empty` };
    if (spec.kind === 'printable' && !PRINTABLE.test(value))
      return { ok: false, reason: `the ${type} value has characters a PrintableString cannot hold` };
    if (spec.kind === 'ia5' && !IA5.test(value))
      return { ok: false, reason: `the ${type} value has characters an IA5String cannot hold` };
    if (type === 'C' && value.length !== 2)
      return { ok: false, reason: 'C must be a two-letter country code' };
    rdn.push({ type: type === 'EMAILADDRESS' ? 'E' : type, value });
    if (end !== '+') {
      rdns.push(rdn);
      rdn = [];
    }
    if (end === undefined) break;
  }
  return { ok: true, rdns };
}

/**
 * The X.501 Name for RDNs in RFC 4514 string order: the string names the most specific RDN first,
 * the DER sequence holds it last (RFC 4514 §2.1), so `CN=alice,O=Example` is encoded O, then CN.
 */
export function subjectName(
  rdns: readonly (readonly SubjectAttribute[])[],
): pkijs.RelativeDistinguishedNames {
  // pkijs writes one SET per attribute; a multi-valued RDN needs its attributes in one SET, in DER
  // SET OF order (sorted by their encodings).
  const sets = [...rdns].reverse().map((rdn) => {
    const encoded = rdn
      .map((a) => {
        const spec = ATTRIBUTES[a.type]!;
        return Buffer.from(
          new pkijs.AttributeTypeAndValue({ type: spec.oid, value: stringOf(spec.kind, a.value) })
            .toSchema()
            .toBER(),
        );
      })
      .sort(Buffer.compare);
    return new asn1js.Set({ value: encoded.map((der) => asn1js.fromBER(der).result) });
  });
  const der = new asn1js.Sequence({ value: sets }).toBER();
  return pkijs.RelativeDistinguishedNames.fromBER(der);
}

function stringOf(kind: 'utf8' | 'printable' | 'ia5', value: string): asn1js.BaseStringBlock {
  if (kind === 'printable') return new asn1js.PrintableString({ value });
  if (kind === 'ia5') return new asn1js.IA5String({ value });
  return new asn1js.Utf8String({ value });
}
