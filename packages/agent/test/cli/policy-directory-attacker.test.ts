import { randomBytes } from 'node:crypto';
import { cp, mkdir, readdir, readFile, realpath, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashPluginFiles } from '@credroam/core';
import {
  ADMIN_DN,
  ADMIN_PASSWORD,
  type Slapd,
  SUFFIX,
  startProviders,
  userDn,
} from '@credroam/plugin-ldap/testing';
import test, { type ExecutionContext } from 'ava';
import {
  FIRST_PARTY,
  issueCertificate,
  ldapWriteBundle,
  type PolicyEvent,
  policyAgent,
  policyDocument,
  policyShow,
  policyStatus,
  signPolicy,
  sitePki,
} from '../policy-support.js';
import { credroam, tempDir } from '../support.js';

const SITE_DN = `ou=people,${SUFFIX}`;
const coreFixtures = fileURLToPath(new URL('../../../../core/test/fixtures/plugins/', import.meta.url));
let server: Slapd;
let stop: () => Promise<void>;

test.before(async () => {
  const started = await startProviders(1, { users: ['alice'] });
  server = started.servers[0]!;
  stop = started.stop;
});
test.after.always(async () => {
  await stop?.();
});

/** Every file of the endpoint's accepted record (HOME/policy/), name → bytes (hex). */
async function acceptedRecord(home: string): Promise<Record<string, string>> {
  const folder = path.join(home, 'policy');
  const out: Record<string, string> = {};
  for (const name of (await readdir(folder)).sort()) {
    out[name] = (await readFile(path.join(folder, name))).toString('hex');
  }
  return out;
}

interface Listing {
  sitePolicy: { state: string; serial?: number };
  plugins: Array<{ id: string; state: string; policy?: string; reason?: string }>;
}

async function pluginsList(cfg: readonly string[]): Promise<Listing> {
  return JSON.parse((await credroam([...cfg, 'plugins', 'list', '--json'])).stdout) as Listing;
}

interface Attack {
  readonly what: string;
  /** The value the attacker writes to credroamPolicyBundle of the site entry; `undefined` deletes it. */
  readonly value: Buffer | undefined;
  /** The refusal: its event, and the check it names (or, for a source error, its code). */
  readonly refused?: { readonly event: number; readonly check?: string; readonly code?: string };
}

