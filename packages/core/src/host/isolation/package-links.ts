import { lstat, readdir, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { CredroamError } from '../../api/errors.js';

/** Entries walked in one package folder before it is refused (a package with its modules is thousands). */
const MAX_ENTRIES = 100_000;

const inside = (root: string, p: string) => p === root || p.startsWith(`${root}${path.sep}`);

/**
 * Refuses (E_PLUGIN_SANDBOX) a plugin package folder that holds a link leading out of it, anywhere
 * (its `node_modules` and the files its manifest does not ship included: the hashes cover neither).
 * An isolated plugin's process reads its whole package folder, and Node's permission model follows
 * links "even to locations outside of the set of paths that access has been granted to" (its
 * documentation): a link `node_modules/x → ~/.local/share/credroam` would hand it the key store. A
 * link inside the folder, to what is inside it, is kept; a dangling one is judged by where it points.
 */
export async function refuseLinksLeaving(dir: string): Promise<void> {
  const root = await realpath(dir);
  let entries = 0;
  const walk = async (folder: string): Promise<void> => {
    for (const name of await readdir(folder)) {
      if (++entries > MAX_ENTRIES) {
        throw new CredroamError(
          'E_PLUGIN_SANDBOX',
          `its package folder ${root} holds more than ${MAX_ENTRIES} entries: too many to check for links`,
          { dir: root },
        );
      }
      const abs = path.join(folder, name);
      const st = await lstat(abs);
      if (st.isSymbolicLink()) {
        const named = path.resolve(folder, await readlink(abs));
        const real = await realpath(abs).catch(() => named);
        if (!inside(root, named) || !inside(root, real)) {
          throw new CredroamError(
            'E_PLUGIN_SANDBOX',
            `its package folder holds a link leading out of it (${abs} → ${real}): its process would read what the link reaches`,
            { dir: root, file: abs },
          );
        }
      } else if (st.isDirectory()) {
        await walk(abs);
      }
    }
  };
  await walk(root);
}
