import { realpathSync } from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import semverSatisfies from 'semver/functions/satisfies.js';
import { errorMessage } from '../api/errors.js';
import { EventId } from '../api/events.js';
import type { AllowListEntry } from '../policy/allow-list.js';
import { hashPluginFiles } from '../policy/plugin-files.js';

/** Whether the site policy lets a plugin load: the entry that allows it, or the event and reason why not. */
export type AllowListVerdict =
  | { readonly ok: true; readonly entry: AllowListEntry }
  | { readonly ok: false; readonly event: number; readonly reason: string };

/** What is checked of a plugin: its id and version (from its manifest), and its package folder. */
export interface PluginUnderCheck {
  readonly id: string;
  readonly version: string;
  /** The folder of its package.json, links resolved. */
  readonly dir: string;
  /** Its entry module, relative to `dir` (`credroam.main`). */
  readonly main: string;
}

/** How many file names a reason names before it only counts the rest. */
const NAMED_FILES = 3;

/**
 * Checks one plugin against the allow-list of the site policy in force, reading only its files
 * (never importing them): its id is on the list, its version satisfies the range of an entry for
 * that id, and the SHA-256 of every file of its package equals that entry's `files` exactly (a file
 * added, removed or changed refuses it). Several entries may name one id (two versions allowed
 * during a roll-out): any one that matches allows the plugin.
 *
 * Its entry module must be one of the hashed files, named as it is hashed (no link on its way, at
 * the load and again right before the import): what is pinned is then what `import()` reads first. The code that module imports is pinned only as far as it lies among the
 * package's files (its own `node_modules` are not: docs/admin/policy-plugins.md says so).
 *
 * A plugin shipped inside `@credroam/core` (the built-in folder: `builtin/folder/package.json` and
 * an `index.js` that re-exports code compiled into core's `dist/`) is checked the same way, on its
 * own folder: its id, version and those two files are pinned, so a site can forbid or pin it. The
 * code it re-exports is the host's own and is not hashed: a host whose files were changed need not
 * run this check at all, so hashing itself would prove nothing; the installation (root-owned files)
 * is what vouches for it. That holds only in core's own `builtin/` folder: a copy of those files
 * elsewhere re-exports what lies beside it, and is refused. A third-party plugin has no such exemption: its entry module must be one
 * of its package's hashed files.
 *
 * `policy` names the policy in the reasons, e.g. `the site policy (serial 7)`.
 */
export async function checkAllowList(
  list: readonly AllowListEntry[],
  plugin: PluginUnderCheck,
  policy: string,
): Promise<AllowListVerdict> {
  const refused = `not allowed by ${policy}`;
  const entries = list.filter((e) => e.id === plugin.id);
  if (entries.length === 0) {
    return {
      ok: false,
      event: EventId.PluginNotAllowed,
      reason: `${refused}: its id is not on the plugin allow-list`,
    };
  }
  const inRange = entries.filter((e) => semverSatisfies(plugin.version, e.version));
  if (inRange.length === 0) {
    return {
      ok: false,
      event: EventId.PluginVersionNotAllowed,
      reason: `${refused}: version ${plugin.version} is outside the allowed ${entries.map((e) => e.version).join(', ')}`,
    };
  }
  let files: Record<string, string>;
  try {
    files = await hashPluginFiles(plugin.dir);
  } catch (error) {
    return {
      ok: false,
      event: EventId.PluginFilesUncheckable,
      reason: `${refused}: its files cannot be checked: ${errorMessage(error)}`,
    };
  }
  const main = await entryModuleProblem(plugin.dir, plugin.main, files);
  if (main) return { ok: false, event: EventId.PluginFilesUncheckable, reason: `${refused}: ${main}` };
  const copy = await builtInElsewhere(plugin.dir);
  if (copy) return { ok: false, event: EventId.PluginFilesUncheckable, reason: `${refused}: ${copy}` };
  const differences = inRange.map((e) => ({ entry: e, diff: diffFiles(e.files, files) }));
  const match = differences.find((d) => d.diff.count === 0);
  if (match) return { ok: true, entry: match.entry };
  return {
    ok: false,
    event: EventId.PluginFilesDiffer,
    reason: `${refused}: its files differ from the allowed ones: ${describeDifference(differences[0]!.diff)}`,
  };
}

/**
 * Checks again, right before its code is imported, that a plugin's files are still those its
 * entry pins (checked at load, used at a lazy activation, maybe much later): undefined when they
 * are, else the event and reason.
 */
