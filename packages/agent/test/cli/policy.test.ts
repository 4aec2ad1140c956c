import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { FIRST_PARTY, policyDocument, signPolicy, sitePki } from '../policy-support.js';
import { credroam, openssl, tempDir } from '../support.js';

const doc = policyDocument;

test('policy validate names each problem with its place; a valid document passes', async (t) => {
  const dir = await tempDir(t);
  await writeFile(path.join(dir, 'bad.json'), JSON.stringify({ ...doc(0, 0), extra: 1 }));
  const bad = await credroam(['policy', 'validate', path.join(dir, 'bad.json')]);
  t.is(bad.code, 1, bad.stderr);
  t.regex(bad.stdout, /\/serial/);
  t.regex(bad.stdout, /\/roaming\/maxTokens/);
  t.regex(bad.stdout, /extra/);
  await writeFile(path.join(dir, 'good.json'), JSON.stringify(doc(1, 10)));
  const good = await credroam(['policy', 'validate', '--json', path.join(dir, 'good.json')]);
  t.is(good.code, 0, good.stderr);
  t.deepEqual((JSON.parse(good.stdout) as { warnings: string[] }).warnings, []);
});

test('policy validate warns of an allow-list that lets no plugin fetch a newer bundle: its endpoints could never receive one', async (t) => {
  const dir = await tempDir(t);
  const sourceless = FIRST_PARTY.filter(
    (p) =>
      !['credroam.policy-file', 'credroam.folder', 'credroam.ldap', 'credroam.policy-https'].includes(p.id),
  );
  await writeFile(path.join(dir, 'stuck.json'), JSON.stringify(doc(1, 10, sourceless)));
  const r = await credroam(['policy', 'validate', path.join(dir, 'stuck.json')]);
  t.is(r.code, 0, 'a warning, not a refusal: a site may fetch with a plugin of its own');
  t.regex(
    r.stdout,
    /warning: \/plugins: allows none of the plugins that fetch policy bundles \(credroam\.folder, credroam\.ldap, credroam\.policy-file, credroam\.policy-https\)/,
  );
  await writeFile(
    path.join(dir, 'file-only.json'),
    JSON.stringify(doc(1, 10, [...sourceless, FIRST_PARTY.find((p) => p.id === 'credroam.policy-file')])),
  );
  const ok = await credroam(['policy', 'validate', path.join(dir, 'file-only.json')]);
  t.is(ok.code, 0);
  t.notRegex(ok.stdout, /warning/);
});

test('policy sign makes a bundle that policy verify checks line by line and openssl cms -verify accepts; a key readable by others is refused', async (t) => {
  const dir = await tempDir(t);
  await sitePki(dir);
  await writeFile(path.join(dir, 'site.json'), JSON.stringify(doc(1, 10)));
  const signed = await credroam([
    'policy',
    'sign',
    '--key',
    path.join(dir, 'signer.key'),
    '--cert',
    path.join(dir, 'signer.pem'),
    '--out',
    path.join(dir, 'site.p7m'),
    path.join(dir, 'site.json'),
  ]);
  t.is(signed.code, 0, signed.stderr + signed.stdout);
  const verified = await credroam([
    'policy',
    'verify',
    path.join(dir, 'site.p7m'),
    '--root',
    path.join(dir, 'root.pem'),
  ]);
  t.is(verified.code, 0, verified.stdout + verified.stderr);
  t.deepEqual(
    verified.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(':')[0]),
    [
      'ok   signature',
      'ok   eku',
      'ok   site',
      'ok   expiry',
      'ok   schema',
      'ok   agentVersion',
      'ok   rollback',
    ],
  );
  const content = await openssl(
    [
      'cms',
      '-verify',
      '-binary',
      '-inform',
      'DER',
      '-in',
      'site.p7m',
      '-CAfile',
      'root.pem',
      '-purpose',
      'any',
    ],
    dir,
  );
  t.is(JSON.parse(content).serial, 1);
  const other = await credroam([
    'policy',
    'verify',
    path.join(dir, 'site.p7m'),
    '--root',
    path.join(dir, 'root.pem'),
    '--site',
    'other.example',
  ]);
  t.is(other.code, 1);
  t.regex(other.stdout, /FAIL site: .*E_POLICY_SITE/);
  // The key from stdin works too; a key file others can read is refused.
  const stdin = await credroam(
    [
      'policy',
      'sign',
      '--key-stdin',
      '--cert',
      path.join(dir, 'signer.pem'),
      '--out',
      path.join(dir, 'b.p7m'),
      path.join(dir, 'site.json'),
    ],
    { input: await readFile(path.join(dir, 'signer.key'), 'utf8') },
  );
  t.is(stdin.code, 0, stdin.stderr);
  await chmod(path.join(dir, 'signer.key'), 0o644);
  const open = await credroam([
    'policy',
    'sign',
    '--key',
    path.join(dir, 'signer.key'),
    '--cert',
    path.join(dir, 'signer.pem'),
    path.join(dir, 'site.json'),
  ]);
  t.not(open.code, 0);
  t.regex(open.stderr + open.stdout, /can be read by others/);
});

