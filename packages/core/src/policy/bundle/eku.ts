/**
 * The extended key usage a certificate must carry to sign credroam policy bundles: "credroam
 * policy signing", an OID under 2.25 (ITU-T X.667: a UUID as one integer arc, minted once for this
 * project from a random UUID a2e428dd-f61d-4a9d-83d4-4f435a5c9945; never changed, never reused).
 * An ordinary certificate from the same CA (a TLS server's, a user's) lacks it, so cannot sign policy.
 *
 * With openssl: `-addext extendedKeyUsage=2.25.216519607882879097454534830734979144005`.
 */
export const POLICY_SIGNING_EKU = '2.25.216519607882879097454534830734979144005';
