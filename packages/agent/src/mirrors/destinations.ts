import os from 'node:os';
import path from 'node:path';
import { CredroamError } from '@credroam/core/api';
import { configurationValidator } from '@credroam/core/schemas';
import type { Selection } from '../config.js';
import { chromiumDatabase, discoverProfiles, type MozillaApp } from './profiles.js';

/** One place credentials land: the primary store, or a mirror the agent manifest names. */
export type Destination =
  | {
      readonly kind: 'nss';
      /** What the manifest named: `chromium`, `firefox`, `thunderbird` or `nss`. */
      readonly from: string;
      /** A profile's name (Firefox, Thunderbird). */
      readonly profile?: string;
      readonly database: string;
      readonly passwordFile?: string;
    }
  | {
      readonly kind: 'files';
      readonly from: 'pem-folder';
      readonly folder: string;
      readonly format: 'pem' | 'pkcs12';
      readonly passwordFile?: string;
    };

/** The stable name of a destination: its state file's key, and what `status` and events name. */
export const destinationId = (d: Destination): string =>
  d.kind === 'nss' ? `nss:${d.database}` : `files:${d.folder}`;

/** The mirrors' settings, by `use` (docs/admin/stores.md). */
const SCHEMAS: Record<string, Record<string, unknown>> = {
  chromium: { type: 'object', additionalProperties: false, properties: {} },
  firefox: { type: 'object', additionalProperties: false, properties: {} },
  thunderbird: { type: 'object', additionalProperties: false, properties: {} },
  nss: {
    type: 'object',
    additionalProperties: false,
    required: ['database'],
    properties: {
      database: { type: 'string', minLength: 1 },
      passwordFile: { type: 'string', minLength: 1 },
    },
  },
  'pem-folder': {
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: {
      path: { type: 'string', minLength: 1 },
      format: { enum: ['pem', 'pkcs12'], default: 'pem' },
      passwordFile: { type: 'string', minLength: 1 },
    },
  },
};

export const MIRROR_KINDS = Object.keys(SCHEMAS);

const expand = (p: string, home: string) =>
  path.resolve(p === '~' ? home : p.startsWith('~/') ? path.join(home, p.slice(2)) : p);

/** Checks one mirror's settings (at manifest load: a wrong one is an error naming it). */
export function checkMirror(m: Selection, where: string): void {
  const schema = SCHEMAS[m.use];
  if (!schema) {
    throw new CredroamError(
      'E_CONFIG',
      `${where}/use: '${m.use}' is not a mirror (one of ${MIRROR_KINDS.join(', ')})`,
    );
  }
  const checked = configurationValidator(schema, `${where}/settings`)(m.settings);
  if (!checked.ok) throw new CredroamError('E_CONFIG', checked.problems.join('; '));
}

/**
 * The destinations the manifest's mirrors name on this endpoint, as the applications find them:
 * Chromium's database, every Firefox and Thunderbird profile (`profiles.ini`, `installs.ini`),
 * named NSS databases and folders. Each once; none that is the primary store's own database.
 */
export function resolveMirrors(
  mirrors: readonly Selection[],
  options: { readonly home?: string; readonly primaryDatabase?: string } = {},
): Destination[] {
  const home = options.home ?? os.homedir();
  const out = new Map<string, Destination>();
  const add = (d: Destination) => {
    if (d.kind === 'nss' && d.database === options.primaryDatabase) return;
    if (!out.has(destinationId(d))) out.set(destinationId(d), d);
  };
  for (const m of mirrors) {
    const s =
      (configurationValidator(SCHEMAS[m.use] ?? {}, '')(m.settings) as { value?: Record<string, string> })
        .value ?? {};
    const passwordFile = s.passwordFile ? { passwordFile: expand(s.passwordFile, home) } : {};
    switch (m.use) {
      case 'chromium':
        add({ kind: 'nss', from: 'chromium', database: chromiumDatabase(home) });
        break;
      case 'firefox':
      case 'thunderbird':
        for (const p of discoverProfiles(home, m.use as MozillaApp)) {
          add({ kind: 'nss', from: m.use, profile: p.name, database: p.folder });
        }
        break;
      case 'nss':
        add({ kind: 'nss', from: 'nss', database: expand(String(s.database), home), ...passwordFile });
        break;
      case 'pem-folder':
        add({
          kind: 'files',
          from: 'pem-folder',
          folder: expand(String(s.path), home),
          format: s.format === 'pkcs12' ? 'pkcs12' : 'pem',
          ...passwordFile,
        });
        break;
    }
  }
  return [...out.values()];
}

/** A destination in words: `firefox profile default-esr (/home/…/cert9.db)`. */
export function describeDestination(d: Destination): string {
  if (d.kind === 'files') return `${d.format} files in ${d.folder}`;
  const what = d.profile !== undefined ? `${d.from} profile ${d.profile}` : `${d.from} database`;
  return `${what} (${d.database})`;
}
