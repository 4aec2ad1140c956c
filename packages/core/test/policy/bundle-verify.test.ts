import { randomBytes, X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import {
  canonicalJson,
  checkPolicyBundleDocument,
  fingerprintOf,
  POLICY_BUNDLE_MAX_BYTES,
  POLICY_CHECKS,
  POLICY_SIGNING_EKU,
  type PolicyVerification,
  verifyPolicyBundle,
} from '../../src/index.js';
import { document, makeSitePki, openssl, sign } from './bundle-support.js';

const options = async (rootFile: string, extra: Record<string, unknown> = {}) => ({
  roots: [new X509Certificate(await readFile(rootFile))],
  siteId: 'example.org',
  now: new Date(),
  agentVersion: '0.1.0',
  ...extra,
});

const refused = (
  t: { is: (a: unknown, b: unknown, m?: string) => void; false: (v: boolean) => void },
  v: PolicyVerification,
  check: string,
  code: string,
) => {
  t.false(v.ok);
  if (v.ok) return;
  t.is(v.failed, check, v.reason);
  t.is(v.code, code, v.reason);
  t.is(v.checks.at(-1)?.name, check);
  // Stopped at the first failure: every check before it passed, none after it ran.
  t.is(v.checks.filter((c) => !c.ok).length, 1);
};

// One PKI for the file: openssl is slow enough.
const setup = (async () => {
  const { mkdtemp } = await import('node:fs/promises');
  const os = await import('node:os');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'credroam-policy-pki-'));
  const site = await makeSitePki(dir, 'site');
  const other = await makeSitePki(dir, 'other');
  const signer = await site.issue('signer');
  const plain = await site.issue('plain', { eku: false });
  const foreign = await other.issue('foreign');
  return { dir, site, other, signer, plain, foreign };
})();
test.after.always(async () => {
  const { rm } = await import('node:fs/promises');
  await rm((await setup).dir, { recursive: true, force: true });
});

// --- attacker cases first --------------------------------------------------------------------------

test('a byte flipped in the signed content is refused at the signature check', async (t) => {
  const { site, signer } = await setup;
  const doc = document();
  const bytes = sign(doc, signer.signer);
  const text = Buffer.from(canonicalJson(doc));
  const at = Buffer.from(bytes).indexOf(text);
  t.true(at > 0);
  const altered = new Uint8Array(bytes);
  const i = at + text.indexOf('77');
  altered[i] = '9'.charCodeAt(0); // maxTokens 77 → 97
  refused(t, await verifyPolicyBundle(altered, await options(site.root)), 'signature', 'E_POLICY_SIGNATURE');
});

test('a byte flipped in the signature is refused at the signature check', async (t) => {
  const { site, signer } = await setup;
  const bytes = new Uint8Array(sign(document(), signer.signer));
  bytes[bytes.length - 3]! ^= 0x01;
  refused(t, await verifyPolicyBundle(bytes, await options(site.root)), 'signature', 'E_POLICY_SIGNATURE');
});

test('a bundle signed under another root is refused: the chain must end at a root of this endpoint, whatever the bundle carries', async (t) => {
  const { site, other, foreign } = await setup;
  // The foreign signer carries the policy EKU and its whole chain, root included.
  const bytes = sign(document(), {
    ...foreign.signer,
    chainPems: [...foreign.signer.chainPems, await readFile(other.root, 'utf8')],
  });
  refused(t, await verifyPolicyBundle(bytes, await options(site.root)), 'signature', 'E_POLICY_CHAIN');
  // The same bundle is good for the site whose root it is.
  t.true((await verifyPolicyBundle(bytes, await options(other.root))).ok);
});

test('a signer the bundle names with terminal escapes, line breaks and bidi controls: the refusal names it on one printable line', async (t) => {
  const { dir, site } = await setup;
  // Its own self-made certificate, with the policy-signing EKU: whoever wrote the bundle chose its name.
  const subject = '/CN=x\u001b]0;title\u0007\u001b[2J\nOK policy applied\r\u009b31m\u202eevil/O=attacker';
  await openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'hostile.key',
    '-out',
    'hostile.pem',
    '-days',
    '30',
    '-utf8',
    '-subj',
    subject,
    '-addext',
    `extendedKeyUsage=${POLICY_SIGNING_EKU}`,
  ]);
  const signer = {
    keyPem: await readFile(path.join(dir, 'hostile.key'), 'utf8'),
    certPem: await readFile(path.join(dir, 'hostile.pem'), 'utf8'),
    chainPems: [],
  };
  const chained = await verifyPolicyBundle(sign(document(), signer), await options(site.root));
  refused(t, chained, 'signature', 'E_POLICY_CHAIN');
  const altered = new Uint8Array(sign(document(), signer));
  altered[altered.length - 3]! ^= 0x01;
  const unsigned = await verifyPolicyBundle(altered, await options(site.root));
  refused(t, unsigned, 'signature', 'E_POLICY_SIGNATURE');
  for (const v of [chained, unsigned]) {
    const reason = v.ok ? '' : v.reason;
    t.regex(reason, /CN=x/);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
    t.notRegex(reason, /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
  }
});

