import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, lstat, mkdir, open, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { CredroamError } from '@credroam/core/api';
import {
  decodeCredentialAttributes,
  describeCertificate,
  readFileNoFollow,
  writeFileAtomic,
} from '@credroam/core/kit';
import type { Pkcs12Api } from '@credroam/plugin-pkcs12';
import type { Holding, MirrorCredential, MirrorTarget, Parts } from './mirror.js';

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/**
 * The DER of the one certificate of a `.crt` file this mirror wrote (a single CERTIFICATE block),
 * checked as every endpoint reads certificates; throws for anything else.
 */
function pemCertificate(data: Uint8Array): Uint8Array {
  const m = /^-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END CERTIFICATE-----\r?\n?$/.exec(
    Buffer.from(data).toString('latin1'),
  );
  if (!m) throw new Error('not one PEM certificate');
  const der = new Uint8Array(Buffer.from(m[1]!, 'base64'));
  describeCertificate(der);
  return der;
}

/** How a folder mirror writes each credential. */
export type FileFormat = 'pem' | 'pkcs12';

export interface FileFolderOptions {
  readonly folder: string;
  readonly format: FileFormat;
  /** The password keys are encrypted under (first line of `passwordFile`); '' writes them in clear. */
  readonly password: () => Promise<string>;
  readonly pkcs12: Pick<Pkcs12Api, 'readCredentials' | 'writePkcs12'>;
}

/** A file name's readable part: the friendly name (else the subject's CN), in characters every tool takes. */
export function readableName(cert: Uint8Array, attrs: Uint8Array | undefined): string {
  let name: string | undefined;
  if (attrs) {
    try {
      name = decodeCredentialAttributes(attrs).friendlyName;
    } catch {
      // unreadable attributes: the subject's name instead
    }
  }
  if (name === undefined) {
    try {
      // describeCertificate: a certificate a stricter OpenSSL refuses is read from its structure.
      name = describeCertificate(cert)
        .subject.split(', ')
        .find((l) => l.startsWith('CN='))
        ?.slice(3);
    } catch {
      // not read: the fallback below
    }
  }
  const slug = (name ?? '')
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[-.]+|-+$/g, '')
    .slice(0, 48);
  return slug || 'credential';
}

/** `<readable name>-<first 8 hex digits of the certificate's SHA-256>`: unique, and what the user reads. */
export const baseName = (c: Pick<MirrorCredential, 'cert' | 'certId' | 'attrs'>): string =>
  `${readableName(c.cert, c.attrs)}-${c.certId.slice(0, 8)}`;

const pem = (label: string, der: Uint8Array) =>
  `-----BEGIN ${label}-----\n${(
    Buffer.from(der)
      .toString('base64')
      .match(/.{1,64}/g) ?? []
  ).join('\n')}\n-----END ${label}-----\n`;

/**
 * A folder of files for the tools that read files (NetworkManager's 802.1X, curl, VPN clients):
 * the folder 0700; with `pem`, `<name>-<id8>.crt` (the certificate, PEM, 0644) and `<name>-<id8>.key`
 * (the key, PKCS#8 PEM, 0600, encrypted when there is a password); with `pkcs12`,
 * `<name>-<id8>.p12` (certificate, key and chain, 0600). Written atomically (a new file renamed
 * into place, never through a link); links and other odd entries are not followed, and files the
 * user keeps there are left alone.
 */
export class FileFolder implements MirrorTarget {
  constructor(readonly options: FileFolderOptions) {}

  get folder(): string {
    return this.options.folder;
  }

  async read(): Promise<Holding> {
    const files = await this.#files();
    const certs = new Set<string>();
    const keys = new Set<string>();
    const names = new Map<string, string>();
    const password = this.options.format === 'pkcs12' ? await this.options.password() : undefined;
    for (const [name, mode] of files) {
      const m = /^(.*)-([0-9a-f]{8})\.(crt|key|p12)$/.exec(name);
      if (!m) continue;
      const data = await readFileNoFollow(path.join(this.folder, name), { maxBytes: 1024 * 1024 }).catch(
        () => undefined,
      );
      if (!data) continue;
      const ext = m[3];
      try {
        if (ext === 'crt' && this.options.format === 'pem') {
          const id = sha256(pemCertificate(data));
          if (!id.startsWith(m[2]!)) continue;
          certs.add(id);
          names.set(id, `${m[1]}-${m[2]}`);
        } else if (ext === 'key' && this.options.format === 'pem' && (mode & 0o077) === 0) {
          const key = createPrivateKey({ key: data, passphrase: await this.options.password() });
          keys.add(sha256(createPublicKey(key).export({ type: 'spki', format: 'der' })));
        } else if (ext === 'p12' && this.options.format === 'pkcs12' && (mode & 0o077) === 0) {
          const read = await this.options.pkcs12.readCredentials([new Uint8Array(data)], password);
          for (const c of read.credentials) {
            const id = sha256(c.cert);
            if (!id.startsWith(m[2]!)) continue;
            certs.add(id);
            names.set(id, `${m[1]}-${m[2]}`);
            if (c.key) {
              keys.add(
                sha256(
                  createPublicKey(
                    createPrivateKey({ key: Buffer.from(c.key), format: 'der', type: 'pkcs8' }),
                  ).export({ type: 'spki', format: 'der' }),
                ),
              );
            }
          }
        }
      } catch {
        // Not a file credroam reads (another password, damaged): not held; written again if it is ours.
      }
    }
    return {
      certs,
      keys,
      // The friendly name is in the file's name: a renamed credential's files are named anew.
      hasAttributes: (c) => names.get(c.certId) === baseName(c),
    };
  }

