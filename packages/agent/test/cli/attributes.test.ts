import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { CredroamError, EventLog } from '@credroam/core';
import { opensslChain } from '@credroam/core/testing';
import test from 'ava';
import { credentialParts, storeCredentials } from '../../src/cli/credentials.js';
import { loadConfig } from '../../src/config.js';
import { credentialRequest } from '../../src/daemon/credential-requests.js';
import { openSession, type Session } from '../../src/session.js';
import { fingerprintOf, openssl, twoEndpoints } from '../support.js';
import { clientCredential, testCa } from './mirror-support.js';

/**
 * Issue 11: what a PKCS#12 file carried besides the certificate and key (its CA chain, its
 * friendly name) roams with the credential and comes back in its export.
 */

interface ListJson {
  credentials: Array<{ sha256: string; friendlyName?: string; chainLength: number; hasKey: boolean }>;
}

const PASSWORD = 'alice roaming password';

/** A session of endpoint `e`, unlocked, for the paths the CLI and the agent call. */
async function session(dir: string, e: 'a' | 'b'): Promise<Session> {
  const s = await openSession(
    await loadConfig(path.join(dir, `${e}.json`), {}),
    new EventLog({ write: () => undefined }),
    {
      password: async () => PASSWORD,
    },
  );
  await s.protector.unlock?.({ password: PASSWORD });
  return s;
}

async function within<T>(dir: string, e: 'a' | 'b', f: (s: Session) => Promise<T>): Promise<T> {
  const s = await session(dir, e);
  try {
    return await f(s);
  } finally {
    await s.dispose();
  }
}

test('a chain and a friendly name stored on A roam to B: list shows them, export hands them to the writer, remove takes them', async (t) => {
  const w = await twoEndpoints(t);
  const c = await opensslChain(w.dir);
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  const [stored] = await within(w.dir, 'a', (s) =>
    storeCredentials(s.local, [
      { cert: c.leaf, key: c.leafKey, chain: [c.intermediate, c.root], friendlyName: 'My VPN' },
    ]),
  );
  t.like(stored, { hasKey: true, friendlyName: 'My VPN', chainLength: 2 });
  const syncA = await w.a(['sync', ...w.pw, '--json']);
  t.like(JSON.parse(syncA.stdout), { counts: { uploaded: 3 }, skipped: [] });

  t.like(JSON.parse((await w.b(['logon', ...w.pw, '--json'])).stdout), { counts: { downloaded: 3 } });
  const list = JSON.parse((await w.b(['list', '--json'])).stdout) as ListJson;
  t.is(list.credentials.length, 1);
  t.like(list.credentials[0], {
    sha256: stored!.sha256,
    friendlyName: 'My VPN',
    chainLength: 2,
    hasKey: true,
  });
  t.regex((await w.b(['list'])).stdout, /"My VPN" {2}\(\+2 CA certificates\)/);

  // What the CLI's export (and the agent's) hands to the PKCS#12 writer.
  const parts = await within(w.dir, 'b', async (s) => credentialParts(await s.local.list(), stored!.sha256));
  t.is(parts.friendlyName, 'My VPN');
  t.deepEqual(
    parts.chain?.map((d) => Buffer.from(d)),
    [Buffer.from(c.intermediate), Buffer.from(c.root)],
  );
  const answer = await within(w.dir, 'b', (s) =>
    credentialRequest(s, { cmd: 'export', sha256: stored!.sha256 }, () => undefined),
  );
  t.is(answer.friendlyName, 'My VPN');
  t.deepEqual(answer.chain, [
    Buffer.from(c.intermediate).toString('base64'),
    Buffer.from(c.root).toString('base64'),
  ]);

  // A credential imported again without attributes keeps its own.
  await within(w.dir, 'b', (s) => storeCredentials(s.local, [{ cert: c.leaf }]));
  t.like((JSON.parse((await w.b(['list', '--json'])).stdout) as ListJson).credentials[0], {
    friendlyName: 'My VPN',
  });

  // `credroam remove` on A: the certificate, key and attributes go, and so they do on B.
  t.is((await w.a(['remove', stored!.sha256])).code, 0);
  t.like(JSON.parse((await w.a(['sync', ...w.pw, '--json'])).stdout), { counts: { tombstoned: 3 } });
  t.like(JSON.parse((await w.b(['sync', ...w.pw, '--json'])).stdout), { counts: { removed: 3 } });
  t.deepEqual((JSON.parse((await w.b(['list', '--json'])).stdout) as ListJson).credentials, []);
  t.deepEqual(await readdir(path.join(w.dir, 'b', 'store', 'attrs')), []);
});