test('an attacker who can write the directory’s policy attribute cannot change anything an endpoint obeys; the site’s next serial in the same attribute applies', async (t: ExecutionContext) => {
  const dir = await realpath(await tempDir(t));
  await sitePki(dir);
  // An ordinary certificate of the site's own CA, without the policy-signing EKU.
  await issueCertificate(dir, 'plain', { eku: false });
  // The attacker's own CA, with a signer that carries the EKU.
  const own = path.join(dir, 'attacker');
  await mkdir(own);
  await sitePki(own);
  // A third-party plugin the endpoint's manifest names: the site's bundles do not allow it, every
  // forged one does (and raises maxTokens).
  await cp(path.join(coreFixtures, 'policed'), path.join(dir, 'policed'), { recursive: true });
  const widened = [
    ...FIRST_PARTY,
    { id: 'test.policed', version: '^1.0.0', files: await hashPluginFiles(path.join(dir, 'policed')) },
  ];
  const pw = path.join(dir, 'alice.pw');
  await writeFile(pw, 'alice password\n', { mode: 0o600 });
  const cfg = await policyAgent(
    dir,
    [
      {
        use: 'ldap',
        settings: {
          url: server.ldapsUrl,
          caFile: server.tls.ca,
          bind: 'simple',
          bindDn: userDn('alice'),
          bindPasswordFile: pw,
          policyDn: SITE_DN,
        },
      },
    ],
    { plugins: [{ from: './policed' }] },
  );
  const home = path.join(dir, 'home');
  const publish = (value: Buffer | undefined) =>
    ldapWriteBundle(server, { dn: ADMIN_DN, password: ADMIN_PASSWORD }, SITE_DN, value, 'credroamSite');

  // The site publishes serial 4, then 5: both applied from the attribute.
  const four = await signPolicy(dir, policyDocument(4, 44), 'four');
  await publish(four);
  t.is((await policyStatus(t, cfg)).policy.serial, 4);
  await publish(await signPolicy(dir, policyDocument(5, 55), 'five'));
  const five = await policyStatus(t, cfg);
  t.is(five.policy.serial, 5);
  t.true(five.events.some((e) => e.event === 1041 && e.serial === 5 && e.source === 'ldap'));

  const shown = await policyShow(t, cfg);
  t.like(shown.origin, { kind: 'bundle', siteId: 'example.org', serial: 5, source: 'ldap' });
  t.is(shown.policy.roaming.maxTokens, 55);
  t.deepEqual(
    shown.allowList.map((e) => e.id),
    FIRST_PARTY.map((e) => e.id),
  );
  const record = await acceptedRecord(home);
  t.deepEqual(Object.keys(record), ['accepted.json', 'accepted.p7m']);
  const plugins = await pluginsList(cfg);
  t.like(plugins.sitePolicy, { state: 'enforced', serial: 5 });
  const allowed = new Set(FIRST_PARTY.map((e) => e.id));
  const loadable = (l: Listing) =>
    l.plugins
      .filter((p) => p.policy === 'allowed')
      .map((p) => p.id)
      .sort();
  t.deepEqual(loadable(plugins), [...allowed].sort());
  t.like(
    plugins.plugins.find((p) => p.id === 'test.policed'),
    { policy: 'refused', state: 'failed' },
  );

  const forged = (serial: number, signer: string, pki = dir, overrides: Record<string, unknown> = {}) =>
    signPolicy(
      pki,
      policyDocument(serial, 999, widened, overrides),
      `forged-${serial}-${signer}-${randomBytes(3).toString('hex')}`,
      signer,
    );
  const attacks: Attack[] = [
    {
      what: '(a) serial 9 signed by the attacker’s own CA, with the EKU',
      value: await forged(9, 'signer', own),
      refused: { event: 1042, check: 'signature' },
    },
    {
      what: '(b) serial 9 signed by an ordinary certificate of the site’s CA, without the EKU',
      value: await forged(9, 'plain'),
      refused: { event: 1043, check: 'eku' },
    },
    {
      what: '(c) serial 9 of another site, validly signed',
      value: await forged(9, 'signer', dir, { siteId: 'other.example' }),
      refused: { event: 1044, check: 'site' },
    },
    {
      what: '(d) the site’s own serial 4, replayed',
      value: four,
      refused: { event: 1047, check: 'rollback' },
    },
    {
      what: '(e) serial 5 with other content, signed without the EKU',
      value: await forged(5, 'plain'),
      refused: { event: 1043, check: 'eku' },
    },
    {
      what: '(e) serial 5 with other content, validly signed: the same serial, another digest',
      value: await forged(5, 'signer'),
      refused: { event: 1047, check: 'rollback' },
    },
    {
      what: '(f) an unsigned JSON document',
      value: Buffer.from(JSON.stringify(policyDocument(9, 999, widened))),
      refused: { event: 1042, check: 'signature' },
    },
    {
      what: '(g) 300 KiB of junk',
      value: randomBytes(300 * 1024),
      refused: { event: 1040, code: 'E_POLICY_TOO_LARGE' },
    },
    {
      what: '(g) 256 KiB of junk, exactly the bound',
      value: randomBytes(256 * 1024),
      refused: { event: 1042, check: 'signature' },
    },
    { what: '(h) the attribute deleted', value: undefined },
  ];
  for (const attack of attacks) {
    await publish(attack.value);
    const s = await policyStatus(t, cfg);
    t.is(s.policy.serial, 5, attack.what);
    t.false(
      s.events.some((e) => e.event === 1041 || e.event === 1049),
      `${attack.what}: ${JSON.stringify(s.events)}`,
    );
    if (attack.refused) {
      const { event, check, code } = attack.refused;
      const hit = s.events.find((e: PolicyEvent) => e.event === event);
      t.truthy(hit, `${attack.what}: ${JSON.stringify(s.events)}`);
      t.is(hit?.source, 'ldap', attack.what);
      if (check) t.is(hit?.check, check, attack.what);
      if (code) t.is(hit?.code, code, attack.what);
    } else {
      t.false(
        s.events.some((e) => e.event >= 1040 && e.event <= 1047),
        `${attack.what}: ${JSON.stringify(s.events)}`,
      );
    }
    t.deepEqual(await policyShow(t, cfg), shown, attack.what);
    t.deepEqual(await acceptedRecord(home), record, attack.what);
    const now = await pluginsList(cfg);
    t.deepEqual(now, plugins, attack.what);
    t.deepEqual(loadable(now), [...allowed].sort(), attack.what);
  }

  // The site's serial 6 in the very same attribute: applied, so the attribute was live all along.
  await publish(await signPolicy(dir, policyDocument(6, 66), 'six'));
  const six = await policyStatus(t, cfg);
  t.is(six.policy.serial, 6);
  t.true(six.events.some((e) => e.event === 1041 && e.serial === 6 && e.source === 'ldap'));
  const after = await policyShow(t, cfg);
  t.like(after.origin, { serial: 6, source: 'ldap' });
  t.is(after.policy.roaming.maxTokens, 66);
  t.notDeepEqual(await acceptedRecord(home), record);
  t.like((await pluginsList(cfg)).sitePolicy, { state: 'enforced', serial: 6 });
});

