import { DirectoryStore } from './points/directory-store.js';
import { Enroller } from './points/enroller.js';
import { LocalStore } from './points/local-store.js';
import { PolicySource } from './points/policy-source.js';
import { TokenProtector } from './points/token-protector.js';
import { Trigger } from './points/trigger.js';

export type { ContributionFactory, ContributionRequest } from './contribution.js';
export * from './points/directory-store.js';
export * from './points/enroller.js';
export * from './points/extension-point.js';
export * from './points/local-store.js';
export * from './points/policy-source.js';
export * from './points/token-protector.js';
export * from './points/trigger.js';
export * from './token-kind.js';

/**
 * The extension points: the one table that the manifest schema (`contributes.<manifestKey>`), the
 * activation events (`<event>:<contribution id>`), the host and the table in
 * docs/plugins/authoring.md (a test keeps it equal) all follow. A new point is one file under
 * `points/` and one row here.
 */
export const EXTENSION_POINTS = [
  { token: LocalStore, name: 'LocalStore', manifestKey: 'localStores', event: 'onLocalStore' },
  { token: DirectoryStore, name: 'DirectoryStore', manifestKey: 'directoryStores', event: 'onDirectory' },
  {
    token: TokenProtector,
    name: 'TokenProtector',
    manifestKey: 'tokenProtectors',
    event: 'onTokenProtector',
  },
  { token: Trigger, name: 'Trigger', manifestKey: 'triggers', event: 'onTrigger' },
  { token: PolicySource, name: 'PolicySource', manifestKey: 'policySources', event: 'onPolicySource' },
  { token: Enroller, name: 'Enroller', manifestKey: 'enrollers', event: 'onEnroller' },
] as const;

export type ExtensionPointInfo = (typeof EXTENSION_POINTS)[number];
export type ManifestContributionKey = ExtensionPointInfo['manifestKey'];

/** The table's row for a token; throws `TypeError` for a symbol that is not an extension point's. */
export function extensionPointInfo(point: symbol): ExtensionPointInfo {
  const info = EXTENSION_POINTS.find((p) => p.token === point);
  if (!info) throw new TypeError(`not a credroam extension point: ${String(point)}`);
  return info;
}