test('the right bundle checked against a wrong root is refused at the chain', async (t) => {
  const { other, signer } = await setup;
  refused(
    t,
    await verifyPolicyBundle(sign(document(), signer.signer), await options(other.root)),
    'signature',
    'E_POLICY_CHAIN',
  );
});

test('an ordinary certificate of the same CA, without the policy-signing EKU, cannot sign policy', async (t) => {
  const { site, plain } = await setup;
  refused(
    t,
    await verifyPolicyBundle(sign(document(), plain.signer), await options(site.root)),
    'eku',
    'E_POLICY_EKU',
  );
});

test('the holder of an ordinary certificate cannot issue itself a policy-signing one (its certificate is no CA)', async (t) => {
  const { dir, site, plain } = await setup;
  await writeFile(
    path.join(dir, 'sub.ext'),
    `basicConstraints=CA:FALSE\nextendedKeyUsage=2.25.216519607882879097454534830734979144005\n`,
  );
  await openssl(dir, [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'sub.key',
    '-out',
    'sub.csr',
    '-subj',
    '/CN=sub',
  ]);
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    'sub.csr',
    '-CA',
    plain.cert,
    '-CAkey',
    plain.key,
    '-set_serial',
    `0x${randomBytes(8).toString('hex')}`,
    '-out',
    'sub.pem',
    '-days',
    '30',
    '-extfile',
    'sub.ext',
  ]);
  const bytes = sign(document(), {
    keyPem: await readFile(path.join(dir, 'sub.key'), 'utf8'),
    certPem: await readFile(path.join(dir, 'sub.pem'), 'utf8'),
    chainPems: [plain.signer.certPem, ...plain.signer.chainPems],
  });
  refused(t, await verifyPolicyBundle(bytes, await options(site.root)), 'signature', 'E_POLICY_CHAIN');
});

test('a bundle for another site is refused', async (t) => {
  const { site, signer } = await setup;
  const bytes = sign(document({ siteId: 'elsewhere.example' }), signer.signer);
  refused(t, await verifyPolicyBundle(bytes, await options(site.root)), 'site', 'E_POLICY_SITE');
});

test('an expired bundle is refused; so is one issued in the future', async (t) => {
  const { site, signer } = await setup;
  const now = Date.now();
  const expired = sign(
    document({
      issuedAt: new Date(now - 10 * 86_400_000).toISOString(),
      notAfter: new Date(now - 86_400_000).toISOString(),
    }),
    signer.signer,
  );
  refused(t, await verifyPolicyBundle(expired, await options(site.root)), 'expiry', 'E_POLICY_EXPIRED');
  const future = sign(document({ issuedAt: new Date(now + 86_400_000).toISOString() }), signer.signer);
  refused(t, await verifyPolicyBundle(future, await options(site.root)), 'expiry', 'E_POLICY_NOT_YET_ISSUED');
});

test('a lower serial than the last accepted is refused; an equal serial with other content too; the same bundle is already in force', async (t) => {
  const { site, signer } = await setup;
  const five = sign(document({ serial: 5 }), signer.signer);
  const v5 = await verifyPolicyBundle(five, await options(site.root));
  t.true(v5.ok);
  if (!v5.ok) return;
  const lastAccepted = { serial: 5, digest: v5.bundle.digest };
  refused(
    t,
    await verifyPolicyBundle(
      sign(document({ serial: 4 }), signer.signer),
      await options(site.root, { lastAccepted }),
    ),
    'rollback',
    'E_POLICY_ROLLBACK',
  );
  const reused = sign(document({ serial: 5, roaming: { maxTokens: 9999 } }), signer.signer);
  refused(
    t,
    await verifyPolicyBundle(reused, await options(site.root, { lastAccepted })),
    'rollback',
    'E_POLICY_ROLLBACK',
  );
  const again = await verifyPolicyBundle(five, await options(site.root, { lastAccepted }));
  t.true(again.ok && again.bundle.alreadyInForce);
});

