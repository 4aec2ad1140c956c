import * as asn1js from 'asn1js';
import test from 'ava';
import { nameOf, parseSubject } from '../src/subject.js';

const parsed = (text: string) => {
  const r = parseSubject(text);
  if (!r.ok) throw new Error(r.reason);
  return r.rdns.map((rdn) =>
    rdn.map((a) => [a.type, typeof a.value === 'string' ? a.value : Buffer.from(a.value).toString('hex')]),
  );
};

test('RFC 4514 order: the string starts with the most specific RDN; the Name starts with the least', (t) => {
  t.deepEqual(parsed('CN=alice,OU=Staff,O=Example,C=DE'), [
    [['2.5.4.6', 'DE']],
    [['2.5.4.10', 'Example']],
    [['2.5.4.11', 'Staff']],
    [['2.5.4.3', 'alice']],
  ]);
});

test('escapes: specials, hex UTF-8 bytes, an escaped leading space and #; multi-valued RDNs; dotted OIDs; #DER values', (t) => {
  t.deepEqual(parsed('CN=Smith\\, J\\2b\\C3\\A9+UID=js,DC=ex\\=ample'), [
    [['0.9.2342.19200300.100.1.25', 'ex=ample']],
    [
      ['2.5.4.3', 'Smith, J+é'],
      ['0.9.2342.19200300.100.1.1', 'js'],
    ],
  ]);
  t.deepEqual(parsed('CN=\\ \\#x\\ '), [[['2.5.4.3', ' #x ']]]);
  t.deepEqual(parsed('2.5.4.3=#0c05616c696365'), [[['2.5.4.3', '0c05616c696365']]]);
  t.deepEqual(parsed(''), []);
});

test('strict: what is not RFC 4514 is refused with the place, never guessed at', (t) => {
  for (const [text, reason] of [
    ['CN=alice, O=x', /a space after a separator is not RFC 4514 at offset 9/],
    ['CN=a;b', /';' must be escaped/],
    ['CN=a"b', /'"' must be escaped/],
    ['CN= alice', /a leading or trailing space must be escaped/],
    ['CN=alice ', /a leading or trailing space must be escaped/],
    ['CN=#zz', /a # value must be hexadecimal DER/],
    ['CN=#0c05', /the # value is not DER/],
    ['CN=\\q', /a backslash must escape/],
    ['CN=\\ff', /not UTF-8/],
    ['XX=alice', /unknown attribute type 'XX'/],
    ['CN=', /empty value/],
    ['CN=a,,O=b', /expected an attribute type/],
    ['C=Dé', /PrintableString characters only/],
    ['DC=é', /ASCII only/],
  ] as const) {
    const r = parseSubject(text);
    t.false(r.ok, text);
    if (!r.ok) t.regex(r.reason, reason, text);
  }
});

test('the Name encodes C as PrintableString, DC as IA5String, the rest as UTF8String; a multi-valued RDN in DER order', (t) => {
  const r = parseSubject('UID=z+CN=a,DC=example,C=DE');
  if (!r.ok) return t.fail(r.reason);
  const name = nameOf(r.rdns);
  const [c, dc, multi] = name.valueBlock.value as asn1js.Set[];
  const value = (set: asn1js.Set | undefined, i = 0) =>
    (set!.valueBlock.value[i] as asn1js.Sequence).valueBlock.value[1];
  t.true(value(c) instanceof asn1js.PrintableString);
  t.true(value(dc) instanceof asn1js.IA5String);
  t.true(value(multi) instanceof asn1js.Utf8String);
  // CN (2.5.4.3) encodes shorter than UID (0.9.2342…): it comes first in the SET.
  t.is(
    (
      (multi!.valueBlock.value[0] as asn1js.Sequence).valueBlock.value[0] as asn1js.ObjectIdentifier
    ).valueBlock.toString(),
    '2.5.4.3',
  );
});
