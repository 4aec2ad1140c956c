import type { EnrollmentAltName } from '@credroam/core/api';
import * as asn1js from 'asn1js';
import { explicit, implicitPrimitive, oid, seq } from './der.js';

/**
 * GeneralNames (RFC 5280 §4.2.1.6, IMPLICIT TAGS) for the subjectAltName extension:
 * rfc822Name [1] IA5String, dNSName [2] IA5String, uniformResourceIdentifier [6] IA5String,
 * otherName [0] { type-id, [0] EXPLICIT value } with the UPN (1.3.6.1.4.1.311.20.2.3, UTF8String).
 * Returns a reason for a value a GeneralName cannot carry.
 */
const TAG = { email: 1, dns: 2, uri: 6 } as const;
const UPN = '1.3.6.1.4.1.311.20.2.3';

export function generalNames(
  names: readonly EnrollmentAltName[],
): { ok: true; value: asn1js.Sequence } | { ok: false; reason: string } {
  const out: asn1js.BaseBlock[] = [];
  for (const name of names) {
    if (name.value === '' || name.value.length > 1024)
      return {
        ok: false,
        reason: `the ${name.type} alternative name is empty or longer than 1024 characters`,
      };
    if (name.type === 'upn') {
      out.push(
        new asn1js.Constructed({
          idBlock: { tagClass: 3, tagNumber: 0 },
          value: [oid(UPN), explicit(0, new asn1js.Utf8String({ value: name.value }))],
        }),
      );
      continue;
    }
    if (!/^[\x20-\x7e]+$/.test(name.value))
      return {
        ok: false,
        reason: `the ${name.type} alternative name '${name.value}' is not printable ASCII (IA5String)`,
      };
    const tag = TAG[name.type];
    if (tag === undefined)
      return { ok: false, reason: `unknown alternative name type '${String(name.type)}'` };
    out.push(implicitPrimitive(tag, Buffer.from(name.value, 'ascii')));
  }
  return { ok: true, value: seq(...out) };
}
