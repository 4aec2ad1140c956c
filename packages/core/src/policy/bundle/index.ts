export {
  type AcceptedBundleRecord,
  type AcceptedRecordRead,
  policyFolder,
  readAcceptedRecord,
  writeAcceptedRecord,
} from './accepted-record.js';
export { canonicalJson, MAX_JSON_DEPTH, parseBoundedJson } from './canonical-json.js';
export {
  POLICY_CHECKS,
  type PolicyCheck,
  type PolicyCheckName,
  REFUSED_EVENT,
  refusalEvent,
} from './checks.js';
export { fingerprintOf } from './cms.js';
export {
  type CheckedPolicyBundle,
  checkPolicyBundleDocument,
  POLICY_BUNDLE_SCHEMA,
  type PolicyBundleDocument,
} from './document.js';
export { POLICY_SIGNING_EKU } from './eku.js';
export * from './roots.js';
export { certificatesOfPem, type PolicySigner, signPolicyBundle } from './sign.js';
export * from './site-policy.js';
export {
  type AcceptedBundleRef,
  ISSUED_AT_SKEW_MS,
  MAX_BUNDLE_CERTIFICATES,
  type PolicyVerification,
  type VerifiedPolicyBundle,
  type VerifyPolicyOptions,
  verifyPolicyBundle,
} from './verify.js';
