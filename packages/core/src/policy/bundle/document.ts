import semverValid from 'semver/functions/valid.js';
import semverValidRange from 'semver/ranges/valid.js';
import { PERMISSION_PATTERN } from '../../host/isolation/permissions.js';
import { configurationValidator } from '../../host/manifest.js';
import type { AllowListEntry } from '../allow-list.js';
import { SITE_POLICY_SECTION_SCHEMAS, type SitePolicy, sitePolicyOf } from '../policy.js';

/**
 * The document a signed policy bundle carries (issue 12): which site, which version of its policy,
 * how long it holds, the settings of each section of the site policy, the plugin allow-list, and
 * the keys that may sign the next one. Its one schema is `POLICY_BUNDLE_SCHEMA` below, published as
 * `docs/policy-bundle.schema.json` (a test keeps the two equal).
 */
export interface PolicyBundleDocument {
  /** The site this policy is for; an endpoint configured for another site refuses it. */
  readonly siteId: string;
  /** Monotonic: each new document of the site has a higher one. */
  readonly serial: number;
  /** RFC 3339 date-times. */
  readonly issuedAt: string;
  readonly notAfter: string;
  /** The oldest agent version that may obey it (semver); an older agent refuses the bundle. */
  readonly minAgentVersion?: string;
  readonly roaming: Record<string, unknown>;
  readonly protection: Record<string, unknown>;
  readonly directory: Record<string, unknown>;
  /** The plugin allow-list: the only plugins an endpoint obeying this bundle loads. */
  readonly plugins: readonly AllowListEntry[];
  /**
   * Key rollover: the SHA-256 fingerprints (hex, of the DER certificate) of the certificates that
   * may sign the bundles after this one. Absent: any certificate that chains to the site root and
   * carries the policy-signing EKU. Present: only those (list the current signer to keep it).
   */
  readonly nextSigners?: readonly string[];
}

/** RFC 3339 date-time (a `T` or a space, seconds, an optional fraction, `Z` or an offset). */
const RFC3339 = '^\\d{4}-\\d{2}-\\d{2}[Tt ]\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?([Zz]|[+-]\\d{2}:\\d{2})$';
const SHA256_HEX = '^[0-9a-f]{64}$';

export const POLICY_BUNDLE_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://credroam.example/schemas/policy-bundle.schema.json',
  title: 'credroam signed policy bundle document',
  type: 'object',
  additionalProperties: false,
  required: ['siteId', 'serial', 'issuedAt', 'notAfter', 'plugins'],
  properties: {
    $schema: { type: 'string' },
    siteId: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' },
    serial: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
    issuedAt: { type: 'string', pattern: RFC3339 },
    notAfter: { type: 'string', pattern: RFC3339 },
    minAgentVersion: { type: 'string', minLength: 5, maxLength: 64 },
    ...SITE_POLICY_SECTION_SCHEMAS,
    plugins: {
      type: 'array',
      maxItems: 256,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'version', 'files'],
        properties: {
          id: { type: 'string', minLength: 1, maxLength: 214 },
          version: { type: 'string', minLength: 1, maxLength: 128 },
          files: {
            type: 'object',
            minProperties: 1,
            maxProperties: 10_000,
            additionalProperties: { type: 'string', pattern: SHA256_HEX },
          },
          grants: {
            type: 'array',
            maxItems: 64,
            uniqueItems: true,
            items: { type: 'string', pattern: PERMISSION_PATTERN, maxLength: 1024 },
          },
          inProcess: { type: 'boolean' },
        },
      },
    },
    nextSigners: { type: 'array', minItems: 1, maxItems: 16, items: { type: 'string', pattern: SHA256_HEX } },
  },
} as const;

const validateSchema = configurationValidator(POLICY_BUNDLE_SCHEMA as unknown as Record<string, unknown>, '');

/** A checked document, with defaults applied, and what the agent obeys from it. */
export interface CheckedPolicyBundle {
  readonly document: PolicyBundleDocument;
  readonly policy: SitePolicy;
}

/**
 * Checks a parsed document against the schema and what a schema cannot say (dates that exist,
 * notAfter after issuedAt, semver versions and ranges, one entry per plugin and range). Every problem is a
 * `place: what` line with its JSON pointer; a tagged result, never a throw.
 */
export function checkPolicyBundleDocument(
  raw: unknown,
): { ok: true; bundle: CheckedPolicyBundle } | { ok: false; problems: string[] } {
  const checked = validateSchema(raw);
  if (!checked.ok) return { ok: false, problems: checked.problems };
  const doc = checked.value as unknown as PolicyBundleDocument;
  const problems: string[] = [];
  const issued = Date.parse(doc.issuedAt);
  const notAfter = Date.parse(doc.notAfter);
  if (Number.isNaN(issued)) problems.push(`/issuedAt: '${doc.issuedAt}' is not a date`);
  if (Number.isNaN(notAfter)) problems.push(`/notAfter: '${doc.notAfter}' is not a date`);
  if (!(notAfter > issued)) problems.push('/notAfter: must be later than issuedAt');
  if (doc.minAgentVersion !== undefined && !semverValid(doc.minAgentVersion))
    problems.push(`/minAgentVersion: '${doc.minAgentVersion}' is not a semver version`);
  // One id may have several entries (two versions during a roll-out, each with its own files);
  // the same id and range twice is a mistake.
  const entries = new Set<string>();
  doc.plugins.forEach((p, i) => {
    if (!semverValidRange(p.version))
      problems.push(`/plugins/${i}/version: '${p.version}' is not a semver range`);
    const entry = `${p.id}\u0000${p.version}`;
    if (entries.has(entry))
      problems.push(`/plugins/${i}: '${p.id}' is listed twice with the range '${p.version}'`);
    entries.add(entry);
    for (const file of Object.keys(p.files)) {
      if (file.startsWith('/') || file.split('/').includes('..') || file.includes('\\'))
        problems.push(`/plugins/${i}/files: '${file}' is not a relative path inside the package`);
    }
  });
  if (problems.length > 0) return { ok: false, problems };
  try {
    return { ok: true, bundle: { document: doc, policy: sitePolicyOf(checked.value) } };
  } catch (error) {
    return { ok: false, problems: [(error as Error).message] };
  }
}
