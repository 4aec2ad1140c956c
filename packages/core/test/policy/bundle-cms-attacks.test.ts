import { createHash, createPrivateKey, randomBytes, sign as signBytes, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as asn1js from 'asn1js';
import test from 'ava';
import * as pkijs from 'pkijs';
import { canonicalJson, type PolicyVerification, verifyPolicyBundle } from '../../src/index.js';
import { document, makeSitePki, openssl } from './bundle-support.js';

// Someone hands the endpoint a crafted CMS: each case below is built by hand (pkijs for the
// ASN.1, node:crypto for real signatures by the site's own policy signer where the case needs one)
// and run through the real verifier. Every one must be refused at the named check; none may be
// read as policy.

const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  sha1: '1.3.14.3.2.26',
  md5: '1.2.840.113549.2.5',
  sha256: '2.16.840.1.101.3.4.2.1',
  ecdsaWithSha1: '1.2.840.10045.4.1',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  rsaPss: '1.2.840.113549.1.1.10',
  anyEku: '2.5.29.37.0',
};

const setup = (async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'credroam-policy-cms-'));
  const site = await makeSitePki(dir, 'site');
  const signer = await site.issue('signer');
  const plain = await site.issue('plain', { eku: false });
  return { dir, site, signer, plain };
})();
test.after.always(async () => rm((await setup).dir, { recursive: true, force: true }));

const options = async () => ({
  roots: [new X509Certificate(await readFile((await setup).site.root))],
  siteId: 'example.org',
  now: new Date(),
  agentVersion: '0.1.0',
});

interface Craft {
  content?: Uint8Array;
  /** What the message-digest attribute is computed over (default: content). */
  digestOf?: Uint8Array;
  digestOid?: string;
  digestName?: string;
  signatureOid?: string;
  signHash?: string;
  eContentType?: string;
  contentTypeValue?: string;
  omit?: Array<'contentType' | 'messageDigest' | 'signedAttrs' | 'eContent'>;
  twoMessageDigests?: boolean;
  sid?: 'issuerSerial' | 'ski';
  /** Whose certificate the sid names (default: the signing key's). */
  sidOf?: 'signer' | 'plain';
  /** Whose key signs (default: signer). */
  keyOf?: 'signer' | 'plain';
  signerInfos?: number;
  extraCerts?: string[];
}

const cert = async (name: 'signer' | 'plain') => {
  const s = await setup;
  const who = s[name];
  return {
    key: createPrivateKey(who.signer.keyPem),
    pki: pkijs.Certificate.fromBER(new Uint8Array(new X509Certificate(who.signer.certPem).raw)),
  };
};

