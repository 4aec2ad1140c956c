import type { EnrollmentAltName } from '@credroam/core/api';
import * as asn1js from 'asn1js';
import { OID } from './oids.js';

/** GeneralName tags (RFC 5280 §4.2.1.6): otherName [0], rfc822Name [1], dNSName [2], URI [6]. */
const TAG = { upn: 0, email: 1, dns: 2, uri: 6 } as const;

/**
 * The subjectAltName extension's value (GeneralNames, DER) for the profile's names: email as
 * rfc822Name, dns as dNSName, uri as uniformResourceIdentifier (all IA5String: ASCII only, or a
 * `reason`), upn as otherName with Microsoft's UPN OID and a UTF8String.
 */
export function generalNames(
  names: readonly EnrollmentAltName[],
): { readonly ok: true; readonly der: Uint8Array } | { readonly ok: false; readonly reason: string } {
  const value: asn1js.BaseBlock[] = [];
  for (const name of names) {
    if (name.value === '' || name.value.length > 1024)
      return { ok: false, reason: `a ${name.type} subject alternative name is empty or too long` };
    if (name.type === 'upn') {
      value.push(
        new asn1js.Constructed({
          idBlock: { tagClass: 3, tagNumber: TAG.upn },
          value: [
            new asn1js.ObjectIdentifier({ value: OID.upn }),
            new asn1js.Constructed({
              idBlock: { tagClass: 3, tagNumber: 0 },
              value: [new asn1js.Utf8String({ value: name.value })],
            }),
          ],
        }),
      );
      continue;
    }
    if (!(name.type in TAG))
      return { ok: false, reason: `an unknown subject alternative name type '${name.type}'` };
    if (!/^[\x21-\x7e]+$/.test(name.value))
      return {
        ok: false,
        reason: `the ${name.type} subject alternative name must be printable ASCII without spaces`,
      };
    value.push(
      new asn1js.Primitive({
        idBlock: { tagClass: 3, tagNumber: TAG[name.type] },
        valueHex: new TextEncoder().encode(name.value),
      }),
    );
  }
  return { ok: true, der: new Uint8Array(new asn1js.Sequence({ value }).toBER()) };
}