test('the agent obeys the bundle of its file source: its settings apply, a higher serial replaces it, a lower one is refused with its event', async (t) => {
  const dir = await tempDir(t);
  await sitePki(dir);
  const bundle = path.join(dir, 'site.p7m');
  const signAs = async (serial: number, maxTokens: number, out: string) =>
    writeFile(out, await signPolicy(dir, doc(serial, maxTokens), `d${serial}`));
  await signAs(1, 11, path.join(dir, 'one.p7m'));
  await signAs(2, 22, path.join(dir, 'two.p7m'));
  await writeFile(
    path.join(dir, 'agent.json'),
    JSON.stringify({
      home: './home',
      policy: {
        root: './root.pem',
        siteId: 'example.org',
        sources: [{ use: 'file', settings: { path: './site.p7m' } }],
      },
    }),
  );
  const cfg = ['--config', path.join(dir, 'agent.json')];
  const showDefaults = await credroam([...cfg, 'policy', 'show', '--json']);
  t.is(showDefaults.code, 0, showDefaults.stderr);
  const none = JSON.parse(showDefaults.stdout) as {
    origin: { kind: string };
    allowList: Array<{ id: string }>;
  };
  t.is(none.origin.kind, 'defaults');
  // Root configured, no bundle: only the first-party plugins as installed.
  t.true(none.allowList.length > 0 && none.allowList.every((e) => e.id.startsWith('credroam.')));
  const doctor = await credroam([...cfg, 'doctor', '--json']);
  const policyCheck = (
    JSON.parse(doctor.stdout) as { checks: Array<{ check: string; ok: boolean; warning?: string }> }
  ).checks[0];
  t.is(policyCheck?.check, 'policy');
  t.true(policyCheck?.ok);
  t.regex(policyCheck?.warning ?? '', /a site policy root is installed but no bundle was accepted yet/);

  const status = async () => {
    const r = await credroam([...cfg, 'status', '--json', '--verbose']);
    t.is(r.code, 0, r.stderr);
    return {
      status: JSON.parse(r.stdout) as { policy: { kind: string; serial?: number } },
      events: r.stderr
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { event: number }),
    };
  };
  await writeFile(bundle, await readFile(path.join(dir, 'one.p7m')));
  let s = await status();
  t.is(s.status.policy.serial, 1);
  t.true(s.events.some((e) => e.event === 1041));
  const show = JSON.parse((await credroam([...cfg, 'policy', 'show', '--json'])).stdout) as {
    policy: { roaming: { maxTokens: number } };
  };
  t.is(show.policy.roaming.maxTokens, 11);

  await writeFile(bundle, await readFile(path.join(dir, 'two.p7m')));
  s = await status();
  t.is(s.status.policy.serial, 2);

  await writeFile(bundle, await readFile(path.join(dir, 'one.p7m')));
  s = await status();
  t.is(s.status.policy.serial, 2);
  t.true(
    s.events.some((e) => e.event === 1047),
    JSON.stringify(s.events),
  );
  const after = JSON.parse((await credroam([...cfg, 'policy', 'show', '--json'])).stdout) as {
    policy: { roaming: { maxTokens: number } };
  };
  t.is(after.policy.roaming.maxTokens, 22);
});

