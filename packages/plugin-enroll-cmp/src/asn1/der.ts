import * as asn1js from 'asn1js';

/**
 * Small typed helpers over asn1js for the CMP structures: builders (context tags, OIDs, octets) and
 * a reader that walks a decoded tree and throws `MalformedAsn1` naming what it expected. The
 * parsers in this folder catch it at their boundary and return a tagged result.
 */
export class MalformedAsn1 extends Error {}

export const bytes = (b: ArrayBuffer | Uint8Array): Uint8Array =>
  b instanceof Uint8Array ? b : new Uint8Array(b);

export const der = (node: asn1js.BaseBlock): Uint8Array => bytes(node.toBER(false));

export const oid = (value: string): asn1js.ObjectIdentifier => new asn1js.ObjectIdentifier({ value });
export const octets = (b: Uint8Array): asn1js.OctetString => new asn1js.OctetString({ valueHex: b });
export const integer = (value: number): asn1js.Integer => new asn1js.Integer({ value });
export const seq = (...value: asn1js.BaseBlock[]): asn1js.Sequence => new asn1js.Sequence({ value });

/** `[n] EXPLICIT` (or, for a constructed type under IMPLICIT tags, its content under the tag). */
export const explicit = (tagNumber: number, ...value: asn1js.BaseBlock[]): asn1js.Constructed =>
  new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber }, value });

/** `[n] IMPLICIT` over a primitive value (an IA5String in a GeneralName). */
export const implicitPrimitive = (tagNumber: number, content: Uint8Array): asn1js.Primitive =>
  new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber }, valueHex: content });

/** Parses DER, the whole buffer one value, or throws `MalformedAsn1`. */
export function decode(input: Uint8Array, what: string): asn1js.BaseBlock {
  const copy = new Uint8Array(input).buffer; // a copy: a Buffer may be a view of a larger pool
  const parsed = asn1js.fromBER(copy);
  if (parsed.offset === -1 || parsed.result.error) throw new MalformedAsn1(`${what} is not DER`);
  if (parsed.offset !== input.length) throw new MalformedAsn1(`${what} has trailing bytes`);
  return parsed.result;
}

/** The bytes a decoded value was read from (its tag, length and content). */
export const encoded = (node: asn1js.BaseBlock): Uint8Array => bytes(node.valueBeforeDecodeView).slice();

const isContext = (node: asn1js.BaseBlock, n: number): boolean =>
  node.idBlock.tagClass === 3 && node.idBlock.tagNumber === n;
const isUniversal = (node: asn1js.BaseBlock, n: number): boolean =>
  node.idBlock.tagClass === 1 && node.idBlock.tagNumber === n;

/** The children of a SEQUENCE (or SET, or a constructed context tag). */
export function children(node: asn1js.BaseBlock | undefined, what: string): asn1js.BaseBlock[] {
  if (!node?.idBlock.isConstructed) throw new MalformedAsn1(`${what}: expected a constructed value`);
  return (node as asn1js.Constructed).valueBlock.value;
}

export function sequenceOf(node: asn1js.BaseBlock | undefined, what: string): asn1js.BaseBlock[] {
  if (!node || !isUniversal(node, 16)) throw new MalformedAsn1(`${what}: expected a SEQUENCE`);
  return children(node, what);
}

/** The one value inside `[n] EXPLICIT`, or undefined when `node` is not that tag. */
export function tagged(
  node: asn1js.BaseBlock | undefined,
  n: number,
  what: string,
): asn1js.BaseBlock | undefined {
  if (!node || !isContext(node, n)) return undefined;
  const inner = children(node, what);
  if (inner.length !== 1) throw new MalformedAsn1(`${what}: expected one value in [${n}]`);
  return inner[0];
}

export function readInteger(node: asn1js.BaseBlock | undefined, what: string): number {
  if (!(node instanceof asn1js.Integer)) throw new MalformedAsn1(`${what}: expected an INTEGER`);
  const big = node.toBigInt();
  if (big < -(2n ** 31n) || big > 2n ** 31n) throw new MalformedAsn1(`${what}: INTEGER out of range`);
  return Number(big);
}

export function readOctets(node: asn1js.BaseBlock | undefined, what: string): Uint8Array {
  if (!(node instanceof asn1js.OctetString) || node.idBlock.isConstructed)
    throw new MalformedAsn1(`${what}: expected an OCTET STRING`);
  return bytes(node.valueBlock.valueHexView).slice();
}

export function readOid(node: asn1js.BaseBlock | undefined, what: string): string {
  if (!(node instanceof asn1js.ObjectIdentifier)) throw new MalformedAsn1(`${what}: expected an OID`);
  return node.valueBlock.toString();
}

/** A BIT STRING's bytes (unused bits must be 0 where a whole number of bytes is meant). */
export function readBitString(node: asn1js.BaseBlock | undefined, what: string): asn1js.BitString {
  if (!(node instanceof asn1js.BitString) || node.idBlock.isConstructed)
    throw new MalformedAsn1(`${what}: expected a BIT STRING`);
  return node;
}

/** PKIFreeText ::= SEQUENCE SIZE (1..MAX) OF UTF8String */
export function readFreeText(node: asn1js.BaseBlock | undefined, what: string): string[] {
  return sequenceOf(node, what).map((s) => {
    if (!(s instanceof asn1js.Utf8String)) throw new MalformedAsn1(`${what}: expected UTF8String`);
    return s.valueBlock.value;
  });
}

/** Wraps already-encoded DER values in a SEQUENCE (the MAC's ProtectedPart over the bytes received). */
export function sequenceOfEncoded(...parts: Uint8Array[]): Uint8Array {
  const length = parts.reduce((n, p) => n + p.length, 0);
  return Buffer.concat([Uint8Array.from([0x30, ...derLength(length)]), ...parts]);
}

function derLength(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v % 256);
  return [0x80 | out.length, ...out];
}
