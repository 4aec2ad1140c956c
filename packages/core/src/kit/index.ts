/**
 * `@credroam/core/kit`: helpers for plugin authors, beside the contracts of `@credroam/core/api`.
 * Unlike the API, these are implementations (they import the host's validator, the engine's codecs
 * and Node's file system) and may grow; none needs tsyringe or reflect-metadata.
 */

/** The attributes codec: checks, encodes and decodes `CredentialAttributes` (the type is in the API). */
export {
  ATTRIBUTE_LIMITS,
  checkCredentialAttributes,
  decodeCredentialAttributes,
  encodeCredentialAttributes,
  friendlyNameProblem,
} from '../engine/attributes.js';
/** What a certificate says, read safely (the engine, the stores and the commands all use it). */
export {
  type CertificateDescription,
  type CertificateField,
  certificateKeyId,
  describeCertificate,
  opensslTime,
} from '../engine/certificate.js';
/**
 * The id of a private key (SHA-256 of its SubjectPublicKeyInfo): its one derivation, once per key;
 * `checkedPrivateKeyId` for a key from outside, which OpenSSL must read (decision 029).
 */
export { checkedPrivateKeyId, privateKeyId } from '../engine/key-id.js';
/** Enrollers: certificate subjects, one strict RFC 4514 parser and the DER of the X.501 Name (E_ENROLL_PROFILE when refused is the enroller's call). */
export {
  type AttributeTypeAndValue,
  distinguishedNameDer,
  type ParsedDistinguishedName,
  parseDistinguishedName,
  type RelativeDistinguishedName,
} from '../enroll/distinguished-name.js';
/** Enrollers: the pinned CA certificate among those a CA sent, and the check that an issued certificate is for our key and signed by it (E_ENROLL_CA_MISMATCH). */
export { checkIssuedCertificate, pinnedCertificate } from '../enroll/pin.js';
/** Files written atomically (write, fsync, rename), owner-only; read without following links. */
export {
  AtomicWriteBatch,
  RefusedFileError,
  readFileNoFollow,
  syncDir,
  TEMPORARY_NAME,
  writeFileAtomic,
} from '../fs/atomic-file.js';
/** Validates settings against a JSON Schema (defaults applied to a copy); problems as `where: what`. */
export { configurationValidator } from '../host/manifest.js';
/** Text from outside (a file name, a server's message, a certificate's name) made safe to show and log. */
export { printable } from '../text/printable.js';
