import path from 'node:path';
import { CredroamError, type PluginContext, Trigger } from '@credroam/core/api';
import { configurationValidator } from '@credroam/core/kit';
import { PolicyRefresh } from './policy-refresh.js';
import { SessionEvents, sessionPathFor } from './session-events.js';
import { StoreWatcher } from './store-watcher.js';

export { PolicyRefresh, type PolicyRefreshOptions } from './policy-refresh.js';
export { SessionEvents, type SessionEventsOptions, sessionPathFor } from './session-events.js';
export { StoreWatcher, type StoreWatcherOptions } from './store-watcher.js';

function settings<T>(raw: unknown, schema: Record<string, unknown>, where: string): T {
  const checked = configurationValidator(schema, where)(raw);
  if (!checked.ok)
    throw new CredroamError('E_CONFIG', `invalid trigger settings: ${checked.problems.join('; ')}`);
  return checked.value as T;
}

export function activate(context: PluginContext): void {
  context.contribute(Trigger, 'store-watcher', (request) => {
    const s = settings<{ path?: string; debounceMs: number }>(
      request.settings,
      {
        type: 'object',
        additionalProperties: false,
        properties: {
          path: { type: 'string' },
          debounceMs: { type: 'integer', minimum: 0, maximum: 60_000, default: 200 },
        },
      },
      '/triggers/store-watcher/settings',
    );
    return new StoreWatcher({ path: s.path ?? path.join(request.home, 'store'), debounceMs: s.debounceMs });
  });
  context.contribute(Trigger, 'session', (request) => {
    const s = settings<{ busAddress?: string; sessionPath?: string; sessionId?: string }>(
      request.settings,
      {
        type: 'object',
        additionalProperties: false,
        properties: {
          busAddress: { type: 'string' },
          sessionPath: { type: 'string' },
          sessionId: { type: 'string' },
        },
      },
      '/triggers/session/settings',
    );
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
