import { CredroamError } from '../api/errors.js';
import type { EnrollmentAltName } from '../api/points/enroller.js';

/** A key the profile's certificates are for: made on the endpoint, never leaving it but sealed. */
export type EnrollmentKeySpec =
  | { readonly type: 'rsa'; readonly bits: 2048 | 3072 | 4096 }
  | { readonly type: 'ec'; readonly curve: 'P-256' | 'P-384' };

/**
 * One enrollment profile of the site policy (`enrollment.profiles`): what certificate the user
 * should have, from which CA over which protocol, and when to renew it (docs/admin/enrollment.md).
 */
export interface EnrollmentProfile {
  /** Stable: the claim and the pending request are named after it. */
  readonly id: string;
  /** The `Enroller` contribution id (`scep`, `cmp`). */
  readonly enroller: string;
  readonly ca: {
    readonly url: string;
    /** SHA-256 of the CA certificate's DER, lower-case hex: pinned. */
    readonly fingerprint: string;
    /** The enroller's own settings (its contribution's `configuration` schema checks them). */
    readonly settings: Readonly<Record<string, unknown>>;
  };
  /** RFC 4514, with `{user}` and `{attr:NAME}` filled in for each user. */
  readonly subject: string;
  readonly subjectAltNames: readonly EnrollmentAltName[];
  readonly key: EnrollmentKeySpec;
  /** Where the challenge is read from at each request: an owner-only file (`~/` is the user's home). */
  readonly challenge?: { readonly file: string };
  /**
   * Renew when less than `remainingFraction` of the certificate's lifetime is left, or fewer than
   * `minDays` days, whichever comes first.
   */
  readonly renew: { readonly remainingFraction: number; readonly minDays: number };
}

export interface EnrollmentPolicy {
  readonly profiles: readonly EnrollmentProfile[];
  /** How long an endpoint's claim on a profile holds before another endpoint may take it over. */
  readonly claimMinutes: number;
  /** A request pending longer than this is given up and made afresh (a CA that never answers). */
  readonly pendingDays: number;
}

export const DEFAULT_ENROLLMENT_POLICY: EnrollmentPolicy = Object.freeze({
  profiles: [],
  claimMinutes: 10,
  pendingDays: 30,
});

const TEMPLATE = { type: 'string', minLength: 1, maxLength: 1024 } as const;

export const ENROLLMENT_POLICY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    claimMinutes: {
      type: 'number',
      minimum: 1,
      maximum: 1440,
      default: DEFAULT_ENROLLMENT_POLICY.claimMinutes,
    },
    pendingDays: { type: 'number', minimum: 1, maximum: 365, default: DEFAULT_ENROLLMENT_POLICY.pendingDays },
    profiles: {
      type: 'array',
      maxItems: 32,
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'enroller', 'ca', 'subject'],
        properties: {
          id: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' },
          enroller: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' },
          ca: {
            type: 'object',
            additionalProperties: false,
            required: ['url', 'fingerprint'],
            properties: {
              url: { type: 'string', pattern: '^https?://[^\\s]+$', maxLength: 2048 },
              fingerprint: { type: 'string', pattern: '^[0-9a-f]{64}$' },
              settings: { type: 'object', default: {} },
            },
          },
          subject: TEMPLATE,
          subjectAltNames: {
            type: 'array',
            maxItems: 16,
            default: [],
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['type', 'value'],
              properties: { type: { enum: ['email', 'dns', 'uri', 'upn'] }, value: TEMPLATE },
            },
          },
          key: {
            default: { type: 'rsa', bits: 2048 },
            oneOf: [
              {
                type: 'object',
                additionalProperties: false,
                required: ['type', 'bits'],
                properties: { type: { const: 'rsa' }, bits: { enum: [2048, 3072, 4096] } },
              },
              {
                type: 'object',
                additionalProperties: false,
                required: ['type', 'curve'],
                properties: { type: { const: 'ec' }, curve: { enum: ['P-256', 'P-384'] } },
              },
            ],
          },
          challenge: {
            type: 'object',
            additionalProperties: false,
            required: ['file'],
            properties: { file: { type: 'string', minLength: 1, maxLength: 4096 } },
          },
          renew: {
            type: 'object',
            additionalProperties: false,
            default: {},
            properties: {
              remainingFraction: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.2 },
              minDays: { type: 'number', minimum: 0, maximum: 3650, default: 14 },
            },
          },
        },
      },
    },
  },
} as const;

