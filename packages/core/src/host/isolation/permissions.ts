import type { CertificateReader } from '../../api/plugin.js';
import type { LocalStore } from '../../api/points/local-store.js';

/**
 * What an isolated plugin may ask for (`credroam.permissions` in its manifest) and the site grants
 * (the allow-list entry's `grants`). Without a permission, a plugin's process reads only its own
 * package and state folders, writes only its state folder, has no network, and its contribution
 * requests carry neither the user's directory store nor the roaming password.
 *
 * | permission          | what it gives                                                              |
 * |---------------------|----------------------------------------------------------------------------|
 * | `network`           | the process keeps the network (else it runs in a network namespace of its own) |
 * | `read:<folder>`     | reads (and watches) an absolute folder and what is under it                |
 * | `write:<folder>`    | reads and writes an absolute folder and what is under it                   |
 * | `directory:read`    | a protector's request carries the user's directory store, read methods only |
 * | `directory:write`   | the same with `write`                                                      |
 * | `password`          | a request carries the roaming password (`request.password`)                |
 * | `localStore:read`   | `context.services.certificates`: the user's certificates, never a key       |
 */

/** The pattern a permission matches; the manifest schema uses it. */
export const PERMISSION_PATTERN =
  '^(network|password|localStore:read|directory:read|directory:write|(read|write):/.*)$';

/**
 * The user's local store as a plugin reads it (`localStore:read`): certificates only, copied; the
 * keys and attributes it holds are never handed over.
 */
export function certificateReader(store: LocalStore): CertificateReader {
  return {
    revision: () => store.revision(),
    certificates: async () =>
      (await store.list()).items
        .filter((item) => item.kind === 'cert')
        .map((item) => ({ ...item, content: new Uint8Array(item.content) })),
  };
}

/** The folders a `read:`/`write:` permission names. */
export function folderGrants(granted: readonly string[]): { read: string[]; write: string[] } {
  const read: string[] = [];
  const write: string[] = [];
  for (const g of granted) {
    if (g.startsWith('read:')) read.push(g.slice('read:'.length));
    if (g.startsWith('write:')) write.push(g.slice('write:'.length));
  }
  return { read, write };
}

/**
 * The permissions `requested` that are not in `granted`, in the manifest's order: a plugin with any
 * is refused before its code is loaded (the site gives exactly what it asks, or it does not run).
 */
export function missingGrants(
  requested: readonly string[],
  granted: readonly string[] | undefined,
): string[] {
  return requested.filter((p) => !(granted ?? []).includes(p));
}
