import type * as asn1js from 'asn1js';
import { readFreeText, sequenceOf } from './der.js';
import { type PkiStatusInfo, readPkiStatusInfo } from './pki-status.js';

/**
 * ErrorMsgContent (RFC 4210 §5.3.21):
 *
 *   ErrorMsgContent ::= SEQUENCE { pKIStatusInfo PKIStatusInfo, errorCode INTEGER OPTIONAL,
 *                                  errorDetails PKIFreeText OPTIONAL }
 */
export interface ErrorMsg {
  readonly status: PkiStatusInfo;
  readonly details: readonly string[];
}

export function readErrorMsg(node: asn1js.BaseBlock): ErrorMsg {
  const [status, ...rest] = sequenceOf(node, 'ErrorMsgContent');
  const text = rest.find((r) => r.idBlock.tagClass === 1 && r.idBlock.tagNumber === 16);
  return {
    status: readPkiStatusInfo(status, 'ErrorMsgContent.pKIStatusInfo'),
    details: text ? readFreeText(text, 'ErrorMsgContent.errorDetails') : [],
  };
}