test('a schema error is refused with its place', async (t) => {
  const { site, signer } = await setup;
  const v = await verifyPolicyBundle(
    sign(document({ roaming: { maxTokens: 0 } }), signer.signer),
    await options(site.root),
  );
  refused(t, v, 'schema', 'E_POLICY_SCHEMA');
  t.false(v.ok);
  if (!v.ok) t.regex(v.reason, /\/roaming\/maxTokens/);
  const extra = await verifyPolicyBundle(
    sign(document({ plugins: [{ id: 'x', version: 'latest!', files: { a: 'b' } }] }), signer.signer),
    await options(site.root),
  );
  refused(t, extra, 'schema', 'E_POLICY_SCHEMA');
  if (!extra.ok) t.regex(extra.reason, /\/plugins\/0\/files\/a/);
});

test('JSON nested beyond the bound is refused at the schema check, without parsing it', async (t) => {
  const { site, signer } = await setup;
  const deep = `{"siteId":"example.org","x":${'['.repeat(5000)}${']'.repeat(5000)}}`;
  const { signPolicyBundle } = await import('../../src/index.js');
  const bytes = signPolicyBundle(new TextEncoder().encode(deep), signer.signer);
  const v = await verifyPolicyBundle(bytes, await options(site.root));
  refused(t, v, 'schema', 'E_POLICY_SCHEMA');
  if (!v.ok) t.regex(v.reason, /nested deeper than 32/);
});

test('a member named twice in one object is refused at the schema check: which one counts would be up to the reader', async (t) => {
  // JSON.parse keeps the last; a reviewer's tool may show the first. `{"serial":1,"serial":9}`,
  // `"plugins":[]` then `"plugins":[…]`, or a name spelt with an escape the second time
  // (`"seria\u006c"`): the document signed must mean one thing.
  const { site, signer } = await setup;
  const { signPolicyBundle } = await import('../../src/index.js');
  const base = canonicalJson(document({ serial: 1 }));
  for (const text of [
    base.replace('"serial":1', '"serial":1,"serial":9'),
    base.replace('"serial":1', '"serial":1,"seria\\u006c":9'),
    base.replace('"roaming":{', '"roaming":{"maxTokens":5,'),
  ]) {
    const v = await verifyPolicyBundle(signPolicyBundle(text, signer.signer), await options(site.root));
    refused(t, v, 'schema', 'E_POLICY_SCHEMA');
    if (!v.ok) t.regex(v.reason, /a member named "(serial|maxTokens)" twice/);
  }
  // The same name in two different objects is not a duplicate.
  t.true((await verifyPolicyBundle(signPolicyBundle(base, signer.signer), await options(site.root))).ok);
});

test('a bundle asking for a newer agent is refused at its own check', async (t) => {
  const { site, signer } = await setup;
  const v = await verifyPolicyBundle(
    sign(document({ minAgentVersion: '9.0.0' }), signer.signer),
    await options(site.root),
  );
  refused(t, v, 'agentVersion', 'E_POLICY_AGENT_VERSION');
  t.true(
    (
      await verifyPolicyBundle(
        sign(document({ minAgentVersion: '0.1.0' }), signer.signer),
        await options(site.root),
      )
    ).ok,
  );
});

test('an oversized bundle is refused before it is parsed', async (t) => {
  const { site } = await setup;
  refused(
    t,
    await verifyPolicyBundle(new Uint8Array(POLICY_BUNDLE_MAX_BYTES + 1), await options(site.root)),
    'signature',
    'E_POLICY_FORMAT',
  );
});

test('what is not CMS at all is refused: random bytes, a certificate, nothing', async (t) => {
  const { site } = await setup;
  const cert = new X509Certificate(await readFile(site.root)).raw;
  for (const bytes of [
    new Uint8Array([1, 2, 3, 4]),
    new Uint8Array(cert),
    new Uint8Array(0),
    new TextEncoder().encode('{"siteId":"example.org"}'),
  ]) {
    refused(t, await verifyPolicyBundle(bytes, await options(site.root)), 'signature', 'E_POLICY_FORMAT');
  }
});

test('a detached signature (openssl cms -sign without -nodetach) is refused: the content must be attached', async (t) => {
  const { dir, site, signer } = await setup;
  await writeFile(path.join(dir, 'doc.json'), canonicalJson(document()));
  const bytes = await openssl(dir, [
    'cms',
    '-sign',
    '-binary',
    '-outform',
    'DER',
    '-md',
    'sha256',
    '-in',
    'doc.json',
    '-signer',
    signer.cert,
    '-inkey',
    signer.key,
    '-certfile',
    site.intermediate,
  ]);
  const v = await verifyPolicyBundle(new Uint8Array(bytes), await options(site.root));
  refused(t, v, 'signature', 'E_POLICY_FORMAT');
  if (!v.ok) t.regex(v.reason, /detached/);
});

