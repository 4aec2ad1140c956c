import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { CredroamError, LocalStore, type PluginContext } from '@credroam/core/api';
import { configurationValidator } from '@credroam/core/kit';
import type { Pkcs12Api } from '@credroam/plugin-pkcs12';
import { defaultDatabase } from './default-database.js';
import { NssStore } from './nss-store.js';

export { cleanNickname, NssStore, type NssStoreOptions, type Pkcs12Codec } from './nss-store.js';
export { NssTools, type NssToolsOptions, type ToolRun } from './nss-tools.js';

/** The `nss` store's settings in the agent manifest (docs/admin/stores.md). */
export interface NssSettings {
  /** The database folder; `~/` is the user's home. Default: Chromium's (see `defaultDatabase`). */
  readonly database?: string;
  /** A file (owner-only) whose first line is the database's password, for a database that has one. */
  readonly passwordFile?: string;
  /** Create an empty database (no password) where there is none. */
  readonly create: boolean;
}

/** The `localStore.settings` of the nss store: its manifest's `contributes.localStores[0].configuration`. */
export const NSS_SETTINGS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    database: { type: 'string', minLength: 1 },
    passwordFile: { type: 'string', minLength: 1 },
    create: { type: 'boolean', default: true },
  },
} as const;

export { defaultDatabase } from './default-database.js';

const expand = (p: string, home: string) =>
  p === '~' ? home : p.startsWith('~/') ? path.join(home, p.slice(2)) : p;

export function parseSettings(raw: unknown, home = os.homedir()): NssSettings & { database: string } {
  const checked = configurationValidator(NSS_SETTINGS_SCHEMA, '/localStore/settings')(raw);
  if (!checked.ok) {
    throw new CredroamError('E_CONFIG', `the nss store's settings: ${checked.problems.join('; ')}`);
  }
  const s = checked.value as unknown as NssSettings;
  const database = path.resolve(s.database === undefined ? defaultDatabase(home) : expand(s.database, home));
  return {
    database,
    create: s.create,
    ...(s.passwordFile !== undefined ? { passwordFile: path.resolve(expand(s.passwordFile, home)) } : {}),
  };
}

/**
 * The store's own folder for one database, under the endpoint's home: `nss/<sha256 of the
 * database path, 16 digits>` (a mirror of another database gets another).
 */
export function stateDirFor(home: string, database: string): string {
  return path.join(home, 'nss', createHash('sha256').update(database).digest('hex').slice(0, 16));
}

export function activate(context: PluginContext): void {
  const pkcs12 = context.dependency<Pkcs12Api>('credroam.pkcs12');
  context.contribute(LocalStore, 'nss', (request) => {
    const settings = parseSettings(request.settings);
    return new NssStore({
      database: settings.database,
      stateDir: stateDirFor(request.home, settings.database),
      pkcs12,
      create: settings.create,
      ...(settings.passwordFile !== undefined ? { passwordFile: settings.passwordFile } : {}),
      logger: context.logger,
    });
  });
}
