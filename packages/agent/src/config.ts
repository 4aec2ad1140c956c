import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CredroamError } from '@credroam/core/api';
import type { PluginSpec } from '@credroam/core/host';
import { configurationValidator } from '@credroam/core/schemas';
import { checkMirror } from './mirrors/destinations.js';

/** A contribution the agent uses, and the settings it passes to it. */
export interface Selection {
  readonly use: string;
  readonly settings: Record<string, unknown>;
}

/** The agent manifest: which plugins to load, with what settings, and which contributions to use. */
export interface AgentConfig {
  /** The file it came from; undefined for the built-in default. */
  readonly file: string | undefined;
  readonly user: string;
  /** This endpoint's data: the local store and the sync state. */
  readonly home: string;
  /** The plugins to load: the built-ins as the manifest leaves or changes them, then its own. */
  readonly plugins: readonly PluginSpec[];
  readonly directory: Selection;
  readonly localStore: Selection;
  /**
   * Where else credentials land: the mirrors kept holding what the primary store (`localStore`)
   * holds (Chromium's database, Firefox and Thunderbird profiles, NSS databases, folders of files).
   */
  readonly mirrors: readonly Selection[];
  readonly protector: Selection;
  /** The triggers the agent starts: the default ones as the manifest leaves or changes them, then its own. */
  readonly triggers: readonly Selection[];
  /**
   * The unsigned local policy file, if any (absolute): the manifest's `"policy": "FILE"` form. No
   * site root: a local policy, and plugins unrestricted.
   */
  readonly policy: string | undefined;
  /**
   * The signed site policy: the manifest's `"policy": { root, siteId, sources }` form (issue 12).
   * Undefined with the string form or none (then `/etc/credroam/policy-root.pem`, when it exists,
   * still governs the endpoint: see `loadPolicy`).
   */
  readonly sitePolicy?: SitePolicyConfig;
}

/** Where the signed policy comes from and what it must be signed by. */
export interface SitePolicyConfig {
  /** The PEM file of the site policy root(s) (absolute; default `/etc/credroam/policy-root.pem`). */
  readonly root: string | undefined;
  readonly siteId: string;
  /** The PolicySource contributions to fetch from, in order; the highest valid serial wins. */
  readonly sources: readonly Selection[];
}

/**
 * The built-in plugins, always loaded unless the agent manifest's `plugins` lists one with
 * `"enabled": false`; listing one with `settings` or `required` changes only that.
 */
export const FIRST_PARTY_PLUGINS: readonly PluginSpec[] = [
  { from: '@credroam/core/builtin/folder' },
  { from: '@credroam/plugin-pkcs12' },
  { from: '@credroam/plugin-nss' },
  { from: '@credroam/plugin-ldap' },
  { from: '@credroam/plugin-triggers' },
  { from: '@credroam/core/builtin/policy-file' },
  { from: '@credroam/plugin-policy-https' },
  { from: '@credroam/plugin-enroll-cmp' },
  { from: '@credroam/plugin-enroll-scep' },
];

/** The triggers the agent always starts unless `triggers` lists one with `"enabled": false`. */
export const DEFAULT_TRIGGERS: readonly Selection[] = [
  { use: 'store-watcher', settings: {} },
  { use: 'policy-refresh', settings: {} },
];

const selection = {
  type: 'object',
  required: ['use'],
  additionalProperties: false,
  properties: { use: { type: 'string', minLength: 1 }, settings: { type: 'object', default: {} } },
} as const;

export const AGENT_CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    $schema: { type: 'string' },
    user: { type: 'string', minLength: 1 },
    home: { type: 'string', minLength: 1 },
    plugins: {
      type: 'array',
      items: {
        type: 'object',
        required: ['from'],
        additionalProperties: false,
        properties: {
          from: { type: 'string', minLength: 1 },
          settings: { type: 'object' },
          required: { type: 'boolean' },
          enabled: { type: 'boolean', default: true },
        },
      },
    },
    directory: selection,
    localStore: selection,
    mirrors: { type: 'array', items: selection, default: [] },
    protector: selection,
    triggers: {
      type: 'array',
      items: {
        ...selection,
        properties: { ...selection.properties, enabled: { type: 'boolean', default: true } },
      },
    },
    policy: {
      oneOf: [
        { type: 'string', minLength: 1 },
        {
          type: 'object',
          additionalProperties: false,
          required: ['siteId'],
          properties: {
            root: { type: 'string', minLength: 1 },
            siteId: { type: 'string', minLength: 1 },
            sources: { type: 'array', items: selection, default: [] },
          },
        },
      ],
    },
  },
} as const;

const validate = configurationValidator(AGENT_CONFIG_SCHEMA as unknown as Record<string, unknown>, '');

