/**
 * The credroam plugin API: the extension-point interfaces and their DI tokens, the plugin context,
 * disposables, errors and event ids. This is the one module of core that plugins import, first-party
 * and third-party alike; it changes only with care.
 */

/** The content of an `attrs` token: a certificate's friendly name and CA chain. */
export {
  ATTRIBUTE_LIMITS,
  type CredentialAttributes,
  checkCredentialAttributes,
  decodeCredentialAttributes,
  encodeCredentialAttributes,
  friendlyNameProblem,
} from '../engine/attributes.js';
/** What a certificate says, read safely (the engine, the store and the commands all use it). */
export {
  type CertificateDescription,
  type CertificateField,
  describeCertificate,
  opensslTime,
} from '../engine/certificate.js';
export { readFileNoFollow, syncDir, writeFileAtomic } from '../fs/atomic-file.js';
/** Validates settings against a JSON Schema (defaults applied to a copy); problems as `where: what`. */
export { configurationValidator } from '../host/manifest.js';

export * from './disposable.js';
export * from './error-codes.js';
export * from './errors.js';
export * from './events.js';
export * from './extension-points.js';
export * from './plugin.js';
