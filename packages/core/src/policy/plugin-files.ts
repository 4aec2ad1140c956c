import { createHash } from 'node:crypto';
import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { CredroamError } from '../api/errors.js';

/** Files one plugin package may hold before hashing it is refused (a package is tens of files). */
const MAX_FILES = 10_000;

/**
 * The SHA-256 of every file of a plugin package, by path relative to `dir` (`/`-separated, sorted
 * by path): what an allow-list entry of a signed policy bundle pins (issue 12), as Grafana signs
 * its plugins' files. The files are those `npm pack` would ship: `package.json` and whatever its
 * `files` field names (every file under a named folder), or, without a `files` field, every file
 * but `node_modules`. A link anywhere is refused (`E_PLUGIN_FILES`): what is hashed must be what is
 * imported, and a link could point anywhere later.
 */
export async function hashPluginFiles(dir: string): Promise<Record<string, string>> {
  const root = path.resolve(dir);
  let manifest: { files?: unknown };
  try {
    manifest = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { files?: unknown };
  } catch (error) {
    throw new CredroamError(
      'E_PLUGIN_FILES',
      `${root} has no readable package.json: ${(error as Error).message}`,
      {
        dir: root,
      },
    );
  }
  const named = Array.isArray(manifest.files)
    ? manifest.files.filter((f) => typeof f === 'string')
    : undefined;
  const found = new Set<string>(['package.json']);
  const walk = async (rel: string): Promise<void> => {
    const abs = path.join(root, rel);
    const st = await lstat(abs).catch(() => undefined);
    if (!st) return;
    if (st.isSymbolicLink()) {
      throw new CredroamError('E_PLUGIN_FILES', `${abs} is a link: a plugin's files must be its own`, {
        file: abs,
      });
    }
    if (st.isFile()) {
      found.add(rel.split(path.sep).join('/'));
    } else if (st.isDirectory()) {
      for (const name of (await readdir(abs)).sort()) {
        if (!named && rel === '' && name === 'node_modules') continue;
        await walk(rel === '' ? name : path.join(rel, name));
      }
    }
    if (found.size > MAX_FILES) {
      throw new CredroamError('E_PLUGIN_FILES', `${root} holds more than ${MAX_FILES} files`, { dir: root });
    }
  };
  if (named) {
    for (const entry of named) {
      const rel = path.normalize(entry as string);
      if (path.isAbsolute(rel) || rel.startsWith('..')) {
        throw new CredroamError(
          'E_PLUGIN_FILES',
          `package.json "files" names ${entry}, outside the package`,
          {
            dir: root,
          },
        );
      }
      // The folders on the way to what it names: lstat of the entry follows them.
      const parts = rel.split(path.sep);
      for (let i = 1; i < parts.length; i++) {
        const abs = path.join(root, ...parts.slice(0, i));
        if ((await lstat(abs).catch(() => undefined))?.isSymbolicLink())
          throw new CredroamError('E_PLUGIN_FILES', `${abs} is a link: a plugin's files must be its own`, {
            file: abs,
          });
      }
      await walk(rel);
    }
  } else {
    await walk('');
  }
  const hashes: Record<string, string> = {};
  for (const rel of [...found].sort()) {
    // Defined, not assigned: a file named `__proto__` would otherwise hit Object.prototype's setter.
    Object.defineProperty(hashes, rel, {
      value: createHash('sha256')
        .update(await readFile(path.join(root, rel)))
        .digest('hex'),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return hashes;
}
