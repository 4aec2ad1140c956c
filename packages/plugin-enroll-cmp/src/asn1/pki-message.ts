import * as asn1js from 'asn1js';
import {
  children,
  decode,
  encoded,
  explicit,
  integer,
  MalformedAsn1,
  octets,
  readBitString,
  readInteger,
  readOctets,
  sequenceOf,
  tagged,
} from './der.js';

/**
 * PKIMessage and PKIHeader (RFC 4210 §5.1, EXPLICIT TAGS):
 *
 *   PKIMessage ::= SEQUENCE { header PKIHeader, body PKIBody,
 *                             protection [0] PKIProtection OPTIONAL,
 *                             extraCerts [1] SEQUENCE SIZE (1..MAX) OF CMPCertificate OPTIONAL }
 *   PKIHeader ::= SEQUENCE { pvno INTEGER, sender GeneralName, recipient GeneralName,
 *                            messageTime [0] GeneralizedTime OPTIONAL,
 *                            protectionAlg [1] AlgorithmIdentifier OPTIONAL,
 *                            senderKID [2] KeyIdentifier OPTIONAL, recipKID [3] OPTIONAL,
 *                            transactionID [4] OCTET STRING OPTIONAL,
 *                            senderNonce [5] OCTET STRING OPTIONAL, recipNonce [6] OPTIONAL,
 *                            freeText [7] PKIFreeText OPTIONAL, generalInfo [8] OPTIONAL }
 *   PKIBody ::= CHOICE { ir [0], ip [1], cr [2], cp [3], kur [7], kup [8], pkiconf [19],
 *                        error [23], certConf [24], pollReq [25], pollRep [26], … }
 */
export const BODY = {
  ir: 0,
  ip: 1,
  cr: 2,
  cp: 3,
  kur: 7,
  kup: 8,
  pkiconf: 19,
  error: 23,
  certConf: 24,
  pollReq: 25,
  pollRep: 26,
} as const;

export const bodyName = (tag: number): string =>
  Object.entries(BODY).find(([, n]) => n === tag)?.[0] ?? `body [${tag}]`;

/** cmp2000 */
const PVNO = 2;

export interface HeaderFields {
  /** The sender's and recipient's names (DER of a Name). */
  readonly sender: asn1js.BaseBlock;
  readonly recipient: asn1js.BaseBlock;
  readonly protectionAlg: asn1js.BaseBlock;
  readonly senderKID: Uint8Array;
  readonly transactionID: Uint8Array;
  readonly senderNonce: Uint8Array;
  readonly recipNonce?: Uint8Array;
}

export function pkiHeader(h: HeaderFields, now: Date): asn1js.Sequence {
  return new asn1js.Sequence({
    value: [
      integer(PVNO),
      explicit(4, h.sender),
      explicit(4, h.recipient),
      explicit(
        0,
        new asn1js.GeneralizedTime({ valueDate: new Date(Math.floor(now.getTime() / 1000) * 1000) }),
      ),
      explicit(1, h.protectionAlg),
      explicit(2, octets(h.senderKID)),
      explicit(4, octets(h.transactionID)),
      explicit(5, octets(h.senderNonce)),
      ...(h.recipNonce ? [explicit(6, octets(h.recipNonce))] : []),
    ],
  });
}

export const pkiBody = (tag: number, content: asn1js.BaseBlock): asn1js.Constructed => explicit(tag, content);

export function pkiMessage(header: Uint8Array, body: Uint8Array, protection: Uint8Array): Uint8Array {
  const seq = new asn1js.Sequence({
    value: [
      decode(header, 'header'),
      decode(body, 'body'),
      explicit(0, new asn1js.BitString({ valueHex: protection })),
    ],
  });
  return new Uint8Array(seq.toBER(false));
}

/** A PKIMessage as read: the raw header and body (the MAC covers them as sent), the fields used. */
export interface ReceivedMessage {
  readonly headerDer: Uint8Array;
  readonly bodyDer: Uint8Array;
  readonly pvno: number;
  readonly protectionAlg?: asn1js.BaseBlock;
  readonly transactionID?: Uint8Array;
  readonly senderNonce?: Uint8Array;
  readonly recipNonce?: Uint8Array;
  readonly bodyType: number;
  readonly body: asn1js.BaseBlock;
  readonly protection?: Uint8Array;
  /** DER of each certificate in extraCerts. */
  readonly extraCerts: readonly Uint8Array[];
}

/** Reads a PKIMessage; throws `MalformedAsn1`. */
export function readPkiMessage(input: Uint8Array): ReceivedMessage {
  const parts = sequenceOf(decode(input, 'the reply'), 'PKIMessage');
  const [header, body, ...rest] = parts;
  if (!header || !body || body.idBlock.tagClass !== 3)
    throw new MalformedAsn1('PKIMessage: no header and body');
  const fields = sequenceOf(header, 'PKIHeader');
  const optional = new Map<number, asn1js.BaseBlock>();
  for (const f of fields.slice(3)) {
    if (f.idBlock.tagClass !== 3) throw new MalformedAsn1('PKIHeader: unexpected field');
    const inner = tagged(f, f.idBlock.tagNumber, 'PKIHeader');
    if (inner) optional.set(f.idBlock.tagNumber, inner);
  }
  const octetField = (n: number, what: string): Uint8Array | undefined =>
    optional.has(n) ? readOctets(optional.get(n), `PKIHeader.${what}`) : undefined;
  let protection: Uint8Array | undefined;
  const extraCerts: Uint8Array[] = [];
  for (const r of rest) {
    const p = tagged(r, 0, 'PKIMessage.protection');
    if (p) {
      const bits = readBitString(p, 'PKIMessage.protection');
      protection = new Uint8Array(bits.valueBlock.valueHexView);
      continue;
    }
    const certs = tagged(r, 1, 'PKIMessage.extraCerts');
    if (!certs) throw new MalformedAsn1('PKIMessage: unexpected field after the body');
    for (const c of sequenceOf(certs, 'PKIMessage.extraCerts')) extraCerts.push(encoded(c));
  }
  const [bodyContent] = children(body, 'PKIBody');
  if (!bodyContent || children(body, 'PKIBody').length !== 1)
    throw new MalformedAsn1('PKIBody: not one value');
  return {
    headerDer: encoded(header),
    bodyDer: encoded(body),
    pvno: readInteger(fields[0], 'PKIHeader.pvno'),
    protectionAlg: optional.get(1),
    transactionID: octetField(4, 'transactionID'),
    senderNonce: octetField(5, 'senderNonce'),
    recipNonce: octetField(6, 'recipNonce'),
    bodyType: body.idBlock.tagNumber,
    body: bodyContent,
    protection,
    extraCerts,
  };
}
