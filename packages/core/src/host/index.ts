/**
 * `@credroam/core/host`: the plugin host and what a composition root needs to run it (manifests,
 * their schemas and the validators compiled ahead of time, the event log, the core version),
 * without the engine, enrollment or policy bundles: a command that only loads plugins, reads an
 * agent manifest or prints the version imports this, not `@credroam/core` (decision 024).
 * Everything here is also exported by `@credroam/core`.
 */
export { EventLog, type EventLogOptions } from '../events/event-log.js';
export { CORE_VERSION } from '../version.js';
export { type DependencyNode, type DependencyResolution, resolveDependencies } from './dependencies.js';
export {
  configurationValidator,
  describeSchemaErrors,
  MANIFEST_SCHEMA,
  type ManifestResult,
  NO_CONFIGURATION_SCHEMA,
  parseManifest,
} from './manifest.js';
export {
  type AllowListState,
  type IsolationOptions,
  nodeModulesAbove,
  PluginHost,
  type PluginHostOptions,
  type PluginInfo,
  type PluginSpec,
  type PluginState,
} from './plugin-host.js';
export {
  compileSchema,
  registerCompiledValidators,
  SCHEMA_OPTIONS,
  type SchemaValidateFunction,
  schemaKey,
  schemasCompiledAtRunTime,
} from './schema-validators.js';
export { withTimeout } from './timebox.js';
