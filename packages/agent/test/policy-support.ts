import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ExecutionContext } from 'ava';
import { firstPartyAllowList } from '../src/policy.js';
import { credroam, openssl } from './support.js';

const run = promisify(execFile);

/** The project's policy-signing extended key usage (docs/admin/policy.md). */
export const EKU = '2.25.216519607882879097454534830734979144005';
export const SITE = 'example.org';

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** A site root (`root.pem`, `root.key`) and a policy signer with the EKU under it (`signer.pem`, `signer.key`), made by openssl in `dir`. */
export async function sitePki(dir: string): Promise<void> {
  await openssl(
    [
      'req',
      '-x509',
      ...EC,
      '-keyout',
      'root.key',
      '-out',
      'root.pem',
      '-days',
      '30',
      '-subj',
      '/CN=site policy root',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign',
    ],
    dir,
  );
  await issueCertificate(dir, 'signer', { eku: true });
}

/**
 * A certificate `<name>.pem` and its key `<name>.key` issued by `root.pem` of `dir`: with the
 * policy-signing EKU, or (`eku: false`) an ordinary certificate of the same CA.
 */
export async function issueCertificate(dir: string, name: string, options: { eku: boolean }): Promise<void> {
  await writeFile(
    path.join(dir, `${name}.ext`),
    `basicConstraints=CA:FALSE\n${options.eku ? `extendedKeyUsage=${EKU}\n` : 'extendedKeyUsage=clientAuth\n'}`,
  );
  await openssl(['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'root.pem',
      '-CAkey',
      'root.key',
      '-set_serial',
      `0x${randomBytes(8).toString('hex')}`,
      '-out',
      `${name}.pem`,
      '-days',
      '30',
      '-extfile',
      `${name}.ext`,
    ],
    dir,
  );
  await chmod(path.join(dir, `${name}.key`), 0o600);
}

/** The first-party plugins as installed here: what a site's bundle lists for the agent to run at all. */
export const FIRST_PARTY = await firstPartyAllowList({ file: undefined });

/** A bundle document of the site: `serial`, `roaming.maxTokens`, the first-party plugins allowed; `overrides` on top. */
export const policyDocument = (
  serial: number,
  maxTokens: number,
  plugins: readonly unknown[] = FIRST_PARTY,
  overrides: Record<string, unknown> = {},
) => ({
  siteId: SITE,
  serial,
  issuedAt: new Date(Date.now() - 60_000).toISOString(),
  notAfter: new Date(Date.now() + 86_400_000).toISOString(),
  roaming: { maxTokens },
  plugins,
  ...overrides,
});

/**
 * Signs `document` with `credroam policy sign` as `signer` (`<signer>.key`, `<signer>.pem` in
 * `pkiDir`, default the site's policy signer); the bundle's bytes.
 */
export async function signPolicy(
  pkiDir: string,
  document: unknown,
  name: string,
  signer = 'signer',
): Promise<Buffer> {
  const json = path.join(pkiDir, `${name}.json`);
  const out = path.join(pkiDir, `${name}.p7m`);
  await writeFile(json, JSON.stringify(document));
  const r = await credroam([
    'policy',
    'sign',
    '--key',
    path.join(pkiDir, `${signer}.key`),
    '--cert',
    path.join(pkiDir, `${signer}.pem`),
    '--out',
    out,
    json,
  ]);
  if (r.code !== 0) throw new Error(`policy sign ${name}: ${r.stderr}${r.stdout}`);
  return readFile(out);
}

/**
 * Writes `<dir>/agent.json`: home `<dir>/home`, the site root `<dir>/root.pem`, and `sources`
 * (`extra` on top: `plugins`…); its `--config` arguments.
 */
export async function policyAgent(
  dir: string,
  sources: readonly unknown[],
  extra: Record<string, unknown> = {},
): Promise<string[]> {
  await writeFile(
    path.join(dir, 'agent.json'),
    JSON.stringify({
      ...extra,
      home: './home',
      policy: { root: './root.pem', siteId: SITE, sources },
    }),
  );
  return ['--config', path.join(dir, 'agent.json')];
}

export interface PolicyEvent {
  readonly event: number;
  readonly msg?: string;
  readonly source?: string;
  readonly check?: string;
  readonly code?: string;
  readonly serial?: number;
  readonly [key: string]: unknown;
}

/** `credroam status --json --verbose`: its policy, and the events it logged (the sources fetched, each bundle checked). */
export async function policyStatus(t: ExecutionContext, cfg: readonly string[]) {
  const r = await credroam([...cfg, 'status', '--json', '--verbose']);
  t.is(r.code, 0, r.stderr + r.stdout);
  return {
    policy: (JSON.parse(r.stdout) as { policy: { kind: string; serial?: number; source?: string } }).policy,
    events: r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as PolicyEvent)
      .filter((e) => e.event >= 1040 && e.event <= 1049),
  };
}

