/**
 * The credroam plugin API: contracts only. The extension-point interfaces and their tokens (one
 * file each under `points/`, and the one table of them), the plugin context and module, the
 * manifest types, disposables, errors and event ids, and `API_VERSION`, which plugins'
 * `engines.credroam` is checked against. It imports nothing from the host, the engine or the file
 * helpers, and no dependency-injection library: a plugin needs neither tsyringe nor
 * reflect-metadata. Helpers for plugin authors (settings validation, atomic files, certificate
 * reading, the attributes codec) are in `@credroam/core/kit`.
 *
 * Its public surface is recorded in packages/core/api-report.md; a test fails when it changes
 * (`pnpm api-report` rewrites it). It changes only with care.
 */

export type { CredentialAttributes } from './attributes.js';
export * from './contribution.js';
export * from './disposable.js';
export * from './error-codes.js';
export * from './errors.js';
export * from './events.js';
export * from './extension-points.js';
export * from './manifest.js';
export * from './plugin.js';
export * from './version.js';
