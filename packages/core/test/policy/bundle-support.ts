import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ExecutionContext } from 'ava';
import { canonicalJson, POLICY_SIGNING_EKU, signPolicyBundle } from '../../src/index.js';

const run = promisify(execFile);

/** Runs the real openssl in `dir`; its stdout as bytes. */
export async function openssl(dir: string, args: readonly string[], input?: Uint8Array): Promise<Buffer> {
  const child = run('openssl', [...args], { cwd: dir, encoding: 'buffer', maxBuffer: 1 << 24 });
  if (input) {
    child.child.stdin?.end(input);
  }
  return (await child).stdout;
}

export async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'credroam-policy-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const KEY_ARGS = {
  ec: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  ed25519: ['-newkey', 'ed25519'],
  rsa: ['-newkey', 'rsa:2048'],
} as const;

/**
 * A site PKI made by openssl in `dir`: `name`-root.pem (a root CA), `name`-ca.pem (an intermediate
 * under it) and `issue()` for leaves under the intermediate (with or without the policy EKU).
 */
export async function makeSitePki(dir: string, name = 'site') {
  await writeFile(
    path.join(dir, 'ca.ext'),
    'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n',
  );
  await openssl(dir, [
    'req',
    '-x509',
    ...KEY_ARGS.ec,
    '-nodes',
    '-keyout',
    `${name}-root.key`,
    '-out',
    `${name}-root.pem`,
    '-days',
    '3650',
    '-subj',
    `/CN=${name} policy root`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await openssl(dir, [
    'req',
    ...KEY_ARGS.ec,
    '-nodes',
    '-keyout',
    `${name}-ca.key`,
    '-out',
    `${name}-ca.csr`,
    '-subj',
    `/CN=${name} issuing CA`,
  ]);
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}-ca.csr`,
    '-CA',
    `${name}-root.pem`,
    '-CAkey',
    `${name}-root.key`,
    '-set_serial',
    `0x${randomBytes(8).toString('hex')}`,
    '-out',
    `${name}-ca.pem`,
    '-days',
    '3650',
    '-extfile',
    'ca.ext',
  ]);
  const pki = {
    dir,
    root: path.join(dir, `${name}-root.pem`),
    intermediate: path.join(dir, `${name}-ca.pem`),
    /** A leaf under the intermediate; `eku` false: an ordinary certificate of the same CA. */
    async issue(leaf: string, options: { kind?: keyof typeof KEY_ARGS; eku?: boolean; days?: number } = {}) {
      const ext = [
        'basicConstraints=CA:FALSE',
        'keyUsage=critical,digitalSignature',
        options.eku === false ? 'extendedKeyUsage=clientAuth' : `extendedKeyUsage=${POLICY_SIGNING_EKU}`,
      ].join('\n');
      await writeFile(path.join(dir, `${leaf}.ext`), `${ext}\n`);
      await openssl(dir, [
        'req',
        ...KEY_ARGS[options.kind ?? 'ec'],
        '-nodes',
        '-keyout',
        `${leaf}.key`,
        '-out',
        `${leaf}.csr`,
        '-subj',
        `/CN=${leaf}`,
      ]);
      await openssl(dir, [
        'x509',
        '-req',
        '-in',
        `${leaf}.csr`,
        '-CA',
        `${name}-ca.pem`,
        '-CAkey',
        `${name}-ca.key`,
        '-set_serial',
        `0x${randomBytes(8).toString('hex')}`,
        '-out',
        `${leaf}.pem`,
        '-days',
        String(options.days ?? 365),
        '-extfile',
        `${leaf}.ext`,
      ]);
      return {
        cert: path.join(dir, `${leaf}.pem`),
        key: path.join(dir, `${leaf}.key`),
        signer: {
          keyPem: await readFile(path.join(dir, `${leaf}.key`), 'utf8'),
          certPem: await readFile(path.join(dir, `${leaf}.pem`), 'utf8'),
          chainPems: [await readFile(path.join(dir, `${name}-ca.pem`), 'utf8')],
        },
      };
    },
  };
  return pki;
}

/** A valid document for site `site`, serial `serial`, good for a year from `now`. */
export function document(overrides: Record<string, unknown> = {}, now = new Date()): Record<string, unknown> {
  return {
    siteId: 'example.org',
    serial: 1,
    issuedAt: new Date(now.getTime() - 60_000).toISOString(),
    notAfter: new Date(now.getTime() + 365 * 86_400_000).toISOString(),
    roaming: { maxTokens: 77 },
    plugins: [{ id: 'credroam.ldap', version: '^0.1.0', files: { 'package.json': 'a'.repeat(64) } }],
    ...overrides,
  };
}

export const sign = (doc: unknown, signer: Parameters<typeof signPolicyBundle>[1]) =>
  signPolicyBundle(new TextEncoder().encode(canonicalJson(doc)), signer);
