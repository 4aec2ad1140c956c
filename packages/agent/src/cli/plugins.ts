import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PluginAllowList } from '@credroam/core';
import {
  type EventLog,
  nodeModulesAbove,
  PluginHost,
  type PluginHostOptions,
  type PluginInfo,
} from '@credroam/core/host';
import type { AgentConfig } from '../config.js';
import { terminalLine } from './io.js';

/**
 * Where a plugin named by package name (`"from": "@example/credroam-vault"`) is looked up, in
 * order: the node_modules folders of the agent's own installation, nearest first (the built-ins
 * are there, and so is a plugin installed beside the agent or with `npm install -g`), then the
 * node_modules folder beside the agent manifest. The first that holds the package wins: a plugin
 * beside the manifest never replaces one installed with the agent.
 */
export function pluginFolders(config: Pick<AgentConfig, 'file'>): string[] {
  const agent = nodeModulesAbove(path.dirname(fileURLToPath(import.meta.url)));
  return config.file ? [...agent, path.join(path.dirname(config.file), 'node_modules')] : agent;
}

/** The site policy a plugin host obeys: its plugin allow-list and the serial of its bundle. */
export interface HostPolicy {
  /** `undefined`: no bundle installed, every configured plugin may load. */
  readonly allowList?: PluginAllowList;
  readonly policySerial?: number;
}

/**
 * Builds the plugin host the agent manifest describes (loaded, not yet started). `policy`: the
 * allow-list of the signed site policy in force, which every plugin is checked against before its
 * code is imported (none given: no policy, every configured plugin may load).
 */
export async function createHost(
  config: AgentConfig,
  log: EventLog,
  policy: HostPolicy = {},
  services?: PluginHostOptions['services'],
): Promise<PluginHost> {
  const host = new PluginHost({
    log,
    stateRoot: path.join(config.home, 'plugins'),
    nodeModules: pluginFolders(config),
    // A path in `from` is relative to the agent manifest's folder.
    baseDir: config.file ? path.dirname(config.file) : process.cwd(),
    allowList: policy.allowList,
    ...(policy.policySerial !== undefined ? { policySerial: policy.policySerial } : {}),
    // Out of process, with only what the site grants, once a site policy governs the endpoint
    // (docs/plugins/isolation.md). Without one, plugins are unrestricted and run in process, as
    // docs/admin/policy.md says: nobody has said what a plugin may be given.
    ...(policy.allowList === undefined ? { isolation: false as const } : {}),
    ...(services ? { services } : {}),
  });
  await host.load(config.plugins);
  return host;
}

/** What `plugins list --json` says of the site policy: whether one is in force, in one line. */
export interface SitePolicySummary {
  readonly state: 'none' | 'enforced';
  readonly serial?: number;
  readonly summary: string;
}

export const NO_SITE_POLICY = 'no site policy: every configured plugin may load';

/** The site policy line of `plugins list`: none, or its serial and how many plugins it allows. */
export function sitePolicySummary(host: PluginHost, plugins: readonly PluginInfo[]): SitePolicySummary {
  const state = host.allowListState();
  if (state.state === 'none') return { state: 'none', summary: NO_SITE_POLICY };
  const allowed = plugins.filter((p) => p.policy === 'allowed').length;
  const refused = plugins.filter((p) => p.policy === 'refused').length;
  const name = state.serial === undefined ? 'site policy' : `site policy (serial ${state.serial})`;
  return {
    state: 'enforced',
    ...(state.serial !== undefined ? { serial: state.serial } : {}),
    summary: `${name}: only the plugins on its allow-list may load; ${allowed} allowed, ${refused} refused`,
  };
}

/** `plugins list` as text: the site policy line, then one block per plugin. */
export function formatPluginList(plugins: readonly PluginInfo[], sitePolicy?: SitePolicySummary): string {
  const lines: string[] = sitePolicy ? [sitePolicy.summary] : [];
  for (const p of plugins) {
    lines.push(`${p.id} ${p.version ?? '?'}  ${p.state}${p.required ? ' (required)' : ''}`);
    if (p.policy) lines.push(`  site policy: ${p.policy}`);
    if (p.isolated) {
      const granted = p.isolated.granted.length > 0 ? p.isolated.granted.join(', ') : 'nothing';
      lines.push(`  runs: out of process, granted ${granted} (docs/plugins/isolation.md)`);
    }
    // A plugin's own message (an isolated one's too): on one line, nothing a terminal acts on.
    if (p.reason) lines.push(`  reason: ${terminalLine(p.reason)}`);
    for (const [point, ids] of Object.entries(p.contributes)) lines.push(`  ${point}: ${ids.join(', ')}`);
    if (p.dependencies.length > 0) lines.push(`  depends on: ${p.dependencies.join(', ')}`);
    lines.push(`  from: ${p.from}`);
  }
  return `${lines.join('\n')}\n`;
}
