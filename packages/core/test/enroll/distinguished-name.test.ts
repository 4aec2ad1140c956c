import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as asn1js from 'asn1js';
import test from 'ava';
import { distinguishedNameDer, parseDistinguishedName } from '../../src/enroll/distinguished-name.js';
import { escapeDnValue } from '../../src/enroll/profile.js';

const run = promisify(execFile);

/** The RDNs as [name, value] pairs; a refusal fails the test with its reason. */
const parsed = (text: string) => {
  const r = parseDistinguishedName(text);
  if (!r.ok) throw new Error(`${text}: ${r.reason}`);
  return r.rdns.map((rdn) => rdn.map((a) => [a.name, a.value]));
};
const reason = (text: string) => {
  const r = parseDistinguishedName(text);
  return r.ok ? 'accepted' : r.reason;
};
const hex = (text: string) => {
  const r = parseDistinguishedName(text);
  if (!r.ok) throw new Error(`${text}: ${r.reason}`);
  return Buffer.from(distinguishedNameDer(r.rdns)).toString('hex');
};

test("RDNs come in the string's order (most specific first), each with its OID, short name and value", (t) => {
  t.deepEqual(parseDistinguishedName('CN=alice,OU=Staff+L=Paris,O=Example,C=DE'), {
    ok: true,
    rdns: [
      [{ oid: '2.5.4.3', name: 'CN', value: 'alice' }],
      [
        { oid: '2.5.4.11', name: 'OU', value: 'Staff' },
        { oid: '2.5.4.7', name: 'L', value: 'Paris' },
      ],
      [{ oid: '2.5.4.10', name: 'O', value: 'Example' }],
      [{ oid: '2.5.4.6', name: 'C', value: 'DE' }],
    ],
  });
});

test('every attribute type, in any case, aliases and known dotted OIDs under their short name', (t) => {
  const all =
    'cn=a,SN=b,serialNumber=c,C=FR,l=d,ST=e,street=f,O=g,OU=h,Title=i,GN=j,givenName=k,dc=l,UID=m,E=n,emailAddress=o';
  const r = parseDistinguishedName(all);
  if (!r.ok) return t.fail(r.reason);
  t.deepEqual(
    r.rdns.map(([a]) => `${a!.name} ${a!.oid}`),
    [
      'CN 2.5.4.3',
      'SN 2.5.4.4',
      'SERIALNUMBER 2.5.4.5',
      'C 2.5.4.6',
      'L 2.5.4.7',
      'ST 2.5.4.8',
      'STREET 2.5.4.9',
      'O 2.5.4.10',
      'OU 2.5.4.11',
      'TITLE 2.5.4.12',
      'GN 2.5.4.42',
      'GN 2.5.4.42',
      'DC 0.9.2342.19200300.100.1.25',
      'UID 0.9.2342.19200300.100.1.1',
      'E 1.2.840.113549.1.9.1',
      'E 1.2.840.113549.1.9.1',
    ],
  );
  t.deepEqual(parsed('2.5.4.3=alice,0.9.2342.19200300.100.1.25=org'), [[['CN', 'alice']], [['DC', 'org']]]);
  t.regex(reason('1.2.3.4=x'), /unknown attribute type '1.2.3.4' at offset 0/);
});

test('escapes: every special, hex-escaped UTF-8 bytes, escaped leading and trailing spaces and #; multi-valued RDNs', (t) => {
  t.deepEqual(parsed('cn=Alice\\, Jr. \\2B co,OU=R\\C3\\A9seau+L=Paris,dc=example,DC=org'), [
    [['CN', 'Alice, Jr. + co']],
    [
      ['OU', 'Réseau'],
      ['L', 'Paris'],
    ],
    [['DC', 'example']],
    [['DC', 'org']],
  ]);
  t.deepEqual(parsed('CN=Smith\\, J\\2b\\C3\\A9+UID=js,DC=ex\\=ample'), [
    [
      ['CN', 'Smith, J+é'],
      ['UID', 'js'],
    ],
    [['DC', 'ex=ample']],
  ]);
  t.deepEqual(parsed('CN=\\ \\#x\\ '), [[['CN', ' #x ']]]);
  t.deepEqual(parsed('ST=\\ Île\\ ,E=alice@example.org'), [[['ST', ' Île ']], [['E', 'alice@example.org']]]);
  t.deepEqual(parsed('CN=\\,\\+\\"\\\\\\<\\>\\;\\=\\#\\ '), [[['CN', ',+"\\<>;=# ']]]);
  t.deepEqual(parsed('CN=a #1 b'), [[['CN', 'a #1 b']]], 'a # or space inside a value needs no escape');
});

