import { extensionPointToken } from './extension-point.js';

/**
 * Where the site's signed policy bundle comes from (a file, the user's or the site's directory
 * entry, an HTTPS server). A source only fetches: it never parses or trusts what it fetched. Core
 * verifies every bundle (signature and chain to the site's policy root, policy-signing EKU, site,
 * expiry, schema, rollback) and, when several sources are configured, the highest valid serial wins.
 */
export interface PolicySource {
  /**
   * The bundle's bytes (a CMS SignedData, DER) as the source holds them, or `undefined` when it
   * holds none. At most `POLICY_BUNDLE_MAX_BYTES`; a larger one is an error, not truncated. Throws
   * `CredroamError` `E_UNREACHABLE` when the source cannot be reached (the agent keeps the policy
   * in force).
   */
  fetch(): Promise<Uint8Array | undefined>;
}

/** The largest policy bundle a source hands over (256 KiB). */
export const POLICY_BUNDLE_MAX_BYTES = 262_144;

export const PolicySource = extensionPointToken<PolicySource>('PolicySource');
