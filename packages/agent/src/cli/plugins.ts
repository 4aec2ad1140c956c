import path from 'node:path';
import { EventLog, PluginHost, type PluginInfo } from '@credroam/core';
import type { AgentConfig } from '../config.js';

/** Builds the plugin host the agent manifest describes (loaded, not yet started). */
export async function createHost(config: AgentConfig, log: EventLog): Promise<PluginHost> {
  const host = new PluginHost({
    log,
    stateRoot: path.join(config.home, 'plugins'),
    resolveFrom: import.meta.url,
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
