import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EventLog } from '@credroam/core';
import test from 'ava';
import { createHost } from '../../src/cli/plugins.js';
import { loadConfig } from '../../src/config.js';
import { loadPolicy } from '../../src/policy.js';
import { FIRST_PARTY, policyDocument, signPolicy, sitePki } from '../policy-support.js';
import { tempDir } from '../support.js';

// The attacker here runs programs as the endpoint's user: they own the agent manifest (it lives
// under ~/.config), not /etc. Decision 011: "when /etc/credroam/policy-root.pem exists the endpoint
// is governed, whatever the manifest says". These tests run as root, so the attacker's PEM below is
// root-owned: it stands for any root-owned CA file on the machine whose key is not secret (a test
// fixture some package ships with its key, a snake-oil CA), which the user cannot write but can name.

test('a manifest cannot replace the installed system root with another root-owned PEM to obey its own bundle', async (t) => {
  const dir = await tempDir(t);
  const site = path.join(dir, 'site');
  const other = path.join(dir, 'other');
  await mkdir(site);
  await mkdir(other);
  await sitePki(site);
  await sitePki(other);
  // The user's own bundle, signed under the other root: one more plugin, and looser settings.
  const evil = [
    ...FIRST_PARTY,
    { id: 'evil.plugin', version: '*', files: { 'package.json': 'a'.repeat(64) } },
  ];
  await writeFile(
    path.join(dir, 'evil.p7m'),
    await signPolicy(other, policyDocument(9, 99_999, evil), 'evil'),
  );
  await writeFile(
    path.join(dir, 'agent.json'),
    JSON.stringify({
      home: './home',
      policy: {
        root: './other/root.pem',
        siteId: 'example.org',
        sources: [{ use: 'file', settings: { path: './evil.p7m' } }],
      },
    }),
  );
  const config = await loadConfig(path.join(dir, 'agent.json'), {});
  const log = new EventLog({ write: () => undefined });
  const host = await createHost(config, log);
  t.teardown(() => host.dispose());
  const loaded = await loadPolicy(config, { host, log, systemRoot: path.join(site, 'root.pem') });
  t.not(loaded.origin.kind, 'bundle', 'the bundle signed under the root the manifest named is in force');
  t.false(
    (loaded.allowList ?? []).some((e) => e.id === 'evil.plugin'),
    'the allow-list gained a plugin the site never signed',
  );
  t.not(loaded.policy.roaming.maxTokens, 99_999);
});

test('a system root the agent cannot look at is not an absent one: the endpoint does not fall back to no site policy (plugins unrestricted)', async (t) => {
  // Only a root file that does not exist (ENOENT) means "no site root". /etc/credroam made 0700 by
  // root, or anything else that keeps the user's agent from even stat()ing the file (EACCES,
  // ELOOP, ENOTDIR), must not make the endpoint ungoverned. These tests run as root, who can stat
  // anything: a path through a regular file (ENOTDIR) stands for them.
  const dir = await tempDir(t);
  await writeFile(path.join(dir, 'etc-credroam'), 'not a folder');
  const systemRoot = path.join(dir, 'etc-credroam', 'policy-root.pem');
  // A manifest that names no site: the defaults, with only the first-party plugins.
  await writeFile(path.join(dir, 'agent.json'), JSON.stringify({ home: './home' }));
  const loaded = await loadPolicy(await loadConfig(path.join(dir, 'agent.json'), {}), { systemRoot });
  t.not(
    loaded.allowList,
    undefined,
    'the endpoint runs with no site policy: every configured plugin may load',
  );
  // A manifest that names its site: the root cannot be read, the agent does not start.
  await writeFile(
    path.join(dir, 'agent.json'),
    JSON.stringify({ home: './home', policy: { siteId: 'example.org', sources: [] } }),
  );
  await t.throwsAsync(loadPolicy(await loadConfig(path.join(dir, 'agent.json'), {}), { systemRoot }), {
    code: 'E_POLICY_ROOT',
  } as never);
});
