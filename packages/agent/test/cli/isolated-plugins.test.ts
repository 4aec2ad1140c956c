import { createPrivateKey } from 'node:crypto';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventLog, hashPluginFiles, Trigger } from '@credroam/core';
import test from 'ava';
import { formatPluginList } from '../../src/cli/plugins.js';
import { loadConfig } from '../../src/config.js';
import { openSession } from '../../src/session.js';
import { FIRST_PARTY, policyAgent, policyDocument, signPolicy, sitePki } from '../policy-support.js';
import { credroam, openssl, tempDir } from '../support.js';

const fixtures = fileURLToPath(new URL('../../../../core/test/fixtures/plugins/', import.meta.url));

test('under a site policy, a third-party plugin granted localStore:read runs out of process and reads the agent’s local store: its certificates, never a key', async (t) => {
  const dir = await tempDir(t);
  await sitePki(dir);
  await cp(path.join(fixtures, 'isolated-certs'), path.join(dir, 'certs'), { recursive: true });
  const entry = {
    id: 'test.isolated-certs',
    version: '^1.0.0',
    files: await hashPluginFiles(path.join(dir, 'certs')),
    grants: ['localStore:read'],
  };
  await signPolicy(dir, policyDocument(1, 100, [...FIRST_PARTY, entry]), 'site');
  const cfg = await policyAgent(dir, [{ use: 'file', settings: { path: './site.p7m' } }], {
    plugins: [{ from: './certs' }],
  });
  // A credential in the local store: a certificate and its key, imported as a user would.
  await openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'k.pem',
      '-out',
      'c.pem',
      '-days',
      '30',
      '-subj',
      '/CN=isolated reader',
    ],
    dir,
  );
  // The embedded folder directory this endpoint uses by default: a shared folder that exists.
  await mkdir(path.join(dir, 'home', 'directory'), { recursive: true });
  await writeFile(path.join(dir, 'pw'), 'roaming password\n', { mode: 0o600 });
  const pw = ['--password-file', path.join(dir, 'pw')];
  const logon = await credroam([...cfg, 'logon', ...pw]);
  t.is(logon.code, 0, logon.stderr);
  const imported = await credroam([
    ...cfg,
    'import',
    path.join(dir, 'c.pem'),
    path.join(dir, 'k.pem'),
    ...pw,
  ]);
  t.is(imported.code, 0, imported.stderr);

  const config = await loadConfig(cfg[1], {});
  const session = await openSession(config, new EventLog({ write: () => undefined }));
  t.teardown(() => session.dispose());
  const plugin = session.host.list().find((p) => p.id === 'test.isolated-certs');
  t.is(plugin?.state !== 'failed', true, plugin?.reason);
  t.deepEqual(
    plugin?.isolated,
    { granted: ['localStore:read'] },
    'a third-party plugin under a site policy runs out of process',
  );
  t.regex(
    formatPluginList(session.host.list()),
    /test\.isolated-certs[\s\S]*\n {2}runs: out of process, granted localStore:read/,
  );
  const certs = (await (
    await session.host.contribution(Trigger, 'certs')
  )({
    user: config.user,
    home: config.home,
    settings: {},
    policy: {},
  })) as unknown as {
    look(folder: string): Promise<{
      services: string[];
      items: Array<{ kind: string; id: string; content: Uint8Array }>;
      direct: unknown;
    }>;
  };
  const seen = await certs.look(config.home);
  const listing = await session.local.list();
  const cert = listing.items.find((i) => i.kind === 'cert');
  t.truthy(cert, 'the store holds the certificate');
  t.deepEqual(seen.services, ['certificates']);
  t.deepEqual(
    seen.items.map((i) => [i.kind, i.id]),
    [['cert', cert!.id]],
  );
  const key = createPrivateKey(await readFile(path.join(dir, 'k.pem'))).export({
    type: 'pkcs8',
    format: 'der',
  });
  t.false(
    seen.items.some((i) => Buffer.from(i.content).includes(key)),
    'no key bytes crossed',
  );
  t.is(seen.direct, 'ERR_ACCESS_DENIED', 'the store’s files themselves are out of its reach');
});
