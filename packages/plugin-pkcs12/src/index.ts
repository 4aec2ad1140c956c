import path from 'node:path';
import {
  type ContributionRequest,
  CredroamError,
  LocalStore,
  type PluginContext,
  TokenProtector,
} from '@credroam/core/api';
import type { Credential, ReadResult } from './formats/assemble.js';
import { Keyring, type ProtectionPolicy } from './keyring/keyring.js';
import {
  aboveCeiling,
  checkKdf,
  DEFAULT_KDF_CEILING,
  type KdfCeiling,
  type KdfParams,
} from './keyring/master-key.js';
import { MasterKeyProtector } from './protector.js';
import { CredentialFolderStore, type StoreProblem } from './store/credential-folder.js';

// The formats (which load pkijs) are not re-exported here: the entry stays light, and they are
// loaded on first use. Import them from './formats/*.js' directly.
export type { Credential, ReadResult } from './formats/assemble.js';
export { Keyring, type ProtectionPolicy } from './keyring/keyring.js';
export { DEFAULT_KDF, KDF_BOUNDS, type KdfParams } from './keyring/master-key.js';
export { MasterKeyProtector } from './protector.js';
export {
  CredentialFolderStore,
  certificateDer,
  type InventoryEntry,
  keyId,
  type StoreProblem,
} from './store/credential-folder.js';

/** What this plugin offers the agent and dependent plugins (the `activate` result). */
export interface Pkcs12Api {
  /**
   * Reads the credentials in files of any form a user brings (PKCS#12, legacy-encrypted too;
   * certificates in DER or PEM; PKCS#7 bundles; private keys), told apart by content.
   */
  readCredentials(
    files: readonly Uint8Array[],
    password: string | undefined,
    options?: { maxIterations?: number },
  ): Promise<ReadResult>;
  /** Writes a PKCS#12 file OpenSSL 3 (without `-legacy`), NSS, GnuTLS and Java open: key, certificate, chain, friendly name. */
  writePkcs12(credential: Credential, password: string): Promise<Uint8Array>;
  /**
   * What is wrong with the local store under `home` (links, modes others can use), without
   * repairing anything (`credroam doctor`); the store repairs modes itself at its next listing.
   */
  auditStore(options: { readonly home: string }): Promise<StoreProblem[]>;
}

/**
 * One keyring per endpoint home and user: the store and the protector of a session share it. Each
 * activation (one per session's plugin host) has its own: deactivating one session's plugin locks
 * its keyrings only, never those of another session in the same process.
 */
function keyringFor(
  keyrings: Map<string, Keyring>,
  request: ContributionRequest,
  context: PluginContext,
): Keyring {
  const key = `${request.home}\0${request.user}`;
  let keyring = keyrings.get(key);
  if (!keyring) {
    if (!request.directory) {
      throw new CredroamError('E_CONFIG', 'the pkcs12 token protector needs the user’s directory store');
    }
    keyring = new Keyring({
      user: request.user,
      directory: request.directory,
      cacheFile: path.join(request.home, 'keys.json'),
      policy: protectionPolicy(request.policy),
      logger: context.logger,
    });
    keyrings.set(key, keyring);
  }
  return keyring;
}

function protectionPolicy(raw: Readonly<Record<string, unknown>>): ProtectionPolicy {
  const kdf = raw.kdf as KdfParams | undefined;
  if (kdf !== undefined) checkKdf(kdf);
  const escrow = raw.escrowPublicKeyPem;
  if (escrow !== undefined && typeof escrow !== 'string') {
    throw new CredroamError('E_POLICY', 'protection.escrowPublicKeyPem must be a PEM string');
  }
  const kdfCeiling = parseCeiling(raw.kdfCeiling);
  const over = kdf && aboveCeiling(kdf, kdfCeiling ?? DEFAULT_KDF_CEILING);
  if (over) throw new CredroamError('E_POLICY', `protection.kdf is above protection.kdfCeiling: ${over}`);
  return {
    ...(kdf ? { kdf } : {}),
    ...(kdfCeiling ? { kdfCeiling } : {}),
    ...(escrow ? { escrowPublicKeyPem: escrow } : {}),
  };
}

/** `protection.kdfCeiling`: the most KDF work a wrapped key from the directory may cost at logon. */
function parseCeiling(raw: unknown): KdfCeiling | undefined {
  if (raw === undefined) return undefined;
  const c = raw as Partial<KdfCeiling>;
  const ok = (v: unknown, max: number) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= max;
  if (
    typeof raw !== 'object' ||
    raw === null ||
    !ok(c.scryptMaxMemoryMiB ?? DEFAULT_KDF_CEILING.scryptMaxMemoryMiB, 1024) ||
    !ok(c.pbkdf2MaxIterations ?? DEFAULT_KDF_CEILING.pbkdf2MaxIterations, 10_000_000) ||
    Object.keys(raw).some((k) => k !== 'scryptMaxMemoryMiB' && k !== 'pbkdf2MaxIterations')
  ) {
    throw new CredroamError(
      'E_POLICY',
      'protection.kdfCeiling takes scryptMaxMemoryMiB (1..1024) and pbkdf2MaxIterations (1..10000000)',
    );
  }
  return { ...DEFAULT_KDF_CEILING, ...c };
}

export function activate(context: PluginContext): Pkcs12Api {
  const keyrings = new Map<string, Keyring>();
  context.contribute(
    TokenProtector,
    'pkcs12',
    (request) => new MasterKeyProtector(keyringFor(keyrings, request, context)),
  );
  const stores = new Set<CredentialFolderStore>();
  context.contribute(LocalStore, 'pkcs12', (request) => {
    const keyring = request.directory ? keyringFor(keyrings, request, context) : undefined;
    const store = new CredentialFolderStore(path.join(request.home, 'store'), keyring, {
      logger: context.logger,
    });
    stores.add(store);
    return store;
  });
  context.subscriptions.push({
    dispose: () => {
      for (const k of keyrings.values()) k.lock();
      keyrings.clear();
      for (const s of stores) s.close();
      stores.clear();
    },
  });
  return {
    async readCredentials(files, password, options) {
      const { readCredentialFiles } = await import('./formats/read-files.js');
      return readCredentialFiles(files, password, options);
    },
    async writePkcs12(credential, password) {
      const { writePkcs12 } = await import('./formats/pkcs12-write.js');
      return writePkcs12(credential, password);
    },
    auditStore({ home }) {
      return new CredentialFolderStore(path.join(home, 'store'), undefined).audit();
    },
  };
}
