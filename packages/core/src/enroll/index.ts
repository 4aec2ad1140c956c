/**
 * `@credroam/core/enroll`: enrollment (R4, R5) for a composition root. Everything here is also
 * exported by `@credroam/core`.
 */
export { readChallenge } from './challenge.js';
export type { EnrollmentDeps, EnrollOptions } from './enrollment-deps.js';
export type { EnrollmentReport, ProfileReport } from './enrollment-report.js';
export {
  type EnrollmentMemory,
  EnrollmentMemoryFile,
  type ProfileMemory,
} from './enrollment-state.js';
export { type HeldCertificate, type ProfileStanding, renewalTime, standingOf } from './evaluate.js';
export { makeKey } from './make-key.js';
export { checkIssuedCertificate, pinnedCertificate } from './pin.js';
export {
  DEFAULT_ENROLLMENT_POLICY,
  ENROLLMENT_POLICY_SCHEMA,
  type EnrollmentKeySpec,
  type EnrollmentPolicy,
  type EnrollmentProfile,
  escapeDnValue,
  fillTemplates,
} from './profile.js';
export { EnrollmentService } from './service.js';
export { encodeEnrollmentToken, enrollmentTokenId, readEnrollmentTokens } from './tokens.js';