test('characters beyond the BMP are taken whole, raw or as escaped UTF-8; a BOM is kept', (t) => {
  t.deepEqual(parsed('UID=alice 😀,CN=\\F0\\9F\\98\\80'), [[['UID', 'alice 😀']], [['CN', '😀']]]);
  t.is(hex('CN=😀'), '300f310d300b06035504030c04f09f9880');
  t.deepEqual(parsed('CN=\\EF\\BB\\BFx'), [[['CN', '\ufeffx']]]);
  t.regex(reason('CN=a\ud800b'), /not valid Unicode/);
  t.regex(reason('CN=\\F0\\9F\\98'), /the CN value is not UTF-8 at offset 3/);
  t.regex(reason('CN=\\ED\\A0\\80'), /not UTF-8/, 'an encoded surrogate is not UTF-8');
  t.regex(reason('CN=\\C0\\AF'), /not UTF-8/, 'an overlong encoding is not UTF-8');
});

test('what profile templates write (escapeDnValue) reads back as the value', (t) => {
  for (const value of ['a,b+c"d\\e<f>g;h=i', '#lead', ' both ', 'Zoë 😀 #1', 'x=y']) {
    t.deepEqual(parsed(`CN=${escapeDnValue(value)},O=Example`), [[['CN', value]], [['O', 'Example']]], value);
  }
});