test('the agent imports a chain and a friendly name over its socket; it refuses a bad one and writes nothing', async (t) => {
  const w = await twoEndpoints(t);
  const c = await opensslChain(w.dir);
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  const b64 = (d: Uint8Array) => Buffer.from(d).toString('base64');
  await within(w.dir, 'a', async (s) => {
    let roamed = 0;
    const answer = await credentialRequest(
      s,
      {
        cmd: 'import',
        cert: b64(c.leaf),
        key: b64(c.leafKey),
        chain: [b64(c.intermediate)],
        friendlyName: 'VPN',
      },
      () => roamed++,
    );
    t.like(answer, { hasKey: true, friendlyName: 'VPN', chainLength: 1 });
    t.is(roamed, 1);
    for (const bad of [
      { chain: 'x' as unknown as string[] },
      { chain: Array.from({ length: 11 }, () => b64(c.root)) },
      { friendlyName: 7 as unknown as string },
    ]) {
      const error = await t.throwsAsync(
        credentialRequest(s, { cmd: 'import', cert: b64(c.root), ...bad }, () => undefined),
      );
      t.is((error as CredroamError).code, 'E_USAGE');
    }
    for (const bad of [
      { chain: [b64(new TextEncoder().encode('junk'))] },
      { friendlyName: 'x'.repeat(300) },
      { friendlyName: 'a\u202eb' },
    ]) {
      const error = await t.throwsAsync(
        credentialRequest(s, { cmd: 'import', cert: b64(c.root), ...bad }, () => undefined),
      );
      t.true(error instanceof CredroamError);
      t.is((error as CredroamError).code, 'E_ATTRIBUTES_INVALID');
    }
    const listing = await s.local.list();
    t.is(listing.items.filter((i) => i.kind === 'cert').length, 1, 'the refused imports wrote nothing');
  });
});

/**
 * The whole path through the CLI and openssl. It needs the PKCS#12 reader to carry the chain and
 * the friendly name (and the writer to write them): it fails until those land.
 */
test('a PKCS#12 with a chain and a name, imported on A, exported on B: openssl finds the name and all three certificates', async (t) => {
  const w = await twoEndpoints(t);
  await opensslChain(w.dir);
  await openssl(
    [
      'pkcs12',
      '-export',
      '-in',
      'leaf.pem',
      '-inkey',
      'leaf.key.pem',
      '-certfile',
      'chain.pem',
      '-name',
      'My VPN',
      '-out',
      'vpn.p12',
      '-passout',
      'file:p12pw',
    ],
    w.dir,
  );
  const fingerprint = fingerprintOf(
    await openssl(['x509', '-in', 'leaf.pem', '-noout', '-fingerprint', '-sha256'], w.dir),
  );
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  const imported = await w.a(['import', 'vpn.p12', '--passin', 'file:p12pw', ...w.pw, '--json']);
  t.is(imported.code, 0, imported.stderr);
  t.like(JSON.parse(imported.stdout), {
    imported: [{ sha256: fingerprint, hasKey: true, friendlyName: 'My VPN', chainLength: 2 }],
  });
  t.like(JSON.parse((await w.a(['sync', ...w.pw, '--json'])).stdout), {
    counts: { uploaded: 3 },
    skipped: [],
  });
  t.like(JSON.parse((await w.b(['logon', ...w.pw, '--json'])).stdout), { counts: { downloaded: 3 } });
  const list = JSON.parse((await w.b(['list', '--json'])).stdout) as ListJson;
  t.like(list.credentials[0], { sha256: fingerprint, friendlyName: 'My VPN', chainLength: 2 });
  const exported = await w.b(['export', fingerprint, '--out', 'out.p12', '--passout', 'file:p12pw', ...w.pw]);
  t.is(exported.code, 0, exported.stderr);
  const info = await openssl(['pkcs12', '-in', 'out.p12', '-info', '-nodes', '-passin', 'file:p12pw'], w.dir);
  t.true(info.includes('friendlyName: My VPN'), info);
  const certs = info.match(/-----BEGIN CERTIFICATE-----/g) ?? [];
  t.is(certs.length, 3, info);
  for (const f of ['leaf.pem', 'intermediate.pem', 'root.pem']) {
    const pem = (await readFile(path.join(w.dir, f), 'utf8')).trim();
    t.true(info.includes(pem.split('\n').slice(1, 3).join('\n')), `${f} is in the export`);
  }
});