/**
 * A trigger plugin that keeps the policy section its contribution request was given, as the
 * policy-refresh trigger keeps it to read its interval: what a refresh must reach.
 */
async function policyProbe(dir: string) {
  const folder = path.join(dir, 'probe');
  await mkdir(folder);
  await writeFile(
    path.join(folder, 'package.json'),
    JSON.stringify({
      name: 'policy-probe',
      version: '1.0.0',
      type: 'module',
      credroam: {
        id: 'test.policy-probe',
        engines: { credroam: '*' },
        main: 'index.js',
        activationEvents: ['onTrigger:probe'],
        contributes: { triggers: [{ id: 'probe' }] },
      },
    }),
  );
  await writeFile(
    path.join(folder, 'index.js'),
    `export function activate(context) {
  context.contribute(Symbol.for('credroam.Trigger'), 'probe', (request) => {
    globalThis.__credroamPolicyProbe = request.policy;
    return { start: async () => ({ dispose() {} }) };
  });
}
`,
  );
  const { hashPluginFiles } = await import('@credroam/core');
  return {
    // In process (the site says so): the test reads what it was given from this process.
    entry: {
      id: 'test.policy-probe',
      version: '^1.0.0',
      files: await hashPluginFiles(folder),
      inProcess: true,
    },
    seen: () => (globalThis as { __credroamPolicyProbe?: { maxTokens?: number } }).__credroamPolicyProbe,
  };
}

test('a running agent: a policy refresh applies a higher serial without a restart (the engine, the triggers and the agent’s status see it), and keeps it when a lower one comes back (1047)', async (t) => {
  const dir = await tempDir(t);
  await sitePki(dir);
  const probe = await policyProbe(dir);
  const bundle = path.join(dir, 'site.p7m');
  for (const [serial, max] of [
    [1, 11],
    [2, 22],
  ] as const) {
    await writeFile(
      path.join(dir, `${serial}.p7m`),
      await signPolicy(dir, doc(serial, max, [...FIRST_PARTY, probe.entry]), `d${serial}`),
    );
  }
  await writeFile(bundle, await readFile(path.join(dir, '1.p7m')));
  await writeFile(
    path.join(dir, 'agent.json'),
    JSON.stringify({
      home: './home',
      plugins: [{ from: './probe' }],
      triggers: [{ use: 'probe' }],
      policy: {
        root: './root.pem',
        siteId: 'example.org',
        sources: [{ use: 'file', settings: { path: './site.p7m' } }],
      },
    }),
  );
  const { loadConfig } = await import('../../src/config.js');
  const { Agent } = await import('../../src/daemon/agent.js');
  const { askAgent } = await import('../../src/daemon/ipc.js');
  const { EventLog } = await import('@credroam/core');
  const config = await loadConfig(path.join(dir, 'agent.json'), {});
  const records: Array<{ event: number; serial?: unknown }> = [];
  const log = new EventLog({ write: () => undefined, level: 'debug' });
  log.subscribe((r) => records.push(r));
  const agent = new Agent(config, log);
  await agent.start();
  t.teardown(() => agent.stop());
  const show = async () =>
    JSON.parse(
      (await credroam(['--config', path.join(dir, 'agent.json'), 'policy', 'show', '--json'])).stdout,
    ) as {
      origin: { serial: number };
      policy: { roaming: { maxTokens: number } };
    };
  const obeyed = async () =>
    ((await askAgent(config, { cmd: 'status' })) as { policy?: { serial?: number } }).policy;
  t.true(records.some((r) => r.event === 1041 && r.serial === 1));
  t.is((await show()).policy.roaming.maxTokens, 11);
  t.is(probe.seen()?.maxTokens, 11, JSON.stringify(records.filter((r) => r.event >= 2000)));
  t.is((await obeyed())?.serial, 1);

  await writeFile(bundle, await readFile(path.join(dir, '2.p7m')));
  await askAgent(config, { cmd: 'trigger', event: 'refresh' });
  t.true(records.some((r) => r.event === 1041 && r.serial === 2));
  t.is((await show()).policy.roaming.maxTokens, 22);
  t.is(probe.seen()?.maxTokens, 22, 'the trigger reads the refreshed policy through the object it was given');
  t.is((await obeyed())?.serial, 2);

  await writeFile(bundle, await readFile(path.join(dir, '1.p7m')));
  await askAgent(config, { cmd: 'trigger', event: 'refresh' });
  t.true(records.some((r) => r.event === 1047));
  t.is((await show()).origin.serial, 2);
  t.is(probe.seen()?.maxTokens, 22);
  t.is((await obeyed())?.serial, 2);
});

