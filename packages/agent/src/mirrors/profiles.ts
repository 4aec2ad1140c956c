import { closeSync, constants, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import path from 'node:path';

/** The sections of an INI file (`profiles.ini`, `installs.ini`): name → key → value. */
export function parseIni(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (current && eq > 0) current.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return sections;
}

/** The largest `profiles.ini` or `installs.ini` read: a real one is a few hundred bytes. */
const MAX_INI_BYTES = 1024 * 1024;

/**
 * An INI file's text, or undefined when it is not a regular file of at most MAX_INI_BYTES: opened
 * without following a link and without blocking (a FIFO there would stop the agent for ever: the
 * discovery is synchronous), checked through the open descriptor, never more than the bound read.
 */
export function readIniFile(file: string): string | undefined {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > MAX_INI_BYTES) return undefined;
    const buffer = Buffer.alloc(MAX_INI_BYTES + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, length);
      if (n === 0) break;
      length += n;
      if (length > MAX_INI_BYTES) return undefined;
    }
    return buffer.subarray(0, length).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** The Mozilla applications whose profiles hold an NSS database each. */
export type MozillaApp = 'firefox' | 'thunderbird';

/** Where each application keeps `profiles.ini`, under the user's home (as the programs look for it on Linux). */
export const PROFILE_ROOTS: Readonly<Record<MozillaApp, readonly string[]>> = {
  firefox: ['.mozilla/firefox'],
  thunderbird: ['.thunderbird'],
};

/** One profile: its name in `profiles.ini` and its folder. */
export interface Profile {
  readonly app: MozillaApp;
  readonly name: string;
  readonly folder: string;
}

/**
 * The profiles of one application, as it finds them: each `[Profile*]` section of `profiles.ini`
 * (`Path=`, relative to the ini's folder when `IsRelative=1`), and each `[Install*]` section's
 * `Default=` of `installs.ini` and `profiles.ini` (the profile an installation uses, relative to
 * the ini's folder). Only profiles whose folder exists; each folder once.
 */
export function discoverProfiles(home: string, app: MozillaApp): Profile[] {
  const found = new Map<string, Profile>();
  for (const rel of PROFILE_ROOTS[app]) {
    const root = path.join(home, rel);
    const add = (name: string, p: string, relative: boolean) => {
      const folder = path.resolve(relative ? path.join(root, p) : p);
      if (!found.has(folder) && existsSync(folder)) found.set(folder, { app, name, folder });
    };
    for (const file of ['profiles.ini', 'installs.ini']) {
      let text: string;
      try {
        const read = readIniFile(path.join(root, file));
        if (read === undefined) continue;
        text = read;
      } catch {
        continue;
      }
      for (const [section, keys] of parseIni(text)) {
        if (section.startsWith('Profile') && keys.has('Path')) {
          add(
            keys.get('Name') ?? path.basename(keys.get('Path')!),
            keys.get('Path')!,
            keys.get('IsRelative') !== '0',
          );
        } else if ((section.startsWith('Install') || file === 'installs.ini') && keys.has('Default')) {
          // installs.ini names the profile an installation uses, always relative to the root.
          add(path.basename(keys.get('Default')!), keys.get('Default')!, true);
        }
      }
    }
  }
  return [...found.values()];
}

/** Chromium's database: the nss store's own rule (`~/.local/share/pki/nssdb` when it exists, else `~/.pki/nssdb`). */
export { defaultDatabase as chromiumDatabase } from '@credroam/plugin-nss/default-database';
