import type { PluginContext } from '../../api/index.js';

/**
 * The built-in folder directory plugin. Loaded through its manifest like any third-party plugin.
 * Its DirectoryStore arrives with the roaming engine; until then it provides nothing, and asking
 * for it is a clear error from the host.
 */
export function activate(_context: PluginContext): void {}