/** `$XDG_CONFIG_HOME/credroam/config.json`, else `~/.config/credroam/config.json`. */
export function defaultConfigPath(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(base, 'credroam', 'config.json');
}

/** `$XDG_DATA_HOME/credroam`, else `~/.local/share/credroam`. */
export function defaultHome(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return path.join(base, 'credroam');
}

/**
 * Finds and reads the agent manifest: `--config FILE`, else `$CREDROAM_CONFIG`, else the XDG path.
 * A missing file at the XDG path gives the built-in default (first-party plugins, embedded folder
 * directory under `home`); a missing file that was named explicitly is an error.
 */
export async function loadConfig(explicit: string | undefined, env: NodeJS.ProcessEnv): Promise<AgentConfig> {
  const named = explicit ?? (env.CREDROAM_CONFIG || undefined);
  const file = path.resolve(named ?? defaultConfigPath(env));
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || named !== undefined) {
      throw new CredroamError(
        'E_CONFIG',
        `cannot read the agent manifest ${file}: ${(error as Error).message}`,
        {
          file,
        },
      );
    }
  }
  let raw: unknown = {};
  if (text !== undefined) {
    try {
      raw = JSON.parse(text);
    } catch (error) {
      throw new CredroamError('E_CONFIG', `${file} is not valid JSON: ${(error as Error).message}`, { file });
    }
  }
  const checked = validate(raw);
  if (!checked.ok) {
    throw new CredroamError('E_CONFIG', `${file}: ${checked.problems.join('; ')}`, {
      file,
      problems: checked.problems,
    });
  }
  const c = checked.value as Partial<
    Omit<AgentConfig, 'file' | 'plugins' | 'triggers' | 'policy' | 'mirrors'>
  > & {
    mirrors: Selection[];
    policy?: string | { root?: string; siteId: string; sources: Selection[] };
    plugins?: Array<PluginSpec & { enabled: boolean }>;
    triggers?: Array<Selection & { enabled: boolean }>;
  };
  const dir = path.dirname(file);
  const plugins = withDefaults(FIRST_PARTY_PLUGINS, c.plugins ?? [], (p) => p.from, file, 'plugins');
  const triggers = withDefaults(DEFAULT_TRIGGERS, c.triggers ?? [], (t) => t.use, file, 'triggers');
  const home = c.home ? path.resolve(dir, c.home) : defaultHome(env);
  return {
    file: text === undefined ? undefined : file,
    user: c.user ?? os.userInfo().username,
    home,
    plugins,
    directory: c.directory ?? {
      use: 'folder',
      settings: { url: `file://${path.join(home, 'directory')}` },
    },
    localStore: c.localStore ?? { use: 'pkcs12', settings: {} },
    mirrors: c.mirrors.map((m, i) => {
      checkMirror(m, `${file}: /mirrors/${i}`);
      return m;
    }),
    protector: c.protector ?? { use: 'pkcs12', settings: {} },
    triggers,
    policy: typeof c.policy === 'string' ? path.resolve(dir, c.policy) : undefined,
    ...(typeof c.policy === 'object'
      ? {
          sitePolicy: {
            root: c.policy.root ? path.resolve(dir, c.policy.root) : undefined,
            siteId: c.policy.siteId,
            sources: c.policy.sources.map((s) =>
              // A file source's path is relative to the manifest, as the other paths are.
              s.use === 'file' && typeof s.settings.path === 'string'
                ? { ...s, settings: { ...s.settings, path: path.resolve(dir, s.settings.path) } }
                : s,
            ),
          },
        }
      : {}),
  };
}

/**
 * The defaults, each replaced in place by the manifest's entry with the same key (or dropped when
 * that entry says `"enabled": false`), then the manifest's other entries that are enabled, in order.
 * A key listed twice is an error naming it.
 */
function withDefaults<T extends object>(
  defaults: readonly T[],
  entries: ReadonlyArray<T & { enabled: boolean }>,
  key: (entry: T) => string,
  file: string,
  field: string,
): T[] {
  const seen = new Set<string>();
  for (const entry of entries) {
    if (seen.has(key(entry))) {
      throw new CredroamError('E_CONFIG', `${file}: /${field} lists '${key(entry)}' twice`, { file });
    }
    seen.add(key(entry));
  }
  const byKey = new Map(entries.map((e) => [key(e), e]));
  const strip = ({ enabled: _, ...rest }: T & { enabled: boolean }): T => rest as unknown as T;
  const result: T[] = [];
  for (const d of defaults) {
    const entry = byKey.get(key(d));
    if (!entry) result.push(d);
    else if (entry.enabled !== false) result.push(strip(entry));
  }
  const isDefault = new Set(defaults.map(key));
  for (const entry of entries) {
    if (!isDefault.has(key(entry)) && entry.enabled !== false) result.push(strip(entry));
  }
  return result;
}