/**
 * What a schema cannot say: profile ids are unique. Returns the problems as `place: what` lines.
 */
export function enrollmentPolicyProblems(policy: EnrollmentPolicy): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  policy.profiles.forEach((p, i) => {
    if (seen.has(p.id)) problems.push(`/enrollment/profiles/${i}/id: '${p.id}' is used by another profile`);
    seen.add(p.id);
  });
  return problems;
}

/** What the templates are filled with: the user's name and their entry's attributes. */
export interface TemplateValues {
  readonly user: string;
  /** Reads the named attributes of the user's directory entry (first value each is used). */
  readonly attributes?: (names: readonly string[]) => Promise<Readonly<Record<string, readonly string[]>>>;
}

const PLACEHOLDER = /\{(user|attr:([A-Za-z][A-Za-z0-9-]{0,63}))\}/g;

/** RFC 4514 §2.4: a value placed in a distinguished name, escaped. */
export function escapeDnValue(value: string): string {
  let out = value.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`);
  if (out.startsWith('#') || out.startsWith(' ')) out = `\\${out}`;
  if (out.endsWith(' ') && out.length > 0) out = `${out.slice(0, -1)}\\ `;
  return out;
}

/**
 * The profile's subject and alternative names for one user. A value with a control character or
 * over 1024 characters, or an attribute the entry lacks, is `E_ENROLL_PROFILE`: a certificate is
 * never asked for with a name part missing.
 */
export async function fillTemplates(
  profile: EnrollmentProfile,
  values: TemplateValues,
): Promise<{ subject: string; subjectAltNames: EnrollmentAltName[] }> {
  const templates = [profile.subject, ...profile.subjectAltNames.map((a) => a.value)];
  const names = [
    ...new Set(
      templates.flatMap((t) => [...t.matchAll(PLACEHOLDER)].map((m) => m[2]).filter((n) => n !== undefined)),
    ),
  ] as string[];
  let attrs: Readonly<Record<string, readonly string[]>> = {};
  if (names.length > 0) {
    if (!values.attributes)
      throw new CredroamError(
        'E_ENROLL_PROFILE',
        `profile '${profile.id}' names directory attributes (${names.join(', ')}), and this directory store cannot read attributes`,
      );
    attrs = await values.attributes(names);
  }
  const filled = (name: string | undefined): string => {
    const v = name === undefined ? values.user : attrs[name]?.[0];
    if (v === undefined || v === '')
      throw new CredroamError(
        'E_ENROLL_PROFILE',
        `profile '${profile.id}' needs the directory attribute '${name}', which the user's entry does not have`,
      );
    // The directory's value is bounded as the templates are: a megabyte is not sent to a CA.
    if (v.length > 1024)
      throw new CredroamError(
        'E_ENROLL_PROFILE',
        `profile '${profile.id}': the value of ${name === undefined ? '{user}' : `'${name}'`} has ${v.length} characters, more than 1024`,
      );
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
    if (/[\u0000-\u001f\u007f]/.test(v))
      throw new CredroamError(
        'E_ENROLL_PROFILE',
        `profile '${profile.id}': the value of ${name === undefined ? '{user}' : `'${name}'`} has a control character`,
      );
    return v;
  };
  const subject = profile.subject.replace(PLACEHOLDER, (_m, _all, name: string | undefined) =>
    escapeDnValue(filled(name)),
  );
  const subjectAltNames = profile.subjectAltNames.map((a) => ({
    type: a.type,
    value: a.value.replace(PLACEHOLDER, (_m, _all, name: string | undefined) => filled(name)),
  }));
  return { subject, subjectAltNames };
}