test('strict: what is not RFC 4514 is refused with the reason and place, never guessed at', (t) => {
  for (const [text, expected] of [
    ['', /^the name is empty$/],
    ['CN=alice, O=x', /a space after a separator is not RFC 4514 at offset 9/],
    ['UID=alice 😀, E = alice@example.org', /a space after a separator is not RFC 4514/],
    ['E = alice@example.org', /a space before '=' is not RFC 4514 at offset 1/],
    [' CN=alice', /a space at the start is not RFC 4514 at offset 0/],
    ['CN= alice', /a leading space in the CN value must be escaped/],
    ['CN=alice ', /a trailing space in the CN value must be escaped at offset 8/],
    ['CN=alice ,O=x', /a trailing space in the CN value must be escaped/],
    ['CN=a;b', /';' must be escaped at offset 4/],
    ['CN=a"b', /'"' must be escaped/],
    ['CN=a<b', /'<' must be escaped/],
    ['CN=a>b', /'>' must be escaped/],
    ['CN=a=b', /'=' must be escaped/],
    ['CN=#0403616263', /the CN value is #hex \(BER\), which credroam refuses/],
    ['CN=#zz', /#hex/],
    ['2.5.4.3=#0c05616c696365', /#hex/],
    ['CN=\\q', /a backslash must escape/],
    ['CN=a\\zz', /a backslash must escape/],
    ['CN=a\\', /a backslash must escape/],
    ['CN=\\ff', /not UTF-8/],
    ['CN=\\C3', /not UTF-8/],
    ['XX=alice', /unknown attribute type 'XX'/],
    ['FOO=bar', /unknown attribute type 'FOO'/],
    ['CN', /expected '=' after 'CN'/],
    ['=alice', /expected an attribute type at offset 0/],
    ['CN=', /the CN value is empty/],
    ['CN=,O=x', /the CN value is empty/],
    ['CN=a,,O=b', /expected an attribute type at offset 5/],
    ['CN=alice,', /expected an attribute type at offset 9/],
    ['CN=a+', /expected an attribute type/],
    ['CN=a+cn=b', /'CN' twice in one RDN/],
    ['CN=a\u0000b', /a control character in the CN value/],
    ['CN=a\nb', /a control character/],
    ['CN=a\\0Ab', /a control character/],
    ['C=France', /C must be a two-letter country code/],
    ['C=F1', /two-letter/],
    ['C=Dé', /PrintableString cannot hold/],
    ['SERIALNUMBER=a_1', /PrintableString cannot hold/],
    ['DC=é', /IA5String cannot hold/],
    ['E=é@example.org', /IA5String cannot hold/],
  ] as const) {
    t.regex(reason(text), expected, JSON.stringify(text));
  }
});

test('the Name holds the RDNs reversed; C and SERIALNUMBER are PrintableString, DC and E IA5String, the rest UTF8String', (t) => {
  const r = parseDistinguishedName('UID=z+CN=a,E=a@b,DC=example,SERIALNUMBER=7,C=DE');
  if (!r.ok) return t.fail(r.reason);
  const name = asn1js.fromBER(distinguishedNameDer(r.rdns)).result as asn1js.Sequence;
  const rdns = name.valueBlock.value as asn1js.Set[];
  const attribute = (set: asn1js.Set | undefined, i = 0) => {
    const [type, value] = (set!.valueBlock.value[i] as asn1js.Sequence).valueBlock.value;
    return [(type as asn1js.ObjectIdentifier).valueBlock.toString(), value?.constructor.name];
  };
  t.deepEqual(
    rdns.map((set) => attribute(set)),
    [
      ['2.5.4.6', 'PrintableString'],
      ['2.5.4.5', 'PrintableString'],
      ['0.9.2342.19200300.100.1.25', 'IA5String'],
      ['1.2.840.113549.1.9.1', 'IA5String'],
      ['2.5.4.3', 'Utf8String'],
    ],
  );
  // One SET for the multi-valued RDN, in DER order: CN (06 03 55 04 03) sorts before UID (06 0a 09 92 …).
  t.deepEqual(attribute(rdns[4], 1), ['0.9.2342.19200300.100.1.1', 'Utf8String']);
  t.is(rdns.length, 5);
});

test('distinguishedNameDer: no RDNs are the empty Name; RDNs not from the parser are held to the same rules', (t) => {
  t.is(Buffer.from(distinguishedNameDer([])).toString('hex'), '3000');
  const cn = { oid: '2.5.4.3', name: 'CN', value: 'a' };
  t.throws(() => distinguishedNameDer([[]]), { instanceOf: RangeError, message: /an RDN with no attribute/ });
  t.throws(() => distinguishedNameDer([[cn, cn]]), { instanceOf: RangeError, message: /'CN' twice/ });
  t.throws(() => distinguishedNameDer([[{ oid: '1.2.3', name: 'X', value: 'a' }]]), {
    instanceOf: RangeError,
    message: /unknown attribute type 1.2.3/,
  });
  t.throws(() => distinguishedNameDer([[{ oid: '2.5.4.6', name: 'C', value: 'Ü1' }]]), {
    instanceOf: RangeError,
    message: /PrintableString cannot hold/,
  });
  t.throws(() => distinguishedNameDer([[{ ...cn, value: '' }]]), { message: /the CN value is empty/ });
  t.throws(() => distinguishedNameDer([[{ ...cn, value: 'a\ud800' }]]), { message: /not valid Unicode/ });
});

/**
 * The subject openssl writes for `-subj` (its own order, least specific first) must be the very
 * bytes distinguishedNameDer writes for the RFC 4514 string: same order, same SET order, same
 * string types, same UTF-8.
 */
test('openssl writes the same Name bytes for the same subject, and reads ours back', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'credroam-dn-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = path.join(dir, 'key.pem');
  await writeFile(key, privateKey.export({ format: 'pem', type: 'pkcs8' }));
  const config = path.join(dir, 'req.cnf');
  await writeFile(config, '[req]\ndistinguished_name = dn\nstring_mask = utf8only\nprompt = no\n[dn]\n');
  for (const [rfc4514, slashed] of [
    ['CN=alice,OU=Staff+L=Paris,O=Example,C=FR', '/C=FR/O=Example/OU=Staff+L=Paris/CN=alice'],
    ['CN=Smith\\, J\\2b\\C3\\A9 😀+UID=js,DC=example,DC=org', '/DC=org/DC=example/CN=Smith, J\\+é 😀+UID=js'],
    [
      'E=alice@example.org,SERIALNUMBER=A-1,GN=Zoë,SN=Łukasz,TITLE=Dr,STREET=1 rue \\#2,ST=Île,L=Paris',
      '/L=Paris/ST=Île/street=1 rue #2/title=Dr/SN=Łukasz/GN=Zoë/serialNumber=A-1/emailAddress=alice@example.org',
    ],
  ] as const) {
    const csr = path.join(dir, 'req.der');
    await run('openssl', [
      'req',
      '-new',
      '-config',
      config,
      '-key',
      key,
      '-utf8',
      '-subj',
      slashed,
      '-outform',
      'DER',
      '-out',
      csr,
    ]);
    const info = (asn1js.fromBER(new Uint8Array(await readFile(csr))).result as asn1js.Sequence).valueBlock
      .value[0] as asn1js.Sequence;
    const subject = Buffer.from(info.valueBlock.value[1]!.valueBeforeDecodeView).toString('hex');
    t.is(hex(rfc4514), subject, rfc4514);

    const ours = path.join(dir, 'name.der');
    await writeFile(ours, Buffer.from(hex(rfc4514), 'hex'));
    const { stdout } = await run('openssl', ['asn1parse', '-inform', 'DER', '-in', ours]);
    t.notRegex(stdout, /error/i, rfc4514);
  }
});