export async function recheckFiles(
  entry: AllowListEntry,
  plugin: Pick<PluginUnderCheck, 'dir' | 'main'>,
  policy: string,
): Promise<{ readonly event: number; readonly reason: string } | undefined> {
  let files: Record<string, string>;
  try {
    files = await hashPluginFiles(plugin.dir);
  } catch (error) {
    return {
      event: EventId.PluginFilesUncheckable,
      reason: `not allowed by ${policy}: its files cannot be checked: ${errorMessage(error)}`,
    };
  }
  // The entry module is checked again too: a link on its way, re-pointed since the load, would
  // make the import read a file the hashes do not cover.
  const main = await entryModuleProblem(plugin.dir, plugin.main, files);
  if (main) return { event: EventId.PluginFilesUncheckable, reason: `not allowed by ${policy}: ${main}` };
  const diff = diffFiles(entry.files, files);
  if (diff.count === 0) return undefined;
  return {
    event: EventId.PluginFilesDiffer,
    reason: `not allowed by ${policy}: its files changed since they were checked: ${describeDifference(diff)}`,
  };
}

/** The files added, removed and changed between the pinned hashes and the found ones. */
export interface FileDifference {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly string[];
  readonly count: number;
}

export function diffFiles(
  pinned: Readonly<Record<string, string>>,
  found: Readonly<Record<string, string>>,
): FileDifference {
  const has = (o: object, k: string) => Object.hasOwn(o, k);
  const added = Object.keys(found)
    .filter((f) => !has(pinned, f))
    .sort();
  const removed = Object.keys(pinned)
    .filter((f) => !has(found, f))
    .sort();
  const changed = Object.keys(found)
    .filter((f) => has(pinned, f) && pinned[f]!.toLowerCase() !== found[f])
    .sort();
  return { added, removed, changed, count: added.length + removed.length + changed.length };
}

/** `changed index.js; added extra.js, more.js; and 4 more`: a few names, then a count. */
export function describeDifference(diff: FileDifference): string {
  const named: string[] = [];
  let left = NAMED_FILES;
  for (const [what, files] of [
    ['changed', diff.changed],
    ['added', diff.added],
    ['removed', diff.removed],
  ] as const) {
    const shown = files.slice(0, left);
    left -= shown.length;
    if (shown.length > 0) named.push(`${what} ${shown.join(', ')}`);
  }
  const rest = diff.count - (NAMED_FILES - left);
  return rest > 0 ? `${named.join('; ')}; and ${rest} more` : named.join('; ');
}

/**
 * Why the entry module is not one of the hashed `files`, as a reason; undefined when it is. It must
 * be named as it is hashed: no link on its way (a link, even to a hashed file, can be re-pointed
 * between the check and the import, and is not itself among the hashed files).
 */
async function entryModuleProblem(
  dir: string,
  main: string,
  files: Readonly<Record<string, string>>,
): Promise<string | undefined> {
  const notShipped =
    `its entry module ${main} is not among the files its package ships ` +
    '(package.json "files"), so the hashes would not cover the code that runs';
  const rel = path.normalize(main);
  if (path.isAbsolute(rel) || rel.startsWith('..')) return notShipped;
  const name = rel.split(path.sep).join('/');
  if (!Object.hasOwn(files, name)) return notShipped;
  try {
    const root = await realpath(dir);
    if ((await realpath(path.join(root, rel))) !== path.join(root, rel))
      return `its entry module ${main} is reached through a link: the hashes would not cover what the import reads`;
  } catch {
    return notShipped;
  }
  return undefined;
}

/** Core's own folder of built-in plugins, links resolved: `builtin/` beside core's `dist/`. */
const CORE_BUILTIN_DIR = (() => {
  try {
    return realpathSync(fileURLToPath(new URL('../../../builtin/', import.meta.url)));
  } catch {
    return undefined;
  }
})();

/**
 * Why a package of a plugin built into core (`@credroam/core-builtin-*`) is not the built-in one:
 * it lies outside core's own `builtin/` folder. Its pinned files are a manifest and an `index.js`
 * that re-exports `../../dist/…`; copied elsewhere, those same two files import whatever lies
 * beside the copy, which no hash covers. Undefined for any other package, or the built-in itself.
 */
async function builtInElsewhere(dir: string): Promise<string | undefined> {
  let name: unknown;
  try {
    name = (JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name;
  } catch {
    return undefined; // hashPluginFiles has read it already; a race is the recheck's to see
  }
  if (typeof name !== 'string' || !name.startsWith('@credroam/core-builtin-')) return undefined;
  const real = await realpath(dir).catch(() => dir);
  const rel = CORE_BUILTIN_DIR === undefined ? '..' : path.relative(CORE_BUILTIN_DIR, real);
  if (rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel)) return undefined;
  return (
    `it is a copy of ${name}, a plugin built into @credroam/core, outside core's own folder ` +
    `(${CORE_BUILTIN_DIR ?? 'not found'}): its entry re-exports code beside the copy that no hash covers`
  );
}
