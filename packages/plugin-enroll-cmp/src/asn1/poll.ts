import type * as asn1js from 'asn1js';
import { integer, MalformedAsn1, readFreeText, readInteger, seq, sequenceOf } from './der.js';

/**
 * Polling (RFC 4210 §5.3.22):
 *
 *   PollReqContent ::= SEQUENCE OF SEQUENCE { certReqId INTEGER }
 *   PollRepContent ::= SEQUENCE OF SEQUENCE { certReqId INTEGER, checkAfter INTEGER,
 *                                             reason PKIFreeText OPTIONAL }
 */
export const pollReqContent = (certReqId: number): asn1js.Sequence => seq(seq(integer(certReqId)));

export interface PollRep {
  readonly certReqId: number;
  readonly checkAfter: number;
  readonly reason: readonly string[];
}

export function readPollRep(node: asn1js.BaseBlock): PollRep {
  const entries = sequenceOf(node, 'PollRepContent');
  if (entries.length !== 1)
    throw new MalformedAsn1(`PollRepContent: ${entries.length} entries for one request`);
  const [certReqId, checkAfter, reason] = sequenceOf(entries[0], 'PollRepContent entry');
  return {
    certReqId: readInteger(certReqId, 'pollRep.certReqId'),
    checkAfter: readInteger(checkAfter, 'pollRep.checkAfter'),
    reason: reason ? readFreeText(reason, 'pollRep.reason') : [],
  };
}