export interface PolicyShown {
  readonly origin: { kind: string; siteId?: string; serial?: number; source?: string; digest?: string };
  readonly policy: { roaming: { maxTokens: number } } & Record<string, unknown>;
  readonly allowList: ReadonlyArray<{ id: string; version: string; files: Record<string, string> }>;
}

/** `credroam policy show --json`: what is in force, from where. */
export async function policyShow(t: ExecutionContext, cfg: readonly string[]): Promise<PolicyShown> {
  const r = await credroam([...cfg, 'policy', 'show', '--json']);
  t.is(r.code, 0, r.stderr + r.stdout);
  return JSON.parse(r.stdout) as PolicyShown;
}

/**
 * Sets (or, with `undefined`, deletes) `credroamPolicyBundle` of `dn` as the directory's
 * administrator with `ldapmodify`, adding `objectClass` first: what docs/admin/policy-sources.md
 * has a site run, and what an attacker who can write the attribute runs.
 */
export async function ldapWriteBundle(
  server: { readonly dir: string; readonly ldapsUrl: string; readonly tls: { readonly ca: string } },
  admin: { readonly dn: string; readonly password: string },
  dn: string,
  value: Buffer | undefined,
  objectClass: string,
): Promise<void> {
  const name = randomBytes(6).toString('hex');
  const file = path.join(server.dir, `${name}.bin`);
  const ldif = path.join(server.dir, `${name}.ldif`);
  const pw = path.join(server.dir, `${name}.pw`);
  await writeFile(pw, admin.password, { mode: 0o600 });
  const addClass = `dn: ${dn}\nchangetype: modify\nadd: objectClass\nobjectClass: ${objectClass}\n-\n`;
  const ldapmodify = (text: string, continueOnError: boolean) =>
    writeFile(ldif, text).then(() =>
      run(
        'ldapmodify',
        [
          '-H',
          server.ldapsUrl,
          '-x',
          '-D',
          admin.dn,
          '-y',
          pw,
          ...(continueOnError ? ['-c'] : []),
          '-f',
          ldif,
        ],
        { env: { ...process.env, LDAPTLS_CACERT: server.tls.ca } },
      ).catch((error: { code?: number; stderr?: string }) => {
        // 20: the class is already there.
        if (!(continueOnError && error.code === 20)) throw error;
      }),
    );
  await ldapmodify(addClass, true);
  if (value === undefined) {
    await ldapmodify(`dn: ${dn}\nchangetype: modify\ndelete: credroamPolicyBundle\n-\n`, false);
    return;
  }
  await writeFile(file, value);
  await ldapmodify(
    `dn: ${dn}\nchangetype: modify\nreplace: credroamPolicyBundle\ncredroamPolicyBundle:< file://${file}\n-\n`,
    false,
  );
}

export interface BundleServer {
  /** https://127.0.0.1:<port>/site/policy.p7b */
  readonly url: string;
  /** The site's CA, which issued the server's certificate: what the source's caFile names. */
  readonly ca: string;
  /** What the server answers: the bundle, or 404 when `undefined`. */
  body: Buffer | undefined;
  readonly requests: number;
  /** Closes the server and every connection (a server that is down). */
  close(): Promise<void>;
}

/**
 * An HTTPS server on 127.0.0.1 (a port the system picks) that serves a policy bundle, with a
 * certificate from a CA made by openssl in `dir` (`tls-ca.pem`); closed when the test ends.
 */
export async function bundleServer(t: ExecutionContext, dir: string): Promise<BundleServer> {
  await openssl(
    [
      'req',
      '-x509',
      ...EC,
      '-keyout',
      'tls-ca.key',
      '-out',
      'tls-ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=site CA',
    ],
    dir,
  );
  await openssl(['req', ...EC, '-keyout', 'tls.key', '-out', 'tls.csr', '-subj', '/CN=policy.test'], dir);
  await writeFile(path.join(dir, 'tls.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      'tls.csr',
      '-CA',
      'tls-ca.pem',
      '-CAkey',
      'tls-ca.key',
      '-set_serial',
      `0x${randomBytes(8).toString('hex')}`,
      '-out',
      'tls.pem',
      '-days',
      '2',
      '-extfile',
      'tls.ext',
    ],
    dir,
  );
  let requests = 0;
  const state: { body: Buffer | undefined } = { body: undefined };
  const server = https.createServer(
    { cert: await readFile(path.join(dir, 'tls.pem')), key: await readFile(path.join(dir, 'tls.key')) },
    (request: IncomingMessage, response: ServerResponse) => {
      requests++;
      if (request.url !== '/site/policy.p7b' || !state.body) {
        response.writeHead(404);
        response.end();
        return;
      }
      response.writeHead(200, { 'content-type': 'application/pkcs7-mime' });
      response.end(state.body);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closed;
  };
  t.teardown(close);
  return {
    url: `https://127.0.0.1:${port}/site/policy.p7b`,
    ca: path.join(dir, 'tls-ca.pem'),
    get body() {
      return state.body;
    },
    set body(value) {
      state.body = value;
    },
    get requests() {
      return requests;
    },
    close,
  };
}
