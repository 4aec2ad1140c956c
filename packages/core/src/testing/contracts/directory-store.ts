import { ConflictError } from '../../api/errors.js';
import type { DirectorySnapshot, DirectoryStore } from '../../api/points/directory-store.js';
import {
  type ContractAssertions,
  type ContractTest,
  freshValue,
  hostileBytes,
  thrownBy,
} from './contract-test.js';

/** What a `DirectoryStore` contract test runs on: a store bound to a user whose entry holds nothing yet. */
export interface DirectoryStoreSubject {
  readonly store: DirectoryStore;
  /**
   * A second store on the same entry (another endpoint), for the races; default: `store` itself.
   * A store that caches must give a second instance here.
   */
  readonly other?: DirectoryStore;
}

const hex = (values: readonly Uint8Array[]) => values.map((v) => Buffer.from(v).toString('hex')).sort();

/**
 * The behaviour every `DirectoryStore` owes the engine, written against the interface only: the
 * built-in folder directory and the LDAP store (against a real slapd) run it, and so can yours.
 * `make` gives each test a store on an empty entry of its own. It checks that `write` is a
 * compare-and-swap of exact values that applies all or nothing, that two writers racing from the
 * same stamp cannot both win, and that values come back byte for byte, whatever bytes they hold.
 */
export function directoryStoreContract(
  test: ContractTest,
  name: string,
  make: (t: ContractAssertions) => Promise<DirectoryStoreSubject>,
): void {
  const snapshot = (s: Pick<DirectorySnapshot, 'stamp' | 'keys'> & Partial<DirectorySnapshot>) => ({
    stamp: hex(s.stamp),
    tokens: hex(s.tokens ?? []),
    keys: hex(s.keys),
  });

  test(`${name} (DirectoryStore contract): an empty entry reads empty, with nothing irregular`, async (t) => {
    const { store } = await make(t);
    const read = await store.read();
    t.deepEqual(snapshot(read), { stamp: [], tokens: [], keys: [] });
    t.deepEqual(read.irregular ?? [], []);
    t.deepEqual(hex(await store.readStamp()), []);
  });

  test(`${name} (DirectoryStore contract): values written come back byte for byte (every byte value, NULs, 16 KiB)`, async (t) => {
    const { store } = await make(t);
    const tokens = hostileBytes();
    const keys = [freshValue('key')];
    const stamp = freshValue('stamp');
    await store.write({
      tokens: { remove: [], add: tokens },
      keys: { remove: [], add: keys },
      stamp: { remove: [], add: [stamp] },
    });
    t.deepEqual(snapshot(await store.read()), { stamp: hex([stamp]), tokens: hex(tokens), keys: hex(keys) });
    t.deepEqual(hex(await store.readStamp()), hex([stamp]));
    const k = await store.readKeys();
    t.deepEqual({ stamp: hex(k.stamp), keys: hex(k.keys) }, { stamp: hex([stamp]), keys: hex(keys) });
  });

  test(`${name} (DirectoryStore contract): a write removes exactly the values it names and keeps the others`, async (t) => {
    const { store } = await make(t);
    const [a, b, c] = [freshValue('a'), freshValue('b'), freshValue('c')];
    const s1 = freshValue('s1');
    const s2 = freshValue('s2');
    await store.write({ tokens: { remove: [], add: [a, b] }, stamp: { remove: [], add: [s1] } });
    await store.write({ tokens: { remove: [a], add: [c] }, stamp: { remove: [s1], add: [s2] } });
    t.deepEqual(snapshot(await store.read()), { stamp: hex([s2]), tokens: hex([b, c]), keys: [] });
  });

  test(`${name} (DirectoryStore contract): removing a value that is gone is a ConflictError and applies nothing`, async (t) => {
    const { store } = await make(t);
    const s1 = freshValue('s1');
    const kept = freshValue('kept');
    await store.write({ tokens: { remove: [], add: [kept] }, stamp: { remove: [], add: [s1] } });
    const before = snapshot(await store.read());
    const error = await thrownBy(() =>
      store.write({
        tokens: { remove: [freshValue('never-there')], add: [freshValue('new')] },
        stamp: { remove: [s1], add: [freshValue('s2')] },
      }),
    );
    t.true(error instanceof ConflictError, `a ConflictError, not ${String(error)}`);
    t.deepEqual(snapshot(await store.read()), before);
  });

  test(`${name} (DirectoryStore contract): adding a value that is already there is a ConflictError and applies nothing`, async (t) => {
    const { store } = await make(t);
    const s1 = freshValue('s1');
    const there = freshValue('there');
    await store.write({
      tokens: { remove: [], add: [there] },
      keys: { remove: [], add: [] },
      stamp: { remove: [], add: [s1] },
    });
    const before = snapshot(await store.read());
    const error = await thrownBy(() =>
      store.write({
        tokens: { remove: [], add: [there, freshValue('other')] },
        stamp: { remove: [s1], add: [freshValue('s2')] },
      }),
    );
    t.true(error instanceof ConflictError, `a ConflictError, not ${String(error)}`);
    t.deepEqual(snapshot(await store.read()), before);
    // An empty stamp guards nothing: a first writer's stamp, added twice, conflicts too.
    const { store: fresh } = await make(t);
    const first = freshValue('first');
    await fresh.write({ stamp: { remove: [], add: [first] } });
    t.true(
      (await thrownBy(() => fresh.write({ stamp: { remove: [], add: [first] } }))) instanceof ConflictError,
    );
  });

  test(`${name} (DirectoryStore contract): two writers racing from the same stamp: exactly one wins, the other conflicts`, async (t) => {
    const { store, other = store } = await make(t);
    const s0 = freshValue('s0');
    await store.write({ stamp: { remove: [], add: [s0] } });
    const mine = freshValue('mine');
    const theirs = freshValue('theirs');
    const results = await Promise.allSettled([
      store.write({
        tokens: { remove: [], add: [mine] },
        stamp: { remove: [s0], add: [freshValue('s-mine')] },
      }),
      other.write({
        tokens: { remove: [], add: [theirs] },
        stamp: { remove: [s0], add: [freshValue('s-theirs')] },
      }),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled').length;
    t.is(won, 1, 'exactly one write applies');
    const lost = results.find((r) => r.status === 'rejected');
    t.true(
      lost?.status === 'rejected' && lost.reason instanceof ConflictError,
      'the other is a ConflictError',
    );
    const read = await store.read();
    t.is(read.stamp.length, 1, 'one stamp');
    t.is(read.tokens.length, 1, "only the winner's token");
  });
}
