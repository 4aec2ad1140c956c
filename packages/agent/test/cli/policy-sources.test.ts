import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
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
  bundleServer,
  ldapWriteBundle,
  policyAgent,
  policyDocument,
  policyShow,
  policyStatus,
  signPolicy,
  sitePki,
} from '../policy-support.js';
import { tempDir } from '../support.js';

// One slapd for the file; the tests run one after the other (they write the same site entry, and
// the last one stops the server).
const SITE_DN = `ou=people,${SUFFIX}`;
let server: Slapd;
let stop: () => Promise<void>;

test.before(async () => {
  const started = await startProviders(1, { users: ['alice', 'bob'] });
  server = started.servers[0]!;
  stop = started.stop;
});
test.after.always(async () => {
  await stop?.();
});

const admin = { dn: ADMIN_DN, password: ADMIN_PASSWORD };

/** The `ldap` policy source of alice's endpoint: bound as alice (her password in a file), reading `entry`. */
async function ldapSource(dir: string, entry: { policyDn: string } | { userDn: string }) {
  const pw = path.join(dir, 'alice.pw');
  await writeFile(pw, 'alice password\n', { mode: 0o600 });
  return {
    use: 'ldap',
    settings: {
      url: server.ldapsUrl,
      caFile: server.tls.ca,
      bind: 'simple',
      bindDn: userDn('alice'),
      bindPasswordFile: pw,
      ...entry,
    },
  };
}

/** Publishes, in the site entry, a bundle of `serial` (maxTokens serial × 11) signed with `pki`'s signer. */
async function publishAtSite(pki: string, serial: number): Promise<void> {
  const bundle = await signPolicy(pki, policyDocument(serial, serial * 11), `serial-${serial}`);
  await ldapWriteBundle(server, admin, SITE_DN, bundle, 'credroamSite');
}

/** An endpoint of its own in `<dir>/<name>` (the site root copied in) whose one source is `source`. */
async function endpointWith(dir: string, name: string, source: unknown): Promise<string[]> {
  const sub = path.join(dir, name);
  await mkdir(sub);
  await copyFile(path.join(dir, 'root.pem'), path.join(sub, 'root.pem'));
  return policyAgent(sub, [source]);
}

/** The bundle in force is `serial` from `source`, with its maxTokens, through status and policy show. */
async function inForce(t: ExecutionContext, cfg: readonly string[], serial: number, source: string) {
  const s = await policyStatus(t, cfg);
  t.is(s.policy.kind, 'bundle', JSON.stringify(s));
  t.is(s.policy.serial, serial);
  const shown = await policyShow(t, cfg);
  t.like(shown.origin, { kind: 'bundle', siteId: 'example.org', serial, source });
  t.is(shown.policy.roaming.maxTokens, serial * 11);
  return s.events;
}

test.serial(
  'the same signed bundle from the site entry, the user entry, a folder and HTTPS: each applies through the agent, and origin names its source',
  async (t) => {
    const dir = await tempDir(t);
    await sitePki(dir);
    const bundle = await signPolicy(dir, policyDocument(3, 33), 'three');

    await ldapWriteBundle(server, admin, SITE_DN, bundle, 'credroamSite');
    const site = await endpointWith(dir, 'site-entry', await ldapSource(dir, { policyDn: SITE_DN }));
    const accepted = await inForce(t, site, 3, 'ldap');
    t.true(accepted.some((e) => e.event === 1041 && e.source === 'ldap' && e.serial === 3));

    await ldapWriteBundle(server, admin, userDn('alice'), bundle, 'credroamUser');
    const user = await endpointWith(dir, 'user-entry', await ldapSource(dir, { userDn: userDn('alice') }));
    await inForce(t, user, 3, 'ldap');

    const share = path.join(dir, 'share');
    await mkdir(share);
    await writeFile(path.join(share, 'policy.p7b'), bundle);
    const folder = await endpointWith(dir, 'folder', { use: 'folder', settings: { url: `file://${share}` } });
    await inForce(t, folder, 3, 'folder');

    const web = await bundleServer(t, dir);
    web.body = bundle;
    const viaHttps = await endpointWith(dir, 'https', {
      use: 'https',
      settings: { url: web.url, caFile: web.ca },
    });
    await inForce(t, viaHttps, 3, 'https');
    t.true(web.requests >= 1);
  },
);

test.serial(
  'two sources of one plugin (two directory servers) are told apart: `ldap #1` failed, the bundle came from `ldap #2`',
  async (t) => {
    const dir = await tempDir(t);
    await sitePki(dir);
    await publishAtSite(dir, 6);
    const reachable = await ldapSource(dir, { policyDn: SITE_DN });
    const down = { ...reachable, settings: { ...reachable.settings, url: 'ldaps://127.0.0.1:1' } };
    const cfg = await policyAgent(dir, [down, reachable]);
    const events = await inForce(t, cfg, 6, 'ldap #2');
    t.true(events.some((e) => e.event === 1041 && e.source === 'ldap #2' && e.serial === 6));
    const failed = events.filter((e) => e.event === 1040).map((e) => `${e.source} ${e.code}`);
    t.deepEqual(failed, ['ldap #1 E_UNREACHABLE'], JSON.stringify(events));
  },
);

test.serial(
  'several sources at once: the highest valid serial wins; a forged higher serial is refused at the check it fails; unreachable sources keep the bundle in force and are reported',
  async (t) => {
    const dir = await tempDir(t);
    await sitePki(dir);
    const attacker = path.join(dir, 'attacker');
    await mkdir(attacker);
    await sitePki(attacker);
    const web = await bundleServer(t, dir);
    await writeFile(path.join(dir, 'site.p7m'), await signPolicy(dir, policyDocument(3, 33), 'three'));
    await publishAtSite(dir, 5);
    web.body = await signPolicy(dir, policyDocument(4, 44), 'four');
    const cfg = await policyAgent(dir, [
      { use: 'file', settings: { path: path.join(dir, 'site.p7m') } },
      await ldapSource(dir, { policyDn: SITE_DN }),
      { use: 'https', settings: { url: web.url, caFile: web.ca } },
    ]);
    let events = await inForce(t, cfg, 5, 'ldap');
    t.true(events.some((e) => e.event === 1041 && e.source === 'ldap' && e.serial === 5));

    // Serial 9, signed by a CA that is not the site's (with the EKU): refused at the signature check.
    await publishAtSite(attacker, 9);
    events = await inForce(t, cfg, 5, 'ldap');
    const forged = events.find((e) => e.event === 1042);
    t.like(forged, { source: 'ldap', check: 'signature' }, JSON.stringify(events));
    t.false(events.some((e) => e.event === 1041));
    // The file's 3 and the server's 4 are below the serial in force: rollbacks, refused too.
    t.true(events.some((e) => e.event === 1047 && e.source === 'file'));
    t.true(events.some((e) => e.event === 1047 && e.source === 'https'));

    // The directory and the web server down: serial 5 stays, and each failed source is reported (1040).
    await web.close();
    await server.stop();
    events = await inForce(t, cfg, 5, 'ldap');
    const failed = events.filter((e) => e.event === 1040).map((e) => `${e.source} ${e.code}`);
    t.deepEqual(failed.sort(), ['https E_UNREACHABLE', 'ldap E_UNREACHABLE'], JSON.stringify(events));
    t.false(events.some((e) => e.event === 1049));
  },
);