  async put(c: MirrorCredential, _parts: Parts): Promise<void> {
    await this.#ensureFolder();
    const base = baseName(c);
    // A renamed credential: the files under its old name go.
    await this.#removeFiles(c.certId, base);
    const password = await this.options.password();
    if (this.options.format === 'pem') {
      await this.#write(`${base}.crt`, pem('CERTIFICATE', c.cert), 0o644);
      if (c.key) {
        const key = createPrivateKey({ key: Buffer.from(c.key), format: 'der', type: 'pkcs8' });
        const text =
          password === ''
            ? key.export({ type: 'pkcs8', format: 'pem' })
            : key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: password });
        await this.#write(`${base}.key`, String(text), 0o600);
      }
    } else {
      let chain: readonly Uint8Array[] = [];
      let friendlyName: string | undefined;
      if (c.attrs) {
        try {
          const doc = decodeCredentialAttributes(c.attrs);
          chain = doc.chain;
          friendlyName = doc.friendlyName;
        } catch {
          // attributes unreadable: the certificate and key alone
        }
      }
      const p12 = await this.options.pkcs12.writePkcs12(
        {
          cert: c.cert,
          ...(c.key ? { key: c.key } : {}),
          chain,
          ...(friendlyName !== undefined ? { friendlyName } : {}),
        },
        password,
      );
      await this.#write(`${base}.p12`, p12, 0o600);
    }
  }

  async remove(certId: string, _keyId: string | undefined): Promise<void> {
    await this.#removeFiles(certId, undefined);
  }

  /** Removes this credential's files (by the id in their name), except those named `keep`. */
  async #removeFiles(certId: string, keep: string | undefined): Promise<void> {
    const suffix = `-${certId.slice(0, 8)}`;
    for (const [name] of await this.#files()) {
      const m = /^(.*)\.(crt|key|p12)$/.exec(name);
      if (!m || !m[1]!.endsWith(suffix) || m[1] === keep) continue;
      await unlink(path.join(this.folder, name)).catch(() => undefined);
    }
  }

  /** The regular files in the folder with their modes (links and folders are not followed). */
  async #files(): Promise<Map<string, number>> {
    const st = await lstat(this.folder).catch(() => undefined);
    if (!st) return new Map();
    this.#check(st);
    const out = new Map<string, number>();
    for (const name of await readdir(this.folder)) {
      const f = await lstat(path.join(this.folder, name)).catch(() => undefined);
      if (f?.isFile()) out.set(name, f.mode & 0o777);
    }
    return out;
  }

  #check(st: Awaited<ReturnType<typeof lstat>>): void {
    if (st.isSymbolicLink() || !st.isDirectory()) {
      throw new CredroamError(
        'E_MIRROR_FOLDER',
        `${this.folder} is ${st.isSymbolicLink() ? 'a link' : 'not a folder'}, where the file mirror's folder should be: credroam writes nothing through it`,
        { path: this.folder },
      );
    }
  }

  async #ensureFolder(): Promise<void> {
    await mkdir(this.folder, { recursive: true, mode: 0o700 });
    const st = await lstat(this.folder);
    this.#check(st);
    if ((st.mode & 0o777) !== 0o700) await chmod(this.folder, 0o700);
  }

  /** Atomic, then its mode set through the new file itself (whatever the umask), never through a link. */
  async #write(name: string, data: string | Uint8Array, mode: number): Promise<void> {
    const file = path.join(this.folder, name);
    await writeFileAtomic(file, data, 0o600);
    const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      await handle.chmod(mode);
    } finally {
      await handle.close();
    }
  }
}
