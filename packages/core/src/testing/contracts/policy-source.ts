import { POLICY_BUNDLE_MAX_BYTES, type PolicySource } from '../../api/points/policy-source.js';
import type { ContractAssertions, ContractTest } from './contract-test.js';
import { thrownBy } from './contract-test.js';

/** What a `PolicySource` contract test runs on: sources over a bundle the test chose. */
export interface PolicySourceSubject {
  /** A source that holds exactly `bytes` (a bundle's bytes: the source does not parse them). */
  readonly holding: (bytes: Uint8Array) => Promise<PolicySource>;
  /** A source that holds no bundle. */
  readonly empty: () => Promise<PolicySource>;
}

/**
 * The behaviour every `PolicySource` owes core: it hands over the bytes it holds unchanged (it
 * never parses or trusts them), `undefined` when it holds none, and never more than
 * `POLICY_BUNDLE_MAX_BYTES`: a larger bundle is an error, not truncated.
 */
export function policySourceContract(
  test: ContractTest,
  name: string,
  make: (t: ContractAssertions) => Promise<PolicySourceSubject>,
): void {
  test(`${name} (PolicySource contract): hands over the bytes it holds, unchanged, each time`, async (t) => {
    const subject = await make(t);
    const bytes = new Uint8Array(4096).map((_, i) => (i * 37 + 11) % 256);
    const source = await subject.holding(bytes);
    for (let n = 0; n < 2; n++) {
      const got = await source.fetch();
      t.true(got instanceof Uint8Array, 'a Uint8Array');
      t.deepEqual(Buffer.from(got ?? []), Buffer.from(bytes));
    }
  });

  test(`${name} (PolicySource contract): undefined when it holds none`, async (t) => {
    const subject = await make(t);
    t.is(await (await subject.empty()).fetch(), undefined);
  });

  test(`${name} (PolicySource contract): a bundle of the largest size is handed over; a larger one is an error, not truncated`, async (t) => {
    const subject = await make(t);
    const largest = new Uint8Array(POLICY_BUNDLE_MAX_BYTES).fill(0x30);
    t.is((await (await subject.holding(largest)).fetch())?.length, POLICY_BUNDLE_MAX_BYTES);
    const source = await subject.holding(new Uint8Array(POLICY_BUNDLE_MAX_BYTES + 1).fill(0x30));
    const error = await thrownBy(() => source.fetch());
    t.true(error instanceof Error, `an error, not ${String(error)}`);
  });
}
