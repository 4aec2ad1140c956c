import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeModulesAbove } from '../plugin-host.js';

/** Where a plugin runs and what its process reads of the host (docs/plugins/isolation.md). */

const RUNNER_DIR = path.dirname(fileURLToPath(import.meta.url));

/**
 * What an isolated plugin's process may read of the host: core's package folder (the runner and the
 * plugin API are in it; public code, no state), under its real path and under the path the plugin
 * finds it by (`node_modules/@credroam/core`, often a link): Node's permission model checks the path
 * as given, and module resolution stats the package folder itself, so the folder must be granted
 * whole (a folder grants what is under it).
 */
export function hostReads(pluginDir: string, core: string | undefined): string[] {
  const reads = core ? [core] : [path.dirname(path.dirname(RUNNER_DIR))];
  for (const folder of nodeModulesAbove(pluginDir)) {
    const found = path.join(folder, '@credroam', 'core');
    if (existsSync(path.join(found, 'package.json'))) {
      if (!reads.includes(found)) reads.push(found);
      break;
    }
  }
  return reads;
}

/**
 * First-party: an `@credroam/` package that lies beside core (its workspace's `packages/`, or the
 * `node_modules/@credroam/` core is installed in) or inside it (the built-ins). A package that only
 * takes the name elsewhere is third-party.
 */
export function isFirstParty(packageName: string, dir: string, core: string | undefined): boolean {
  if (!packageName.startsWith('@credroam/') || !core) return false;
  const inside = (parent: string) => dir === parent || dir.startsWith(`${parent}${path.sep}`);
  return inside(core) || path.dirname(dir) === path.dirname(core);
}

/** The delay before restart `n` (1, 2, …): `restartDelayMs` doubled each time, at most `maxRestartDelayMs`. */
export function restartDelay(
  n: number,
  options: { readonly restartDelayMs?: number; readonly maxRestartDelayMs?: number },
): number {
  return Math.min((options.restartDelayMs ?? 1_000) * 2 ** (n - 1), options.maxRestartDelayMs ?? 30_000);
}
