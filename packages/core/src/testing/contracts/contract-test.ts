import assert from 'node:assert/strict';

/**
 * What a contract test uses of its test framework: five assertions and a teardown. ava's `t`
 * has them as they are; `forNodeTest` makes them from `node:assert` for `node --test`.
 */
export interface ContractAssertions {
  is(actual: unknown, expected: unknown, message?: string): unknown;
  not(actual: unknown, expected: unknown, message?: string): unknown;
  deepEqual(actual: unknown, expected: unknown, message?: string): unknown;
  true(actual: unknown, message?: string): unknown;
  false(actual: unknown, message?: string): unknown;
  /** Runs `fn` when the test ends, passed or failed (ava's `t.teardown`, node:test's `t.after`). */
  teardown(fn: () => unknown): void;
}

/**
 * How a contract suite declares its tests: ava's `test` is one as it is
 * (`directoryStoreContract(test, 'mine', make)`); for `node:test`, pass `forNodeTest(test)`.
 */
export type ContractTest = (title: string, body: (t: ContractAssertions) => Promise<void>) => void;

/** The part of `node:test`'s context a contract needs. */
interface NodeTestContext {
  after(fn: () => unknown): void;
}

/** Adapts `node:test`'s `test` to a `ContractTest`: assertions from `node:assert/strict`. */
export function forNodeTest(
  test: (name: string, fn: (t: NodeTestContext) => Promise<void>) => unknown,
): ContractTest {
  return (title, body) => {
    test(title, async (context) => {
      await body({
        is: (a, e, m) => assert.equal(a, e, m),
        not: (a, e, m) => assert.notEqual(a, e, m),
        deepEqual: (a, e, m) => assert.deepEqual(a, e, m),
        true: (a, m) => assert.equal(a, true, m),
        false: (a, m) => assert.equal(a, false, m),
        teardown: (fn) => context.after(fn),
      });
    });
  };
}

/** The error `fn` throws (or rejects with); undefined when it succeeds. */
export async function thrownBy(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
    return undefined;
  } catch (error) {
    return error;
  }
}

/** Byte strings a store or protector must carry exactly: every byte value, NULs, high bytes, a long one. */
export function hostileBytes(): Uint8Array[] {
  const every = new Uint8Array(256).map((_, i) => i);
  const long = new Uint8Array(16 * 1024).map((_, i) => (i * 131 + 7) % 256);
  return [
    every,
    new Uint8Array([0]),
    new Uint8Array([0xff, 0xfe, 0x00, 0x0a, 0x0d]),
    new TextEncoder().encode('{"looks":"like JSON"}\n'),
    new TextEncoder().encode('cn=x,dc=y\u0000../../etc/passwd'),
    long,
  ];
}

/** A fresh value, different on each call (as a writer's new change stamp is). */
export function freshValue(label: string): Uint8Array {
  return new TextEncoder().encode(`${label}:${process.hrtime.bigint()}:${Math.random()}`);
}
