import type { PluginContext } from '@credroam/core/api';

/**
 * Activation. The manifest declares this plugin's contributions; their implementations arrive with
 * the plugin's own issue. Until then a request for one is refused by the host with a clear error
 * ("declares ... but did not provide it"), never answered by a stub.
 */
export function activate(_context: PluginContext): void {}