test('nextSigners: once the bundle in force names them, only those certificates may sign the next', async (t) => {
  const { site, signer } = await setup;
  const fp = fingerprintOf(new X509Certificate(signer.signer.certPem));
  const bytes = sign(document({ serial: 2 }), signer.signer);
  const someoneElse = { serial: 1, digest: '0'.repeat(64), nextSigners: ['f'.repeat(64)] };
  refused(
    t,
    await verifyPolicyBundle(bytes, await options(site.root, { lastAccepted: someoneElse })),
    'eku',
    'E_POLICY_EKU',
  );
  t.true(
    (
      await verifyPolicyBundle(
        bytes,
        await options(site.root, { lastAccepted: { ...someoneElse, nextSigners: [fp] } }),
      )
    ).ok,
  );
});

// --- what is accepted -------------------------------------------------------------------------------

for (const kind of ['ec', 'ed25519', 'rsa'] as const) {
  test(`a bundle credroam signs with an ${kind} key passes every check, in order`, async (t) => {
    const { site } = await setup;
    const signer = await site.issue(`signer-${kind}`, { kind });
    const v = await verifyPolicyBundle(sign(document(), signer.signer), await options(site.root));
    t.true(v.ok, v.ok ? '' : v.reason);
    t.deepEqual(
      v.checks.map((c) => [c.name, c.ok]),
      POLICY_CHECKS.map((c) => [c, true]),
    );
    if (v.ok) {
      t.is(v.bundle.policy.roaming.maxTokens, 77);
      t.is(v.bundle.document.plugins[0]?.id, 'credroam.ldap');
    }
  });
}

test('an independent producer: a bundle signed by openssl cms -sign -nodetach is accepted', async (t) => {
  const { dir, site, signer } = await setup;
  await writeFile(path.join(dir, 'doc-openssl.json'), JSON.stringify(document({ serial: 3 }), null, 2));
  const bytes = await openssl(dir, [
    'cms',
    '-sign',
    '-binary',
    '-outform',
    'DER',
    '-nodetach',
    '-md',
    'sha256',
    '-in',
    'doc-openssl.json',
    '-signer',
    signer.cert,
    '-inkey',
    signer.key,
    '-certfile',
    site.intermediate,
  ]);
  const v = await verifyPolicyBundle(new Uint8Array(bytes), await options(site.root));
  t.true(v.ok, v.ok ? '' : v.reason);
  if (v.ok) t.is(v.bundle.document.serial, 3);
});

test('a bundle credroam signs verifies with openssl cms -verify, and its content is the canonical document', async (t) => {
  const { dir, site, signer } = await setup;
  // Not Ed25519: OpenSSL 3.0 cannot sign or verify Ed25519 in CMS at all ("eddsa_digest_signverify_init:
  // invalid digest", fixed in 3.2); credroam's own verifier covers Ed25519 above.
  for (const kind of ['ec', 'rsa'] as const) {
    const s = kind === 'ec' ? signer : await site.issue(`ossl-${kind}`, { kind });
    const file = path.join(dir, `ours-${kind}.p7m`);
    const doc = document();
    await writeFile(file, sign(doc, s.signer));
    const out = await openssl(dir, [
      'cms',
      '-verify',
      '-binary',
      '-inform',
      'DER',
      '-in',
      file,
      '-CAfile',
      site.root,
      '-purpose',
      'any',
    ]);
    t.is(out.toString('utf8'), canonicalJson(doc), kind);
  }
});

test('the allow-list may name one plugin twice with different ranges (a roll-out), never with the same range', (t) => {
  const files = { 'package.json': 'a'.repeat(64) };
  const entry = (version: string) => ({ id: 'example.vault', version, files });
  const rollout = checkPolicyBundleDocument(document({ plugins: [entry('~1.2.0'), entry('~1.3.0')] }));
  t.true(rollout.ok, rollout.ok ? '' : rollout.problems.join('; '));
  const twice = checkPolicyBundleDocument(document({ plugins: [entry('~1.2.0'), entry('~1.2.0')] }));
  t.false(twice.ok);
  if (!twice.ok)
    t.deepEqual(twice.problems, ["/plugins/1: 'example.vault' is listed twice with the range '~1.2.0'"]);
});

test('a problem at the top of the document is placed at /, not at an empty place', (t) => {
  const checked = checkPolicyBundleDocument(document({ colour: 'red', roaming: { maxToken: 5 } }));
  t.false(checked.ok);
  if (!checked.ok)
    t.deepEqual(checked.problems.toSorted(), [
      "/: must NOT have additional properties 'colour'",
      "/roaming: must NOT have additional properties 'maxToken'",
    ]);
});
