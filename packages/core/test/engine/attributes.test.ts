import { createHash } from 'node:crypto';
import test from 'ava';
import {
  ATTRIBUTE_LIMITS,
  CredroamError,
  decodeCredentialAttributes,
  encodeCredentialAttributes,
  KIND_CODES,
  X509ContentInspector,
} from '../../src/index.js';
import { type OpensslChain, opensslChain } from '../../src/testing/index.js';
import { tempDir } from '../support/temp.js';

const sha256 = (d: Uint8Array) => createHash('sha256').update(d).digest('hex');
const utf8 = (s: string) => new TextEncoder().encode(s);
const b64 = (d: Uint8Array) => Buffer.from(d).toString('base64');

let chainPromise: Promise<OpensslChain> | undefined;
function chain(t: Parameters<typeof tempDir>[0]): Promise<OpensslChain> {
  chainPromise ??= tempDir(t, 'credroam-attrs-').then((d) => opensslChain(d));
  return chainPromise;
}

/** The error an input is refused with (E_ATTRIBUTES_INVALID), as text. */
function refusal(t: Parameters<typeof tempDir>[0], bytes: Uint8Array): string {
  const error = t.throws(() => decodeCredentialAttributes(bytes));
  t.true(error instanceof CredroamError);
  t.is((error as CredroamError).code, 'E_ATTRIBUTES_INVALID');
  return error!.message;
}

test.serial(
  'attributes encode canonically and read back; their id is the certificate they name',
  async (t) => {
    const c = await chain(t);
    const attrs = { cert: sha256(c.leaf), friendlyName: 'My VPN', chain: [c.intermediate, c.root] };
    const bytes = encodeCredentialAttributes(attrs);
    t.is(
      Buffer.from(bytes).toString('utf8'),
      `{"v":1,"cert":"${attrs.cert}","friendlyName":"My VPN","chain":["${b64(c.intermediate)}","${b64(c.root)}"]}`,
    );
    const back = decodeCredentialAttributes(bytes);
    t.is(back.cert, attrs.cert);
    t.is(back.friendlyName, 'My VPN');
    t.deepEqual(
      back.chain.map((d) => Buffer.from(d)),
      [Buffer.from(c.intermediate), Buffer.from(c.root)],
    );
    t.is(new X509ContentInspector().inspect('attrs', bytes).id, attrs.cert);
    t.is(KIND_CODES.attrs, 3);
    // Only a name, only a chain.
    t.is(
      decodeCredentialAttributes(encodeCredentialAttributes({ cert: attrs.cert, chain: [c.root] }))
        .friendlyName,
      undefined,
    );
    t.deepEqual(
      decodeCredentialAttributes(
        encodeCredentialAttributes({ cert: attrs.cert, friendlyName: 'é', chain: [] }),
      ).chain,
      [],
    );
  },
);