test('policy hash-plugin prints the allow-list entry of a plugin package: its id, a version range, each file hashed', async (t) => {
  const dir = await tempDir(t);
  await writeFile(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'x', version: '1.2.3', credroam: { id: 'example.x' } }),
  );
  await writeFile(path.join(dir, 'index.js'), 'export {};\n');
  const r = await credroam(['policy', 'hash-plugin', dir]);
  t.is(r.code, 0, r.stderr);
  const entry = JSON.parse(r.stdout) as { id: string; version: string; files: Record<string, string> };
  t.is(entry.id, 'example.x');
  t.is(entry.version, '^1.2.3');
  t.deepEqual(Object.keys(entry.files), ['index.js', 'package.json']);
  const { createHash } = await import('node:crypto');
  t.is(entry.files['index.js'], createHash('sha256').update('export {};\n').digest('hex'));
});

test('a site root that others can write is refused with a clear error: nothing runs on a root anyone could replace', async (t) => {
  const dir = await tempDir(t);
  await sitePki(dir);
  await chmod(path.join(dir, 'root.pem'), 0o666);
  await writeFile(
    path.join(dir, 'agent.json'),
    JSON.stringify({ home: './home', policy: { root: './root.pem', siteId: 'example.org', sources: [] } }),
  );
  const r = await credroam(['--config', path.join(dir, 'agent.json'), 'status', '--json']);
  t.not(r.code, 0);
  const { error } = JSON.parse(r.stdout) as { error: { code: string; message: string } };
  t.is(error.code, 'E_POLICY_ROOT');
  t.regex(error.message, /root\.pem is writable by group or others/);
});

test('init --policy takes only an unsigned policy file: a signed bundle named there is refused with where it goes, and no manifest is written', async (t) => {
  const dir = await tempDir(t);
  await sitePki(dir);
  await writeFile(path.join(dir, 'site.json'), JSON.stringify(doc(1, 10)));
  const signed = await credroam([
    'policy',
    'sign',
    '--key',
    path.join(dir, 'signer.key'),
    '--cert',
    path.join(dir, 'signer.pem'),
    '--out',
    path.join(dir, 'site.p7m'),
    path.join(dir, 'site.json'),
  ]);
  t.is(signed.code, 0, signed.stderr);
  const init = (policy: string) =>
    credroam([
      'init',
      '--config',
      path.join(dir, 'config.json'),
      '--directory',
      `file://${path.join(dir, 'share')}`,
      '--home',
      path.join(dir, 'home'),
      '--policy',
      policy,
    ]);
  const bundle = await init(path.join(dir, 'site.p7m'));
  t.is(bundle.code, 1, bundle.stdout);
  t.regex(
    bundle.stderr,
    /is a signed policy bundle.*"policy": \{ "root", "siteId", "sources" \}.*\[E_POLICY\]/,
  );
  const missing = await init(path.join(dir, 'nowhere.json'));
  t.is(missing.code, 1, missing.stdout);
  t.regex(missing.stderr, /cannot read the policy .*nowhere\.json.*\[E_POLICY\]/);
  await t.throwsAsync(readFile(path.join(dir, 'config.json')));
  await writeFile(path.join(dir, 'local.json'), JSON.stringify({ roaming: { maxTokens: 9 } }));
  t.is((await init(path.join(dir, 'local.json'))).code, 0);
});
