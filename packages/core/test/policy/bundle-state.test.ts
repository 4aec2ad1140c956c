import { X509Certificate } from 'node:crypto';
import { chmod, chown, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import {
  canonicalJson,
  EventId,
  fingerprintOf,
  type Logger,
  POLICY_BUNDLE_SCHEMA,
  policyInForce,
  readAcceptedRecord,
  readPolicyRoots,
  updateSitePolicy,
} from '../../src/index.js';
import { document, makeSitePki, sign, tempDir } from './bundle-support.js';

const docs = fileURLToPath(new URL('../../../../../docs/', import.meta.url));

test('docs/policy-bundle.schema.json is the schema the verifier uses (regenerate it from POLICY_BUNDLE_SCHEMA)', async (t) => {
  // Compared as JSON (biome formats the file): every keyword and value the same.
  const published = JSON.parse(
    await readFile(path.join(docs, 'policy-bundle.schema.json'), 'utf8'),
  ) as unknown;
  t.deepEqual(published, JSON.parse(JSON.stringify(POLICY_BUNDLE_SCHEMA)));
});

test('canonical JSON sorts members, drops whitespace, and is stable', (t) => {
  t.is(
    canonicalJson({ b: [1, { d: 'x', c: null }], a: true, '€': 1.5, A: -0 }),
    '{"A":0,"a":true,"b":[1,{"c":null,"d":"x"}],"€":1.5}',
  );
  t.throws(() => canonicalJson({ a: Number.NaN }));
});

function memoryLog() {
  const records: Array<{ level: string; event: number; message: string; fields?: Record<string, unknown> }> =
    [];
  const log: Logger = {
    log: (level, event, message, fields) =>
      void records.push({ level, event, message, ...(fields ? { fields } : {}) }),
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: () => undefined,
  };
  return { log, records };
}

test('the policy root must be root-owned: a group-writable file, or one in a group-writable folder, is refused', async (t) => {
  const dir = await tempDir(t);
  const pki = await makeSitePki(dir);
  t.is((await readPolicyRoots(pki.root)).length, 1);
  await chmod(pki.root, 0o664);
  const e = await t.throwsAsync(readPolicyRoots(pki.root));
  t.is((e as { code?: string }).code, 'E_POLICY_ROOT');
  t.regex(e!.message, /writable by group or others/);
  await chmod(pki.root, 0o644);
  const sub = path.join(dir, 'open');
  await mkdir(sub, { mode: 0o777 });
  await chmod(sub, 0o777);
  await writeFile(path.join(sub, 'root.pem'), await readFile(pki.root), { mode: 0o644 });
  const e2 = await t.throwsAsync(readPolicyRoots(path.join(sub, 'root.pem')));
  t.is((e2 as { code?: string }).code, 'E_POLICY_ROOT');
  t.regex(e2!.message, /in .*open, which is writable/);
  // Owned by another user: refused, whatever its mode.
  await chown(pki.root, 65534, 65534);
  const e4 = await t.throwsAsync(readPolicyRoots(pki.root));
  t.regex(e4!.message, /owned by uid 65534, not root/);
  await chown(pki.root, 0, 0);
  const e3 = await t.throwsAsync(readPolicyRoots(path.join(dir, 'missing.pem')));
  t.is((e3 as { code?: string }).code, 'E_POLICY_ROOT');
});

test('updateSitePolicy: the highest valid serial wins, is recorded only after every check passed, and a refused bundle leaves the record as it was', async (t) => {
  const dir = await tempDir(t);
  const home = path.join(dir, 'home');
  const pki = await makeSitePki(dir);
  const signer = await pki.issue('signer');
  const trust = {
    roots: [new X509Certificate(await readFile(pki.root))],
    siteId: 'example.org',
    agentVersion: '0.1.0',
  };
  const { log, records } = memoryLog();
  const now = new Date();

  // A refused bundle writes nothing.
  const other = sign(document({ siteId: 'other.example', serial: 9 }), signer.signer);
  let update = await updateSitePolicy({ home, trust, now, log, fetched: [{ source: 'file', bytes: other }] });
  t.is(update.inForce.kind, 'defaults');
  t.is((await readAcceptedRecord(home)).state, 'none');
  t.deepEqual(
    records.map((r) => r.event),
    [EventId.PolicySiteRefused, EventId.PolicyDefaultsInForce],
  );
  t.is(records[0]?.fields?.code, 'E_POLICY_SITE');

  records.length = 0;
  const two = sign(document({ serial: 2, roaming: { maxTokens: 22 } }), signer.signer);
  const three = sign(document({ serial: 3, roaming: { maxTokens: 33 } }), signer.signer);
  update = await updateSitePolicy({
    home,
    trust,
    now,
    log,
    fetched: [{ source: 'a', bytes: two }, { source: 'b', bytes: three }, { source: 'c' }],
  });
  t.is(update.accepted, 'b');
  t.is(update.inForce.policy.roaming.maxTokens, 33);
  t.deepEqual(
    records.map((r) => r.event),
    [EventId.PolicyBundleAccepted],
  );
  const read = await readAcceptedRecord(home);
  t.is(read.state, 'ok');
  if (read.state === 'ok') {
    t.is(read.record.serial, 3);
    t.is(read.record.source, 'b');
    t.is((await stat(path.join(home, 'policy', 'accepted.json'))).mode & 0o777, 0o600);
  }

  // Rolled back: refused, serial 3 stays.
  records.length = 0;
  update = await updateSitePolicy({ home, trust, now, log, fetched: [{ source: 'a', bytes: two }] });
  t.is(update.inForce.policy.roaming.maxTokens, 33);
  t.deepEqual(
    records.map((r) => r.event),
    [EventId.PolicyRollbackRefused],
  );
  t.is((await policyInForce(home, trust, now)).kind, 'bundle');
});

test('an expired bundle in force is kept, never widened: its settings and allow-list stay, an expired newer one with more plugins is refused, and it is reported', async (t) => {
  const dir = await tempDir(t);
  const home = path.join(dir, 'home');
  const pki = await makeSitePki(dir);
  const signer = await pki.issue('signer');
  const trust = {
    roots: [new X509Certificate(await readFile(pki.root))],
    siteId: 'example.org',
    agentVersion: '0.1.0',
  };
  const { log, records } = memoryLog();
  // Accepted now; ten days later (an injected clock), it has expired.
  const then = new Date();
  const shortLived = document(
    { serial: 4, notAfter: new Date(then.getTime() + 86_400_000).toISOString() },
    then,
  );
  await updateSitePolicy({
    home,
    trust,
    now: then,
    log,
    fetched: [{ source: 'file', bytes: sign(shortLived, signer.signer) }],
  });
  records.length = 0;
  const now = new Date(then.getTime() + 10 * 86_400_000);
  const wider = document(
    {
      serial: 5,
      issuedAt: then.toISOString(),
      notAfter: new Date(now.getTime() - 1000).toISOString(),
      plugins: [
        { id: 'credroam.ldap', version: '^0.1.0', files: { 'package.json': 'a'.repeat(64) } },
        { id: 'evil.plugin', version: '*', files: { 'package.json': 'b'.repeat(64) } },
      ],
      roaming: { maxTokens: 100_000 },
    },
    then,
  );
  const update = await updateSitePolicy({
    home,
    trust,
    now,
    log,
    fetched: [{ source: 'file', bytes: sign(wider, signer.signer) }],
  });
  t.is(update.inForce.kind, 'bundle');
  if (update.inForce.kind !== 'bundle') return;
  t.true(update.inForce.expired);
  t.is(update.inForce.record.serial, 4);
  t.is(update.inForce.policy.roaming.maxTokens, 77);
  t.deepEqual(
    update.inForce.allowList.map((e) => e.id),
    ['credroam.ldap'],
  );
  t.deepEqual(
    records.map((r) => r.event),
    [EventId.PolicyExpiredRefused, EventId.PolicyExpiredInForce],
  );
});

test('a damaged record is reported and the defaults apply (never "unrestricted"); it is replaced by the next accepted bundle', async (t) => {
  const dir = await tempDir(t);
  const home = path.join(dir, 'home');
  const pki = await makeSitePki(dir);
  const signer = await pki.issue('signer');
  const trust = {
    roots: [new X509Certificate(await readFile(pki.root))],
    siteId: 'example.org',
    agentVersion: '0.1.0',
  };
  const { log, records } = memoryLog();
  await mkdir(path.join(home, 'policy'), { recursive: true });
  await writeFile(path.join(home, 'policy', 'accepted.json'), '{not json');
  const inForce = await policyInForce(home, trust, new Date());
  t.is(inForce.kind, 'defaults');
  if (inForce.kind === 'defaults') t.true(inForce.damaged);
  const update = await updateSitePolicy({
    home,
    trust,
    now: new Date(),
    log,
    fetched: [{ source: 'file', bytes: sign(document({ serial: 2 }), signer.signer) }],
  });
  t.is(update.accepted, 'file');
  t.deepEqual(
    records.map((r) => r.event),
    [EventId.PolicyBundleAccepted],
  );
});

test('a recorded bundle that no longer verifies gives the defaults but keeps its serial as the rollback floor', async (t) => {
  const dir = await tempDir(t);
  const home = path.join(dir, 'home');
  const pki = await makeSitePki(dir);
  const signer = await pki.issue('signer');
  const trust = {
    roots: [new X509Certificate(await readFile(pki.root))],
    siteId: 'example.org',
    agentVersion: '0.1.0',
  };
  const { log, records } = memoryLog();
  const now = new Date();
  await updateSitePolicy({
    home,
    trust,
    now,
    log,
    fetched: [{ source: 'file', bytes: sign(document({ serial: 3 }), signer.signer) }],
  });
  const stored = path.join(home, 'policy', 'accepted.p7m');
  const bytes = await readFile(stored);
  bytes[bytes.length - 3]! ^= 0x01;
  await writeFile(stored, bytes);
  const inForce = await policyInForce(home, trust, now);
  t.is(inForce.kind, 'defaults');
  if (inForce.kind === 'defaults') t.is(inForce.floor?.serial, 3);
  records.length = 0;
  const update = await updateSitePolicy({
    home,
    trust,
    now,
    log,
    fetched: [{ source: 'file', bytes: sign(document({ serial: 2 }), signer.signer) }],
  });
  t.is(update.inForce.kind, 'defaults');
  t.deepEqual(
    records.map((r) => r.event),
    [EventId.PolicyRollbackRefused, EventId.PolicyDefaultsInForce],
  );
});

test('updates that race (the agent refresh and a CLI command, each fetching) never record a lower serial over a higher one, nor a record and bundle of different serials', async (t) => {
  // A network attacker can hand each fetch another signed bundle: an old one (serial 2) to one
  // process, the newest (serial 6) to the other. Both start from the same record; whichever writes
  // last must not roll the endpoint back.
  const dir = await tempDir(t);
  const home = path.join(dir, 'home');
  const pki = await makeSitePki(dir);
  const signer = await pki.issue('signer');
  const trust = {
    roots: [new X509Certificate(await readFile(pki.root))],
    siteId: 'example.org',
    agentVersion: '0.1.0',
  };
  const { log } = memoryLog();
  const now = new Date();
  const one = sign(document({ serial: 1 }), signer.signer);
  await updateSitePolicy({ home, trust, now, log, fetched: [{ source: 'file', bytes: one }] });
  const bundles = [6, 5, 4, 3, 2].map((serial) => sign(document({ serial }), signer.signer));
  // Newest first: the older ones, verified as long, write after it.
  await Promise.all(
    bundles.map((bytes) => updateSitePolicy({ home, trust, now, log, fetched: [{ source: 'file', bytes }] })),
  );
  const read = await readAcceptedRecord(home);
  t.is(read.state, 'ok', read.state === 'damaged' ? read.reason : '');
  if (read.state === 'ok') t.is(read.record.serial, 6);
  const inForce = await policyInForce(home, trust, now);
  t.is(inForce.kind, 'bundle', inForce.kind === 'defaults' ? inForce.reason : '');
  if (inForce.kind === 'bundle') t.is(inForce.document.serial, 6);
});

test('a damaged record is repaired by the same bundle fetched again: the site bundle the record names comes back in force, not the defaults until the next serial', async (t) => {
  // docs/admin/errors.md, E_POLICY_RECORD: "the next policy refresh accepts the site's bundle again".
  // A damaged accepted.p7m (a disk that filled, an edit) must not leave the endpoint on the
  // defaults — every first-party plugin, whatever the site forbade — while the site's bundle is
  // published and valid.
  const dir = await tempDir(t);
  const home = path.join(dir, 'home');
  const pki = await makeSitePki(dir);
  const signer = await pki.issue('signer');
  const trust = {
    roots: [new X509Certificate(await readFile(pki.root))],
    siteId: 'example.org',
    agentVersion: '0.1.0',
  };
  const { log } = memoryLog();
  const now = new Date();
  const three = sign(document({ serial: 3, roaming: { maxTokens: 33 }, plugins: [] }), signer.signer);
  await updateSitePolicy({ home, trust, now, log, fetched: [{ source: 'file', bytes: three }] });
  const stored = path.join(home, 'policy', 'accepted.p7m');
  const bytes = await readFile(stored);
  bytes[bytes.length - 3]! ^= 0x01;
  await writeFile(stored, bytes);
  t.is((await policyInForce(home, trust, now)).kind, 'defaults');
  const update = await updateSitePolicy({
    home,
    trust,
    now,
    log,
    fetched: [{ source: 'file', bytes: three }],
  });
  t.is(update.inForce.kind, 'bundle');
  t.is(update.inForce.policy.roaming.maxTokens, 33);
  const again = await policyInForce(home, trust, now);
  t.is(again.kind, 'bundle', again.kind === 'defaults' ? again.reason : '');
});

test('a damaged record keeps the nextSigners of its bundle with its serial: a signer the site retired cannot slip in while the record is damaged', async (t) => {
  // The site retired a (stolen) signing key: serial 3, signed by the new signer, names only the new
  // signer. Then accepted.p7m is damaged; whoever holds the old key and can write a source hands
  // over serial 4. It must be refused as it would have been before the damage.
  const dir = await tempDir(t);
  const home = path.join(dir, 'home');
  const pki = await makeSitePki(dir);
  const stolen = await pki.issue('stolen');
  const next = await pki.issue('next');
  const trust = {
    roots: [new X509Certificate(await readFile(pki.root))],
    siteId: 'example.org',
    agentVersion: '0.1.0',
  };
  const { log } = memoryLog();
  const now = new Date();
  const fp = fingerprintOf(new X509Certificate(next.signer.certPem));
  const three = sign(document({ serial: 3, nextSigners: [fp] }), next.signer);
  await updateSitePolicy({ home, trust, now, log, fetched: [{ source: 'file', bytes: three }] });
  const forged = sign(document({ serial: 4, roaming: { maxTokens: 4444 } }), stolen.signer);
  // Before the damage: refused at the EKU check.
  const before = await updateSitePolicy({
    home,
    trust,
    now,
    log,
    fetched: [{ source: 'file', bytes: forged }],
  });
  t.is(before.refused[0]?.code, 'E_POLICY_EKU');
  const stored = path.join(home, 'policy', 'accepted.p7m');
  const bytes = await readFile(stored);
  bytes[bytes.length - 3]! ^= 0x01;
  await writeFile(stored, bytes);
  const after = await updateSitePolicy({
    home,
    trust,
    now,
    log,
    fetched: [{ source: 'file', bytes: forged }],
  });
  t.not(after.inForce.policy.roaming.maxTokens, 4444, 'the retired signer’s bundle is in force');
  t.is(after.refused[0]?.code, 'E_POLICY_EKU');
});