test('a certificate bundle imported after the credential keeps its friendly name: list and export still have "Alice VPN", the chain stays', async (t) => {
  const w = await twoEndpoints(t);
  await testCa(w.dir);
  const alice = await clientCredential(w.dir, 'alice', { friendlyName: 'Alice VPN' });
  // A PKCS#7 bundle of the CA and alice's certificate, as a CA's web page hands it out.
  await openssl(
    ['crl2pkcs7', '-nocrl', '-certfile', 'alice.cert.pem', '-certfile', 'ca.pem', '-out', 'chain.p7b'],
    w.dir,
  );
  t.is((await w.a(['import', alice.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);
  const bundle = await w.a(['import', path.join(w.dir, 'chain.p7b'), '--json']);
  t.is(bundle.code, 0, bundle.stderr);
  t.like(JSON.parse(bundle.stdout).imported[0], { sha256: alice.fingerprint, friendlyName: 'Alice VPN' });
  const list = JSON.parse((await w.a(['list', '--json'])).stdout) as ListJson;
  t.like(list.credentials[0], { sha256: alice.fingerprint, friendlyName: 'Alice VPN', chainLength: 1 });
  const parts = await within(w.dir, 'a', async (s) =>
    credentialParts(await s.local.list(), alice.fingerprint),
  );
  t.is(parts.friendlyName, 'Alice VPN');
  t.is(parts.chain?.length, 1);
});

test('attributes merge on import: a name of its own replaces the old one; a chain the stored one extends keeps the longer; another chain replaces it', async (t) => {
  const w = await twoEndpoints(t);
  const c = await opensslChain(w.dir);
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  const store = (parts: Parameters<typeof storeCredentials>[1][number]) =>
    within(w.dir, 'a', async (s) => (await storeCredentials(s.local, [parts]))[0]);
  const attributes = () =>
    within(w.dir, 'a', async (s) => {
      const { friendlyName, chain } = credentialParts(await s.local.list(), certId);
      return { friendlyName, chain: chain?.map((d) => Buffer.from(d)) };
    });
  const [first] = await within(w.dir, 'a', (s) =>
    storeCredentials(s.local, [{ cert: c.leaf, chain: [c.intermediate, c.root], friendlyName: 'Old' }]),
  );
  const certId = first!.sha256;
  // Part of the stored chain, no name: both kept.
  t.like(await store({ cert: c.leaf, chain: [c.intermediate] }), { friendlyName: 'Old', chainLength: 2 });
  t.deepEqual(await attributes(), {
    friendlyName: 'Old',
    chain: [Buffer.from(c.intermediate), Buffer.from(c.root)],
  });
  // A name of its own: it replaces the old one; the chain stays.
  t.like(await store({ cert: c.leaf, friendlyName: 'New' }), { friendlyName: 'New', chainLength: 2 });
  // Another chain (not the start of the stored one): it replaces it; the name stays.
  t.like(await store({ cert: c.leaf, chain: [c.root] }), { friendlyName: 'New', chainLength: 1 });
  t.deepEqual(await attributes(), { friendlyName: 'New', chain: [Buffer.from(c.root)] });
});