test.serial(
  'a chain holding junk, trailing bytes, too many or too large certificates is refused',
  async (t) => {
    const c = await chain(t);
    const cert = sha256(c.leaf);
    const doc = (chainB64: string[]) => utf8(`{"v":1,"cert":"${cert}","chain":${JSON.stringify(chainB64)}}`);
    t.regex(
      refusal(t, doc([b64(utf8('not a certificate at all'))])),
      /chain certificate 0 is not an X\.509 certificate/,
    );
    t.regex(refusal(t, doc([b64(c.root), b64(new Uint8Array(40))])), /chain certificate 1 is not an X\.509/);
    t.regex(refusal(t, doc([b64(Buffer.concat([c.root, Buffer.from([0])]))])), /bytes after the certificate/);
    t.regex(
      refusal(t, doc(Array.from({ length: 11 }, () => b64(c.root)))),
      /holds 11 certificates, the limit is 10/,
    );
    t.regex(refusal(t, doc([b64(new Uint8Array(ATTRIBUTE_LIMITS.certificateBytes + 1))])), /16384/);
    t.regex(refusal(t, doc([b64(c.root), b64(c.root)])), /appears twice/);
    t.regex(refusal(t, doc([b64(c.leaf)])), /the credential's own certificate/);
    t.regex(refusal(t, doc([])), /empty chain/);
    t.regex(refusal(t, utf8(`{"v":1,"cert":"${cert}","chain":[1]}`)), /not a string/);
    t.regex(refusal(t, utf8(`{"v":1,"cert":"${cert}","chain":"x"}`)), /not a list/);
    t.regex(refusal(t, new Uint8Array(ATTRIBUTE_LIMITS.documentBytes + 1)), /limit is 60000/);
  },
);

test('a friendly name that is huge, empty, has control or bidi characters, or is not NFC is refused', (t) => {
  const cert = 'a'.repeat(64);
  const named = (name: string) => utf8(`{"v":1,"cert":"${cert}","friendlyName":${JSON.stringify(name)}}`);
  t.regex(refusal(t, named('x'.repeat(257))), /longer than 256 characters/);
  t.regex(refusal(t, named('x'.repeat(50_000))), /longer than 256 characters/);
  t.notThrows(() => decodeCredentialAttributes(named('x'.repeat(256))));
  t.notThrows(() => decodeCredentialAttributes(named('😀'.repeat(256))), '256 characters, 512 UTF-16 units');
  t.regex(refusal(t, named('')), /empty/);
  for (const bad of [
    'a\nb',
    'a\u0000b',
    'a\u001bb',
    'a\u007fb',
    'a\u0085b',
    'a\u2028b',
    'evil\u202egnp.exe',
    'a\u2066b',
  ]) {
    t.regex(refusal(t, named(bad)), /control/, JSON.stringify(bad));
  }
  t.regex(refusal(t, utf8(`{"v":1,"cert":"${cert}","friendlyName":"a\\ud800b"}`)), /well-formed/);
  t.regex(refusal(t, named('e\u0301')), /normal form C/);
  t.regex(refusal(t, utf8(`{"v":1,"cert":"${cert}","friendlyName":7}`)), /not a string/);
});

test('only the one canonical encoding is read', (t) => {
  const cert = 'b'.repeat(64);
  const good = `{"v":1,"cert":"${cert}","friendlyName":"n"}`;
  t.notThrows(() => decodeCredentialAttributes(utf8(good)));
  for (const variant of [
    `{"v":1, "cert":"${cert}","friendlyName":"n"}`,
    `{"cert":"${cert}","v":1,"friendlyName":"n"}`,
    `{"v":1,"cert":"${cert}","friendlyName":"\\u006e"}`,
    `{"v":1,"cert":"${cert}","friendlyName":"x","friendlyName":"n"}`,
    `${good}\n`,
    `\ufeff${good}`,
  ]) {
    t.regex(refusal(t, utf8(variant)), /canonical|not UTF-8 JSON/, variant);
  }
  t.regex(refusal(t, utf8(`{"v":2,"cert":"${cert}","friendlyName":"n"}`)), /unsupported attributes format 2/);
  t.regex(refusal(t, utf8(`{"v":1,"cert":"${cert}","friendlyName":"n","__proto__":{}}`)), /unknown field/);
  t.regex(
    refusal(t, utf8(`{"v":1,"cert":"${cert.toUpperCase()}","friendlyName":"n"}`)),
    /do not name a certificate/,
  );
  t.regex(refusal(t, utf8(`{"v":1,"cert":"${cert}"}`)), /neither a friendly name nor a chain/);
  t.regex(refusal(t, utf8('[1]')), /not a JSON object/);
  t.regex(refusal(t, Uint8Array.of(0xff, 0xfe)), /not UTF-8 JSON/);
  t.regex(refusal(t, utf8('{"v":1,"cert":"' + cert + '","friendlyName":"\\u00')), /not UTF-8 JSON/);
});

test('encoding refuses what decoding would refuse', (t) => {
  t.throws(() => encodeCredentialAttributes({ cert: 'c'.repeat(64), friendlyName: 'a\tb', chain: [] }), {
    message: /control/,
  });
  t.throws(() => encodeCredentialAttributes({ cert: 'not an id', friendlyName: 'x', chain: [] }));
});
