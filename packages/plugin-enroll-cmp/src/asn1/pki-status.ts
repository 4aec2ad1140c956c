import type * as asn1js from 'asn1js';
import { MalformedAsn1, readBitString, readFreeText, readInteger, sequenceOf } from './der.js';

/**
 * PKIStatusInfo (RFC 4210 §5.2.3):
 *
 *   PKIStatusInfo ::= SEQUENCE { status PKIStatus, statusString PKIFreeText OPTIONAL,
 *                                failInfo PKIFailureInfo OPTIONAL }
 */
export interface PkiStatusInfo {
  readonly status: number;
  readonly statusString: readonly string[];
  /** The names of the PKIFailureInfo bits set (an unknown bit as `bit N`). */
  readonly failInfo: readonly string[];
}

export const PKI_STATUS = {
  accepted: 0,
  grantedWithMods: 1,
  rejection: 2,
  waiting: 3,
} as const;

const FAILURE_BITS = [
  'badAlg',
  'badMessageCheck',
  'badRequest',
  'badTime',
  'badCertId',
  'badDataFormat',
  'wrongAuthority',
  'incorrectData',
  'missingTimeStamp',
  'badPOP',
  'certRevoked',
  'certConfirmed',
  'wrongIntegrity',
  'badRecipientNonce',
  'timeNotAvailable',
  'unacceptedPolicy',
  'unacceptedExtension',
  'addInfoNotAvailable',
  'badSenderNonce',
  'badCertTemplate',
  'signerNotTrusted',
  'transactionIdInUse',
  'unsupportedVersion',
  'notAuthorized',
  'systemUnavail',
  'systemFailure',
  'duplicateCertReq',
] as const;

function failureNames(bits: asn1js.BitString): string[] {
  const view = bits.valueBlock.valueHexView;
  if (view.length > 8) throw new MalformedAsn1('PKIFailureInfo: too long');
  const names: string[] = [];
  for (let bit = 0; bit < view.length * 8; bit += 1) {
    if ((view[bit >> 3]! >> (7 - (bit & 7))) & 1) names.push(FAILURE_BITS[bit] ?? `bit ${bit}`);
  }
  return names;
}

export function readPkiStatusInfo(node: asn1js.BaseBlock | undefined, what: string): PkiStatusInfo {
  const [status, ...rest] = sequenceOf(node, what);
  let statusString: string[] = [];
  let failInfo: string[] = [];
  for (const item of rest) {
    if (item.idBlock.tagClass === 1 && item.idBlock.tagNumber === 16)
      statusString = readFreeText(item, `${what}.statusString`);
    else failInfo = failureNames(readBitString(item, `${what}.failInfo`));
  }
  return { status: readInteger(status, `${what}.status`), statusString, failInfo };
}

const STATUS_NAMES = [
  'accepted',
  'grantedWithMods',
  'rejection',
  'waiting',
  'revocationWarning',
  'revocationNotification',
  'keyUpdateWarning',
];

/**
 * The status for people: `rejection (badPOP, badRequest): "the text"`. The CA's text is
 * untrusted: control characters become spaces and it is cut at 200 characters.
 */
export function describeStatus(info: PkiStatusInfo): string {
  const name = STATUS_NAMES[info.status] ?? `status ${info.status}`;
  const bits = info.failInfo.length > 0 ? ` (${info.failInfo.join(', ')})` : '';
  const text = sanitize(info.statusString.join('; '));
  return `${name}${bits}${text ? `: "${text}"` : ''}`;
}

export function sanitize(text: string, max = 200): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
