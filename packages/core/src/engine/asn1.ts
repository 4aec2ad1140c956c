import { createRequire } from 'node:module';
import type * as Asn1js from 'asn1js';

let loaded: typeof Asn1js | undefined;

/**
 * asn1js, loaded at its first use: the 24 modules it and its helpers are cost about 30 ms of every
 * start, which a command that parses no certificate (a sync with nothing to do, a logon before its
 * key derivation starts) does not pay (decision 024). Node ≥ 20.19 loads an ES module this way,
 * synchronously, as the same module instance an `import` gives (pkijs's `instanceof` checks hold).
 */
export function asn1js(): typeof Asn1js {
  loaded ??= createRequire(import.meta.url)('asn1js') as typeof Asn1js;
  return loaded;
}
