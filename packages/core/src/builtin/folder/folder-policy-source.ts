import { constants, open, stat } from 'node:fs/promises';
import path from 'node:path';
import { CredroamError } from '../../api/errors.js';
import { POLICY_BUNDLE_MAX_BYTES, type PolicySource } from '../../api/extension-points.js';
import { folderError, unreachableRoot } from './folder-access.js';

/** The site's signed policy bundle in the folder directory: beside the users' folders, in the root. */
export const FOLDER_POLICY_FILE = 'policy.p7b';

/**
 * The site's signed policy bundle as the embedded folder directory holds it: `policy.p7b` in the
 * folder directory's root, as an LDAP site entry holds it above the users' entries (the users'
 * own folders are written by their own endpoints: not a place an administrator publishes to).
 *
 * The root is found as the folder directory finds it (missing: the share is not mounted,
 * `E_UNREACHABLE`). The file is opened without following a link and must be a regular file (a
 * FIFO would block, a device would never end); its size is checked on the opened file before
 * anything is read, and no more than the bound plus one byte is ever read (a file that grows while
 * read is refused too). Owner and mode are not checked, as the folder directory checks none on a
 * share: what an endpoint trusts is the bundle's signature, which core verifies, not the file.
 */
export class FolderPolicySource implements PolicySource {
  readonly file: string;

  constructor(readonly root: string) {
    this.file = path.join(root, FOLDER_POLICY_FILE);
  }

  async fetch(): Promise<Uint8Array | undefined> {
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(this.file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return this.#absent();
      if (code === 'ELOOP') throw this.#refused('a link', 'the folder directory never follows links');
      throw new CredroamError(
        'E_POLICY_SOURCE',
        `cannot open the policy bundle ${this.file} (${code}): check that the file is readable by every user`,
        { file: this.file },
      );
    }
    try {
      const st = await handle.stat();
      if (!st.isFile())
        throw this.#refused(st.isDirectory() ? 'a folder' : 'not a regular file', 'nothing was read');
      if (st.size > POLICY_BUNDLE_MAX_BYTES) throw this.#tooLarge(st.size);
      const buffer = Buffer.alloc(POLICY_BUNDLE_MAX_BYTES + 1);
      let length = 0;
      for (;;) {
        const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
        if (bytesRead === 0) break;
        length += bytesRead;
        if (length > POLICY_BUNDLE_MAX_BYTES) throw this.#tooLarge(length, 'grew while it was read, to');
      }
      return new Uint8Array(buffer.subarray(0, length));
    } finally {
      await handle.close();
    }
  }

  /** No file: no bundle, if the root is there; a missing root is an unmounted share (said as the store says it). */
  async #absent(): Promise<undefined> {
    try {
      await stat(this.root);
    } catch (error) {
      throw folderError(unreachableRoot(this.root, String((error as NodeJS.ErrnoException).code)));
    }
    return undefined;
  }

  #refused(what: string, consequence: string): CredroamError {
    return new CredroamError(
      'E_POLICY_SOURCE',
      `the policy bundle ${this.file} is ${what}: ${consequence}. Copy the signed bundle there as a regular file (docs/admin/policy-sources.md)`,
      { file: this.file },
    );
  }

  #tooLarge(size: number, how = 'holds'): CredroamError {
    return new CredroamError(
      'E_POLICY_TOO_LARGE',
      `the policy bundle ${this.file} ${how} ${size} bytes, more than the ${POLICY_BUNDLE_MAX_BYTES} a bundle may: refused, not read. ` +
        'Copy the signed bundle itself (DER) there',
      { file: this.file, bytes: size, maxBytes: POLICY_BUNDLE_MAX_BYTES },
    );
  }
}