test('a running agent: forged bundles in the user’s entry are refused at each refresh and its plugins stay as the bundle in force says; the site’s next serial applies without a restart', async (t) => {
  const dir = await realpath(await tempDir(t));
  await sitePki(dir);
  await issueCertificate(dir, 'plain', { eku: false });
  const own = path.join(dir, 'attacker');
  await mkdir(own);
  await sitePki(own);
  await cp(path.join(coreFixtures, 'policed'), path.join(dir, 'policed'), { recursive: true });
  const widened = [
    ...FIRST_PARTY,
    { id: 'test.policed', version: '^1.0.0', files: await hashPluginFiles(path.join(dir, 'policed')) },
  ];
  const pw = path.join(dir, 'alice.pw');
  await writeFile(pw, 'alice password\n', { mode: 0o600 });
  const cfg = await policyAgent(
    dir,
    [
      {
        use: 'ldap',
        settings: {
          url: server.ldapsUrl,
          caFile: server.tls.ca,
          bind: 'simple',
          userDn: userDn('alice'),
          bindPasswordFile: pw,
        },
      },
    ],
    { plugins: [{ from: './policed' }] },
  );
  const home = path.join(dir, 'home');
  const publish = (value: Buffer | undefined) =>
    ldapWriteBundle(
      server,
      { dn: ADMIN_DN, password: ADMIN_PASSWORD },
      userDn('alice'),
      value,
      'credroamUser',
    );
  await publish(await signPolicy(dir, policyDocument(5, 55), 'five'));

  const { loadConfig } = await import('../../src/config.js');
  const { Agent } = await import('../../src/daemon/agent.js');
  const { askAgent } = await import('../../src/daemon/ipc.js');
  const { EventLog } = await import('@credroam/core');
  const config = await loadConfig(path.join(dir, 'agent.json'), {});
  const records: PolicyEvent[] = [];
  const log = new EventLog({ write: () => undefined, level: 'debug' });
  log.subscribe((r) => records.push(r as unknown as PolicyEvent));
  const agent = new Agent(config, log);
  await agent.start();
  t.teardown(() => agent.stop());
  t.true(records.some((r) => r.event === 1041 && r.serial === 5 && r.source === 'ldap'));
  const shown = await policyShow(t, cfg);
  t.like(shown.origin, { serial: 5, source: 'ldap' });
  const record = await acceptedRecord(home);
  const policedUrl = new URL(`file://${path.join(dir, 'policed', 'index.js')}`).href;
  const imported = () =>
    ((globalThis as { __credroamImported?: string[] }).__credroamImported ?? []).includes(policedUrl);

  /** Publishes `value`, has the agent refresh, and returns what it logged meanwhile. */
  const refreshWith = async (value: Buffer | undefined) => {
    await publish(value);
    const from = records.length;
    const answer = await askAgent(config, { cmd: 'trigger', event: 'refresh' });
    t.true(answer?.ok, JSON.stringify(answer));
    return records.slice(from);
  };
  const attacks: Array<[string, Buffer | undefined, number]> = [
    ['serial 9 from the attacker’s CA', await signPolicy(own, policyDocument(9, 999, widened), 'nine'), 1042],
    [
      'serial 9 without the EKU',
      await signPolicy(dir, policyDocument(9, 999, widened), 'plain9', 'plain'),
      1043,
    ],
    [
      'serial 5, other content, validly signed',
      await signPolicy(dir, policyDocument(5, 999, widened), 'five-b'),
      1047,
    ],
    ['the attribute deleted', undefined, 0],
  ];
  for (const [what, value, event] of attacks) {
    const logged = await refreshWith(value);
    if (event)
      t.like(
        logged.find((e) => e.event === event),
        { source: 'ldap' },
        `${what}: ${JSON.stringify(logged)}`,
      );
    t.false(
      logged.some((e) => e.event === 1041),
      what,
    );
    // The allow-list the running host obeys is still serial 5's: nothing newly refused, and
    // test.policed (which every forged bundle allows) is not among the plugins it now allows.
    const applied = logged.filter((e) => e.event === 2014).at(-1) as
      | (PolicyEvent & { refused: string[]; needRestart: string[] })
      | undefined;
    t.is(applied?.serial, 5, what);
    t.deepEqual(applied?.refused, [], what);
    t.deepEqual(applied?.needRestart, [], what);
    t.false(
      logged.some((e) => e.event === 2001 && JSON.stringify(e).includes('test.policed')),
      what,
    );
    t.deepEqual(await policyShow(t, cfg), shown, what);
    t.deepEqual(await acceptedRecord(home), record, what);
  }
  t.false(imported(), 'test.policed was never imported');

  // Serial 6 in the same attribute, which no longer allows credroam.policy-https: applied live.
  const six = FIRST_PARTY.filter((e) => e.id !== 'credroam.policy-https');
  const logged = await refreshWith(await signPolicy(dir, policyDocument(6, 66, six), 'six'));
  t.true(logged.some((e) => e.event === 1041 && e.serial === 6 && e.source === 'ldap'));
  const applied = logged.filter((e) => e.event === 2014).at(-1) as
    | (PolicyEvent & { refused: string[] })
    | undefined;
  t.is(applied?.serial, 6);
  t.deepEqual(applied?.refused, ['credroam.policy-https']);
  t.is((await policyShow(t, cfg)).policy.roaming.maxTokens, 66);
});