async function craft(c: Craft = {}): Promise<Uint8Array> {
  const content = c.content ?? new TextEncoder().encode(canonicalJson(document()));
  const keyOwner = await cert(c.keyOf ?? 'signer');
  const named = await cert(c.sidOf ?? c.keyOf ?? 'signer');
  const digestName = c.digestName ?? 'sha256';
  const md = createHash(digestName)
    .update(c.digestOf ?? content)
    .digest();
  const attr = (type: string, value: asn1js.BaseBlock) => new pkijs.Attribute({ type, values: [value] });
  const attrs: pkijs.Attribute[] = [];
  if (!c.omit?.includes('contentType'))
    attrs.push(attr(OID.contentType, new asn1js.ObjectIdentifier({ value: c.contentTypeValue ?? OID.data })));
  attrs.push(attr(OID.signingTime, new asn1js.UTCTime({ valueDate: new Date() })));
  if (!c.omit?.includes('messageDigest'))
    attrs.push(attr(OID.messageDigest, new asn1js.OctetString({ valueHex: md })));
  if (c.twoMessageDigests)
    attrs.push(attr(OID.messageDigest, new asn1js.OctetString({ valueHex: createHash('sha256').digest() })));
  const signedAttrs = new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes: attrs });
  const toSign = new Uint8Array(signedAttrs.toSchema().toBER());
  toSign[0] = 0x31;
  const signature = signBytes(
    c.signHash ?? 'sha256',
    c.omit?.includes('signedAttrs') ? content : toSign,
    keyOwner.key,
  );
  const sid =
    c.sid === 'ski'
      ? new asn1js.Primitive({
          idBlock: { tagClass: 3, tagNumber: 0 },
          valueHex: createHash('sha1').update(randomBytes(8)).digest(),
        })
      : new pkijs.IssuerAndSerialNumber({ issuer: named.pki.issuer, serialNumber: named.pki.serialNumber });
  const signerInfo = () =>
    new pkijs.SignerInfo({
      version: c.sid === 'ski' ? 3 : 1,
      sid,
      digestAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: c.digestOid ?? OID.sha256 }),
      ...(c.omit?.includes('signedAttrs') ? {} : { signedAttrs }),
      signatureAlgorithm: new pkijs.AlgorithmIdentifier({
        algorithmId: c.signatureOid ?? OID.ecdsaWithSha256,
      }),
      signature: new asn1js.OctetString({ valueHex: signature }),
    });
  const s = await setup;
  const chain = [new X509Certificate(await readFile(s.site.intermediate))];
  for (const pem of c.extraCerts ?? []) chain.push(new X509Certificate(pem));
  const signed = new pkijs.SignedData({
    version: 1,
    digestAlgorithms: [new pkijs.AlgorithmIdentifier({ algorithmId: c.digestOid ?? OID.sha256 })],
    encapContentInfo: new pkijs.EncapsulatedContentInfo({
      eContentType: c.eContentType ?? OID.data,
      ...(c.omit?.includes('eContent') ? {} : { eContent: new asn1js.OctetString({ valueHex: content }) }),
    }),
    certificates: [
      keyOwner.pki,
      named.pki,
      ...chain.map((x) => pkijs.Certificate.fromBER(new Uint8Array(x.raw))),
    ],
    signerInfos: Array.from({ length: c.signerInfos ?? 1 }, signerInfo),
  });
  const info = new pkijs.ContentInfo({ contentType: OID.signedData, content: signed.toSchema(true) });
  return new Uint8Array(info.toSchema().toBER());
}

const refusedAt = (
  t: { is: (a: unknown, b: unknown, m?: string) => void },
  v: PolicyVerification,
  code: string,
) => {
  t.is(v.ok, false, 'accepted');
  if (!v.ok) t.is(v.code, code, v.reason);
};

test('the crafting itself is sound: the same construction, untouched, is accepted', async (t) => {
  const v = await verifyPolicyBundle(await craft(), await options());
  t.true(v.ok, v.ok ? '' : v.reason);
});

test('two SignerInfos (the same valid signer twice) are refused: a bundle has exactly one', async (t) => {
  refusedAt(t, await verifyPolicyBundle(await craft({ signerInfos: 2 }), await options()), 'E_POLICY_FORMAT');
});

test('a signer named by subjectKeyIdentifier is refused', async (t) => {
  refusedAt(t, await verifyPolicyBundle(await craft({ sid: 'ski' }), await options()), 'E_POLICY_FORMAT');
});

test('signed attributes without the message digest, or without the content type, or with a content type that is not id-data, or two message digests, are refused', async (t) => {
  for (const c of [
    { omit: ['messageDigest'] },
    { omit: ['contentType'] },
    { contentTypeValue: OID.signedData },
    { twoMessageDigests: true },
  ] as Craft[])
    refusedAt(t, await verifyPolicyBundle(await craft(c), await options()), 'E_POLICY_FORMAT');
});

test('no signed attributes at all (the signature over the content itself) is refused', async (t) => {
  refusedAt(
    t,
    await verifyPolicyBundle(await craft({ omit: ['signedAttrs'] }), await options()),
    'E_POLICY_FORMAT',
  );
});

