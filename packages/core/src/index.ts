import 'reflect-metadata';

export * from './api/index.js';
export { EventLog, type EventLogOptions } from './events/event-log.js';
export { type DependencyNode, type DependencyResolution, resolveDependencies } from './host/dependencies.js';
export { checkInjection } from './host/injection-check.js';
export {
  type ContributionDeclaration,
  type Contributions,
  configurationValidator,
  describeSchemaErrors,
  MANIFEST_SCHEMA,
  type ManifestResult,
  type PluginManifest,
  parseManifest,
} from './host/manifest.js';
export {
  PluginHost,
  type PluginHostOptions,
  type PluginInfo,
  type PluginSpec,
  type PluginState,
} from './host/plugin-host.js';
export { withTimeout } from './host/timebox.js';
export { CORE_VERSION } from './version.js';
