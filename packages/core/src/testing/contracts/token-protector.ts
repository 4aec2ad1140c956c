import { AuthenticationError } from '../../api/errors.js';
import type { TokenProtector } from '../../api/points/token-protector.js';
import type { TokenKind } from '../../api/token-kind.js';
import { type ContractAssertions, type ContractTest, hostileBytes, thrownBy } from './contract-test.js';

/** What a `TokenProtector` contract test runs on: a protector ready to seal (unlocked, if it has a password). */
export interface TokenProtectorSubject {
  readonly protector: TokenProtector;
  /** Another user's protector (other keys): what it sealed must not open here. Optional. */
  readonly otherUser?: TokenProtector;
}

const KINDS: readonly TokenKind[] = ['cert', 'key', 'attrs'];
const aadFor = (kind: TokenKind, n = 0) =>
  new TextEncoder().encode(`alice|${kind}|id-${n}|flags=0|t=1700000000`);

/**
 * The behaviour every `TokenProtector` owes the engine: what it seals opens to the same bytes, only
 * with the same associated data; a changed byte anywhere is refused with `AuthenticationError`; a
 * private key never comes out in clear.
 */
export function tokenProtectorContract(
  test: ContractTest,
  name: string,
  make: (t: ContractAssertions) => Promise<TokenProtectorSubject>,
): void {
  test(`${name} (TokenProtector contract): seal then open gives the same bytes, for every kind and hostile payloads`, async (t) => {
    const { protector } = await make(t);
    for (const kind of KINDS) {
      for (const [n, payload] of [new Uint8Array(0), ...hostileBytes()].entries()) {
        const aad = aadFor(kind, n);
        const sealed = await protector.seal({ kind, payload, aad });
        const opened = await protector.open({ kind, sealed, aad });
        t.deepEqual(Buffer.from(opened), Buffer.from(payload), `${kind} payload ${n}`);
      }
    }
  });

  test(`${name} (TokenProtector contract): a private key does not come out in clear, and two seals of one payload differ`, async (t) => {
    const { protector } = await make(t);
    const payload = new TextEncoder().encode(
      '-----PRIVATE KEY MATERIAL----- 0123456789abcdef0123456789abcdef',
    );
    const a = Buffer.from(await protector.seal({ kind: 'key', payload, aad: aadFor('key') }));
    const b = Buffer.from(await protector.seal({ kind: 'key', payload, aad: aadFor('key') }));
    t.is(a.indexOf(Buffer.from(payload.subarray(0, 16))), -1, 'no part of the key in the sealed bytes');
    t.false(a.equals(b), 'each seal is fresh');
  });

  test(`${name} (TokenProtector contract): other associated data is refused with AuthenticationError`, async (t) => {
    const { protector } = await make(t);
    const payload = new TextEncoder().encode('payload');
    const sealed = await protector.seal({ kind: 'cert', payload, aad: aadFor('cert', 1) });
    for (const aad of [aadFor('cert', 2), aadFor('key', 1), new Uint8Array(0)]) {
      const error = await thrownBy(() => protector.open({ kind: 'cert', sealed, aad }));
      t.true(error instanceof AuthenticationError, `other aad: an AuthenticationError, not ${String(error)}`);
    }
  });

  test(`${name} (TokenProtector contract): a changed byte anywhere, a cut, or garbage is refused with AuthenticationError`, async (t) => {
    const { protector, otherUser } = await make(t);
    const payload = new TextEncoder().encode('payload to tamper with');
    const aad = aadFor('key');
    const sealed = await protector.seal({ kind: 'key', payload, aad });
    const tampered: Uint8Array[] = [];
    for (const at of new Set([0, 1, Math.floor(sealed.length / 2), sealed.length - 1])) {
      const copy = new Uint8Array(sealed);
      copy[at] = (copy[at] ?? 0) ^ 0x01;
      tampered.push(copy);
    }
    tampered.push(sealed.subarray(0, sealed.length - 1), new Uint8Array(0), new Uint8Array(64).fill(0x41));
    if (otherUser) tampered.push(await otherUser.seal({ kind: 'key', payload, aad }));
    for (const [n, bad] of tampered.entries()) {
      const error = await thrownBy(() => protector.open({ kind: 'key', sealed: bad, aad }));
      t.true(error instanceof AuthenticationError, `case ${n}: an AuthenticationError, not ${String(error)}`);
    }
  });
}
