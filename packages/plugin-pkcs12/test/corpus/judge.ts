/**
 * The plugin as the agent sees it (`activate(context)`), and the verdict on one corpus case: did
 * `readCredentials` put the file in the class it must fall in?
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DisposableStore } from '@credroam/core/api';
import type { ExecutionContext } from 'ava';
import { activate, type Pkcs12Api } from '../../src/index.js';
import type { CorpusCase } from './index.js';
import { keyIdentity, sha256 } from './tools.js';

/** What the rewritten reader returns (chain, friendly name, notices), read loosely from today's type. */
export interface ReadCredential {
  readonly cert: Uint8Array;
  readonly key?: Uint8Array;
  readonly chain?: readonly Uint8Array[];
  readonly friendlyName?: string;
}
export interface ReadOutcome {
  readonly credentials: readonly ReadCredential[];
  readonly ignoredCertificates: number;
  readonly notices?: readonly string[];
}

export interface Plugin {
  read(files: readonly Uint8Array[], password: string | undefined): Promise<ReadOutcome>;
  /** `writePkcs12` with the credential as read (chain and friendly name in it). */
  write(credential: ReadCredential, password: string): Promise<Uint8Array>;
  readonly api: Pkcs12Api;
  /** Ends its subscriptions and removes its state folder. */
  dispose(): Promise<void>;
}

const quiet = () => undefined;

/** Activates the plugin with a minimal host context (the tests call only its API). */
export async function activatePlugin(): Promise<Plugin> {
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'credroam-pkcs12-state-'));
  const subscriptions = new DisposableStore();
  const api = activate({
    id: 'credroam.pkcs12',
    version: '0.1.0',
    subscriptions,
    logger: { log: quiet, debug: quiet, info: quiet, warn: quiet, error: quiet },
    configuration: {},
    stateDir,
    dependency: () => {
      throw new Error('no dependencies in this test');
    },
    contribute: () => ({ dispose: quiet }),
  });
  // The writer's third argument (today's friendly name) is passed too; the rewrite reads it from the credential.
  const write = api.writePkcs12 as unknown as (
    c: ReadCredential,
    p: string,
    n?: string,
  ) => Promise<Uint8Array>;
  return {
    api,
    read: (files, password) => api.readCredentials(files, password) as Promise<ReadOutcome>,
    write: (credential, password) => write(credential, password, credential.friendlyName),
    dispose: async () => {
      await subscriptions.dispose();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

const described = (e: unknown) => {
  const err = e as { code?: string; message?: string };
  return `${err.code ?? 'no code'}: ${err.message ?? String(e)}`;
};

/**
 * Asserts that `readCredentials` put the case in its class. Returns the credential read (for the
 * matrix to export), or undefined when the case was (rightly) refused.
 */
export async function judge(
  t: ExecutionContext,
  plugin: Plugin,
  c: CorpusCase,
): Promise<ReadCredential | undefined> {
  let result: ReadOutcome | undefined;
  let error: unknown;
  try {
    result = await plugin.read(c.files, c.password);
  } catch (e) {
    error = e;
  }
  const expect = c.expect;
  if (expect.class === 'refused') {
    if (!error) {
      t.fail(
        `imported ${result!.credentials.length} credential(s); it must be refused with ${expect.code.join(' or ')}`,
      );
      return undefined;
    }
    t.true(
      expect.code.includes((error as { code?: string }).code as never),
      `refused with ${described(error)}; the true reason is ${expect.code.join(' or ')}`,
    );
    return undefined;
  }
  if (error) {
    if (expect.orRefused && (error as { code?: string }).code === expect.orRefused) {
      t.log(`refused (allowed for this encoding): ${described(error)}`);
      t.pass();
      return undefined;
    }
    t.fail(`refused with ${described(error)}; openssl reads it`);
    return undefined;
  }
  const all = new Set(expect.allCerts);
  const out = result!;
  for (const cred of out.credentials) {
    for (const der of [cred.cert, ...(cred.chain ?? [])]) {
      t.true(all.has(sha256(der)), `a certificate that is not in the file came out of it (${sha256(der)})`);
    }
  }
  const cred = out.credentials.find((x) => sha256(x.cert) === expect.certSha256);
  if (!cred) {
    t.fail(
      `no credential has the certificate openssl reads (${expect.certSha256}); got ${out.credentials.map((x) => sha256(x.cert)).join(', ') || 'none'}`,
    );
    return undefined;
  }
  if (expect.keySpkiSha256) {
    if (!cred.key) {
      t.fail('the certificate came without its key');
      return cred;
    }
    const id = keyIdentity(cred.key);
    t.is(id.spkiSha256, expect.keySpkiSha256, 'the key is not the one openssl reads (public key)');
    t.is(
      id.pkcs8Sha256,
      expect.keyPkcs8Sha256 ?? '(none)',
      'the key is not the one openssl reads (private key)',
    );
  } else {
    t.is(cred.key, undefined, 'a key came out of a file that has none');
  }
  if (expect.chainLength !== undefined) {
    const chain = (cred.chain ?? []).map(sha256).sort();
    const want = expect.allCerts.filter((h) => h !== expect.certSha256).sort();
    t.is(chain.length, expect.chainLength, 'the CA chain is not kept with the credential');
    t.deepEqual(chain, want, 'the chain kept is not the CA certificates of the file');
  }
  if (expect.friendlyName !== undefined) {
    t.is(cred.friendlyName, expect.friendlyName, 'the friendly name is not kept');
  }
  if (expect.notice) {
    t.true(
      (out.notices ?? []).length > 0,
      'a legacy-encrypted file imports with a notice saying what was read',
    );
  }
  return cred;
}
