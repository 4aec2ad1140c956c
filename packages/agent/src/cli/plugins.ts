import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventLog, nodeModulesAbove, PluginHost, type PluginInfo } from '@credroam/core';
import type { AgentConfig } from '../config.js';

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

/** Builds the plugin host the agent manifest describes (loaded, not yet started). */
export async function createHost(config: AgentConfig, log: EventLog): Promise<PluginHost> {
  const host = new PluginHost({
    log,
    stateRoot: path.join(config.home, 'plugins'),
    nodeModules: pluginFolders(config),
    // A path in `from` is relative to the agent manifest's folder.
    baseDir: config.file ? path.dirname(config.file) : process.cwd(),
  });
  await host.load(config.plugins);
  return host;
}

/** `plugins list` as text: one block per plugin. */
export function formatPluginList(plugins: readonly PluginInfo[]): string {
  const lines: string[] = [];
  for (const p of plugins) {
    lines.push(`${p.id} ${p.version ?? '?'}  ${p.state}${p.required ? ' (required)' : ''}`);
    if (p.reason) lines.push(`  reason: ${p.reason}`);
    for (const [point, ids] of Object.entries(p.contributes)) lines.push(`  ${point}: ${ids.join(', ')}`);
    if (p.dependencies.length > 0) lines.push(`  depends on: ${p.dependencies.join(', ')}`);
    lines.push(`  from: ${p.from}`);
  }
  return `${lines.join('\n')}\n`;
}
