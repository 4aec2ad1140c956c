import { CredroamError } from '@credroam/core/api';
import * as asn1js from 'asn1js';

const DSA = '1.2.840.10040.4.1';
const DH = ['1.2.840.113549.1.3.1', '1.2.840.10046.2.1'];
const EC = '1.2.840.10045.2.1';

/** Bytes of the largest parameters a key may carry before OpenSSL is asked to read it. */
const LIMITS = { dsaP: 512, dsaQ: 33, dhP: 1024, ecParams: 1024 };

const tooCostly = (what: string): never => {
  throw new CredroamError(
    'E_IMPORT',
    `the private key's ${what} is larger than any real key's; nothing was imported`,
  );
};

const intBytes = (v: asn1js.BaseBlock | undefined) =>
  v instanceof asn1js.Integer ? v.valueBlock.valueHexView.length : Number.POSITIVE_INFINITY;

function checkDsa(p: asn1js.BaseBlock | undefined, q: asn1js.BaseBlock | undefined): void {
  if (intBytes(p) > LIMITS.dsaP) tooCostly('DSA modulus');
  if (intBytes(q) > LIMITS.dsaQ) tooCostly('DSA subgroup order');
}

/**
 * Refuses a private key whose parameters would make OpenSSL compute for minutes before it is read:
 * DSA with a modulus above 4096 bits (or a subgroup above 256 bits), DH above 8192 bits, EC with
 * explicit curve parameters of unusual size. `der` is PKCS#8 (`pkcs8`) or OpenSSL's traditional
 * DSA key (`dsa`); anything else is left to OpenSSL, which bounds it.
 */
export function checkKeyCost(der: Uint8Array, form: 'pkcs8' | 'dsa' = 'pkcs8'): void {
  const { result, offset } = asn1js.fromBER(der);
  if (offset === -1 || !(result instanceof asn1js.Sequence)) return;
  const items = result.valueBlock.value;
  if (form === 'dsa') {
    checkDsa(items[1], items[2]);
    return;
  }
  const alg = items[1];
  if (!(alg instanceof asn1js.Sequence)) return;
  const [oid, params] = alg.valueBlock.value;
  if (!(oid instanceof asn1js.ObjectIdentifier)) return;
  const id = oid.valueBlock.toString();
  if (id === DSA && params instanceof asn1js.Sequence)
    checkDsa(params.valueBlock.value[0], params.valueBlock.value[1]);
  if (
    DH.includes(id) &&
    params instanceof asn1js.Sequence &&
    intBytes(params.valueBlock.value[0]) > LIMITS.dhP
  ) {
    tooCostly('DH modulus');
  }
  if (
    id === EC &&
    params instanceof asn1js.Sequence &&
    params.valueBeforeDecodeView.length > LIMITS.ecParams
  ) {
    tooCostly('explicit curve');
  }
}
