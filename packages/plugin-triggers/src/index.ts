import path from 'node:path';
import { type PluginContext, Trigger } from '@credroam/core/api';
import { PolicyRefresh } from './policy-refresh.js';
import { SessionEvents, sessionPathFor } from './session-events.js';
import { StoreWatcher } from './store-watcher.js';

export { PolicyRefresh, type PolicyRefreshOptions } from './policy-refresh.js';
export { SessionEvents, type SessionEventsOptions, sessionPathFor } from './session-events.js';
export { StoreWatcher, type StoreWatcherOptions } from './store-watcher.js';

/**
 * Each trigger's settings are checked by the host against the `configuration` schema of its entry
 * in this package's manifest (`contributes.triggers`), defaults applied, before its factory runs:
 * the factories read them as given.
 */
export function activate(context: PluginContext): void {
  context.contribute(Trigger, 'store-watcher', (request) => {
    const s = request.settings as { path?: string; debounceMs: number };
    return new StoreWatcher({ path: s.path ?? path.join(request.home, 'store'), debounceMs: s.debounceMs });
  });
  context.contribute(Trigger, 'session', (request) => {
    const s = request.settings as { busAddress?: string; sessionPath?: string; sessionId?: string };
    const id = s.sessionId ?? process.env.XDG_SESSION_ID;
    return new SessionEvents({
      ...(s.busAddress ? { busAddress: s.busAddress } : {}),
      ...(s.sessionPath ? { sessionPath: s.sessionPath } : id ? { sessionPath: sessionPathFor(id) } : {}),
    });
  });
  context.contribute(Trigger, 'policy-refresh', (request) => {
    // Read at each scheduling: a refreshed policy's interval applies from the next refresh on.
    const p = request.policy as { refreshIntervalMinutes?: number; refreshRandomMinutes?: number };
    return new PolicyRefresh({
      get intervalMinutes() {
        return p.refreshIntervalMinutes ?? 90;
      },
      get randomMinutes() {
        return p.refreshRandomMinutes ?? 30;
      },
    });
  });
}
