import { CredroamError, POLICY_BUNDLE_MAX_BYTES, type PolicySource } from '@credroam/core/api';
import type { LdapSession } from './connection.js';

/** The attribute that holds the site's signed policy bundle (schema/credroam.ldif, ad-schema.ldif). */
export const POLICY_BUNDLE_ATTRIBUTE = 'credroamPolicyBundle';

/**
 * The signed policy bundle as one entry of the directory holds it: a site entry (`policyDn`: an
 * organizational unit or the domain object, as Group Policy lives in AD) or the user's own entry.
 * The value is handed over as the server sent it, byte for byte: core verifies it. An entry
 * without the attribute holds no bundle (`undefined`); two values are ambiguous and one over
 * `POLICY_BUNDLE_MAX_BYTES` is refused, neither ever picked or cut. Each fetch connects, binds,
 * reads and disconnects: a refresh comes every hour or two, and no connection is kept open between.
 */
export class LdapPolicySource implements PolicySource {
  constructor(
    private readonly session: LdapSession,
    /** The entry to read: fixed, or found when the fetch runs (the user's entry). */
    private readonly entry: () => Promise<string>,
    private readonly attribute: string = POLICY_BUNDLE_ATTRIBUTE,
    private readonly url = '',
  ) {}

  async fetch(): Promise<Uint8Array | undefined> {
    try {
      const dn = await this.entry();
      const attribute = this.attribute;
      const found = await this.session.run(
        async (c) => {
          const { searchEntries } = await c.search(dn, {
            scope: 'base',
            filter: '(objectClass=*)',
            attributes: [attribute],
            explicitBufferAttributes: [attribute, attribute.toLowerCase()],
          });
          if (!searchEntries[0]) throw Object.assign(new Error('no such entry'), { code: 32 });
          return searchEntries[0];
        },
        { dn, attribute },
      );
      const values: Buffer[] = [];
      for (const [key, raw] of Object.entries(found)) {
        if (key.split(';')[0]!.toLowerCase() !== attribute.toLowerCase()) continue;
        for (const v of Array.isArray(raw) ? raw : [raw]) {
          values.push(typeof v === 'string' ? Buffer.from(v, 'binary') : (v as Buffer));
        }
      }
      const ids = { url: this.url, dn, attribute };
      if (values.length === 0) return undefined;
      if (values.length > 1) {
        throw new CredroamError(
          'E_POLICY_AMBIGUOUS',
          `${dn} holds ${values.length} values of ${attribute} on ${this.url}, where one signed policy bundle belongs: ` +
            'none was taken. Leave one (ldapmodify with "replace:"); the attribute is SINGLE-VALUE in the credroam schema',
          { ...ids, values: values.length },
        );
      }
      const value = values[0]!;
      if (value.length > POLICY_BUNDLE_MAX_BYTES) {
        throw new CredroamError(
          'E_POLICY_TOO_LARGE',
          `the policy bundle in ${attribute} of ${dn} on ${this.url} holds ${value.length} bytes, more than the ` +
            `${POLICY_BUNDLE_MAX_BYTES} a bundle may: refused. Publish the signed bundle itself (DER)`,
          { ...ids, bytes: value.length, maxBytes: POLICY_BUNDLE_MAX_BYTES },
        );
      }
      return new Uint8Array(value.buffer, value.byteOffset, value.length).slice();
    } finally {
      await this.session.close();
    }
  }
}
