import { CredroamError } from '../api/errors.js';
import {
  DEFAULT_ENROLLMENT_POLICY,
  ENROLLMENT_POLICY_SCHEMA,
  type EnrollmentPolicy,
  enrollmentPolicyProblems,
} from '../enroll/profile.js';
import { configurationValidator } from '../host/manifest.js';

/** The settings of the site policy that the roaming engine obeys (docs/design.md §1 defaults). */
export interface RoamingPolicy {
  /** R13: values per user (Windows: 2000). */
  readonly maxTokens: number;
  /** R13: bytes per encoded token (Windows: 65 535). */
  readonly maxTokenBytes: number;
  /** R12: how long tombstones are kept before they are pruned. */
  readonly tombstoneLifetimeDays: number;
  /** A token dated further than this in the future is skipped. */
  readonly clockSkewSeconds: number;
  /** R8: expired certificates are archived (kept, flagged, out of the active set). */
  readonly archiveExpired: boolean;
  /** Compare-and-swap attempts per sync before it fails. */
  readonly casAttempts: number;
  /** R9: minutes between policy refreshes (each re-reads the policy, then syncs). */
  readonly refreshIntervalMinutes: number;
  /** R9: a random 0..N minutes added to each refresh interval. */
  readonly refreshRandomMinutes: number;
  /** R10: at logoff, remove the credentials that are safely in the directory from the endpoint. */
  readonly removeOnLogoff: boolean;
}

export const DEFAULT_ROAMING_POLICY: RoamingPolicy = Object.freeze({
  maxTokens: 2000,
  maxTokenBytes: 65_535,
  tombstoneLifetimeDays: 60,
  clockSkewSeconds: 300,
  archiveExpired: true,
  casAttempts: 8,
  refreshIntervalMinutes: 90,
  refreshRandomMinutes: 30,
  removeOnLogoff: false,
});

export const ROAMING_POLICY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    maxTokens: { type: 'integer', minimum: 1, maximum: 100_000, default: DEFAULT_ROAMING_POLICY.maxTokens },
    maxTokenBytes: {
      type: 'integer',
      minimum: 1024,
      maximum: 1_048_576,
      default: DEFAULT_ROAMING_POLICY.maxTokenBytes,
    },
    tombstoneLifetimeDays: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 3650,
      default: DEFAULT_ROAMING_POLICY.tombstoneLifetimeDays,
    },
    clockSkewSeconds: {
      type: 'integer',
      minimum: 0,
      maximum: 86_400,
      default: DEFAULT_ROAMING_POLICY.clockSkewSeconds,
    },
    archiveExpired: { type: 'boolean', default: DEFAULT_ROAMING_POLICY.archiveExpired },
    casAttempts: { type: 'integer', minimum: 1, maximum: 100, default: DEFAULT_ROAMING_POLICY.casAttempts },
    refreshIntervalMinutes: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 10_080,
      default: DEFAULT_ROAMING_POLICY.refreshIntervalMinutes,
    },
    refreshRandomMinutes: {
      type: 'number',
      minimum: 0,
      maximum: 10_080,
      default: DEFAULT_ROAMING_POLICY.refreshRandomMinutes,
    },
    removeOnLogoff: { type: 'boolean', default: DEFAULT_ROAMING_POLICY.removeOnLogoff },
  },
} as const;

const validate = configurationValidator(
  ROAMING_POLICY_SCHEMA as unknown as Record<string, unknown>,
  '/roaming',
);

/** Validates the policy's `roaming` section, applying defaults; throws E_POLICY naming each problem. */
export function parseRoamingPolicy(raw: unknown): RoamingPolicy {
  const checked = validate(raw ?? {});
  if (!checked.ok) throw new CredroamError('E_POLICY', `invalid policy: ${checked.problems.join('; ')}`);
  return Object.freeze(checked.value as unknown as RoamingPolicy);
}

/** What the site trusts its directory with (R11); given to the directory store. */
export interface DirectoryPolicy {
  /**
   * Whether a directory store may bind with the user's roaming password (an LDAP simple bind
   * without a bind password file). Whoever runs the directory then receives the password that
   * opens the user's master key, so can open every private key: a site says so explicitly, as
   * Windows trusts its domain controllers, or binds with Kerberos or a client certificate. Default false.
   */
  readonly trustWithPassword: boolean;
}

export const DEFAULT_DIRECTORY_POLICY: DirectoryPolicy = Object.freeze({ trustWithPassword: false });

export const DIRECTORY_POLICY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    trustWithPassword: { type: 'boolean', default: DEFAULT_DIRECTORY_POLICY.trustWithPassword },
  },
} as const;

/** The site policy the agent obeys: the engine's settings and each extension point's section. */
export interface SitePolicy {
  readonly roaming: RoamingPolicy;
  /** Given to the token protector (KDF parameters, escrow public key). */
  readonly protection: Readonly<Record<string, unknown>>;
  /** Given to the directory store. */
  readonly directory: DirectoryPolicy;
  /** R4, R5: the certificates each user should have, and from which CA (docs/admin/enrollment.md). */
  readonly enrollment: EnrollmentPolicy;
}

/**
 * The schema of each section of the site policy: the one copy that both the unsigned local policy
 * file and the signed policy bundle (`bundle/document.ts`) use. `protection` is the token
 * protector's own (its plugin validates it).
 */
export const SITE_POLICY_SECTION_SCHEMAS = {
  roaming: { ...ROAMING_POLICY_SCHEMA, default: {} },
  protection: { type: 'object', default: {} },
  directory: { ...DIRECTORY_POLICY_SCHEMA, default: {} },
  enrollment: { ...ENROLLMENT_POLICY_SCHEMA, default: {} },
} as const;

/** The unsigned local policy file's schema (the signed bundle's document wraps the same sections). */
export const SITE_POLICY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: { $schema: { type: 'string' }, ...SITE_POLICY_SECTION_SCHEMAS },
} as const;
const validateSite = configurationValidator(SITE_POLICY_SCHEMA as unknown as Record<string, unknown>, '');

/** Validates a site policy document; every problem is named with its place. */
export function parseSitePolicy(raw: unknown): SitePolicy {
  const checked = validateSite(raw ?? {});
  if (!checked.ok) throw new CredroamError('E_POLICY', `invalid policy: ${checked.problems.join('; ')}`);
  return sitePolicyOf(checked.value);
}

/** The frozen `SitePolicy` of a document whose sections the schema above has checked (defaults applied). */
export function sitePolicyOf(checked: Record<string, unknown>): SitePolicy {
  const v = checked as {
    roaming: unknown;
    protection: Record<string, unknown>;
    directory: DirectoryPolicy;
    enrollment?: EnrollmentPolicy;
  };
  const enrollment = deepFreeze({ ...DEFAULT_ENROLLMENT_POLICY, ...v.enrollment });
  const problems = enrollmentPolicyProblems(enrollment);
  if (problems.length > 0) throw new CredroamError('E_POLICY', `invalid policy: ${problems.join('; ')}`);
  return Object.freeze({
    roaming: parseRoamingPolicy(v.roaming),
    protection: Object.freeze(v.protection),
    directory: Object.freeze({ ...DEFAULT_DIRECTORY_POLICY, ...v.directory }),
    enrollment,
  });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
