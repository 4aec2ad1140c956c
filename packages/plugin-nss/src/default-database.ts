import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Chromium's database: `~/.local/share/pki/nssdb` when it exists (Chromium 146 and later), else
 * `~/.pki/nssdb` (where earlier versions made it, and where later ones still read it).
 *
 * Its own module and entry (`@credroam/plugin-nss/default-database`): the agent reads it when it
 * loads its manifest (a `chromium` mirror), before any command needs the store itself.
 */
export function defaultDatabase(home = os.homedir()): string {
  const xdg = path.join(home, '.local', 'share', 'pki', 'nssdb');
  return existsSync(xdg) ? xdg : path.join(home, '.pki', 'nssdb');
}