test('an encapsulated content type that is not id-data is refused, and so is an absent eContent', async (t) => {
  refusedAt(
    t,
    await verifyPolicyBundle(await craft({ eContentType: OID.signedData }), await options()),
    'E_POLICY_FORMAT',
  );
  refusedAt(
    t,
    await verifyPolicyBundle(await craft({ omit: ['eContent'] }), await options()),
    'E_POLICY_FORMAT',
  );
});

test('SHA-1 and MD5 digests are refused, even with a message digest that matches', async (t) => {
  for (const [digestOid, digestName] of [
    [OID.sha1, 'sha1'],
    [OID.md5, 'md5'],
  ])
    refusedAt(
      t,
      await verifyPolicyBundle(await craft({ digestOid, digestName }), await options()),
      'E_POLICY_FORMAT',
    );
});

test('a signature algorithm the key does not pair with, or a weak one, does not verify: ecdsa-with-SHA1, RSA-PSS on an EC key', async (t) => {
  refusedAt(
    t,
    await verifyPolicyBundle(
      await craft({ signatureOid: OID.ecdsaWithSha1, signHash: 'sha1' }),
      await options(),
    ),
    'E_POLICY_SIGNATURE',
  );
  refusedAt(
    t,
    await verifyPolicyBundle(await craft({ signatureOid: OID.rsaPss }), await options()),
    'E_POLICY_SIGNATURE',
  );
});

test('a message digest over other content than the one attached is refused', async (t) => {
  const other = new TextEncoder().encode(canonicalJson(document({ serial: 99 })));
  refusedAt(
    t,
    await verifyPolicyBundle(await craft({ digestOf: other }), await options()),
    'E_POLICY_SIGNATURE',
  );
});

test('the signer named is the one whose key must verify: naming the policy signer while the plain certificate signed, or the reverse, is refused', async (t) => {
  // The plain certificate's holder signs, and names the policy signer (whose EKU would pass).
  refusedAt(
    t,
    await verifyPolicyBundle(await craft({ keyOf: 'plain', sidOf: 'signer' }), await options()),
    'E_POLICY_SIGNATURE',
  );
  // The policy signer signs but names the plain certificate: its key does not verify either.
  refusedAt(
    t,
    await verifyPolicyBundle(await craft({ keyOf: 'signer', sidOf: 'plain' }), await options()),
    'E_POLICY_SIGNATURE',
  );
});

test('bytes after the CMS object are refused', async (t) => {
  const good = await craft();
  const padded = new Uint8Array(good.length + 2);
  padded.set(good);
  refusedAt(t, await verifyPolicyBundle(padded, await options()), 'E_POLICY_FORMAT');
});

test('a signer certificate with anyExtendedKeyUsage and no policy-signing EKU cannot sign policy', async (t) => {
  const s = await setup;
  await writeFile(path.join(s.dir, 'any.ext'), `basicConstraints=CA:FALSE\nextendedKeyUsage=${OID.anyEku}\n`);
  await openssl(s.dir, [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'any.key',
    '-out',
    'any.csr',
    '-subj',
    '/CN=any',
  ]);
  await openssl(s.dir, [
    'x509',
    '-req',
    '-in',
    'any.csr',
    '-CA',
    'site-ca.pem',
    '-CAkey',
    'site-ca.key',
    '-set_serial',
    '0x1234',
    '-out',
    'any.pem',
    '-days',
    '30',
    '-extfile',
    'any.ext',
  ]);
  const { signPolicyBundle } = await import('../../src/index.js');
  const bundle = signPolicyBundle(canonicalJson(document()), {
    keyPem: await readFile(path.join(s.dir, 'any.key'), 'utf8'),
    certPem: await readFile(path.join(s.dir, 'any.pem'), 'utf8'),
    chainPems: [await readFile(s.site.intermediate, 'utf8')],
  });
  refusedAt(t, await verifyPolicyBundle(bundle, await options()), 'E_POLICY_EKU');
});
