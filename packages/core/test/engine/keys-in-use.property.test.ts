import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import fc from 'fast-check';
import { MemorySyncStateStore, tokenKey, X509ContentInspector } from '../../src/index.js';
import {
  MemoryLocalStore,
  makeEngine,
  opensslCertOnKey,
  opensslCredential,
  ReplicatedDirectory,
} from '../../src/testing/index.js';
import { tempDir } from '../support/temp.js';

/**
 * Certificates that share a private key (a renewal that kept it); endpoints that import, remove
 * (as `credroam remove`: a key goes with its certificate unless another certificate there uses
 * it), delete a key file by hand, sync and crash; a directory writer who deletes and replays
 * values (it cannot forge one). No sync takes from an endpoint a key that a certificate held there
 * after it uses (whoever deleted the key without knowing that certificate); once the writer stops,
 * full syncs succeed and settle (a last round writes nothing).
 */

const _run = promisify(execFile);
const ENDPOINTS = 2;

type Command =
  | { t: 'import'; e: number; c: number }
  | { t: 'remove'; e: number; c: number }
  | { t: 'delete-key'; e: number; k: number }
  | { t: 'sync'; e: number; full: boolean }
  | { t: 'crash'; e: number; at: 'after-write' | 'save' | 'local-put' }
  | { t: 'writer-delete'; pick: number }
  | { t: 'writer-replay'; pick: number };

async function credentials(dir: string) {
  // Three certificates on key 0 (one made first, two that kept it), one on key 1.
  const a = await opensslCredential(dir, 'k0');
  const b = await opensslCredential(dir, 'k1');
  const more = [
    await opensslCertOnKey(dir, 'k0', 'k0-second', 0),
    await opensslCertOnKey(dir, 'k0', 'k0-third', 0),
  ];
  const certs = [a.cert, ...more, b.cert];
  const keyOfCert = [a.key, a.key, a.key, b.key];
  return { certs, keyOfCert, keys: [a.key, b.key] };
}

class CrashingState extends MemorySyncStateStore {
  failNextSave = false;
  override async save(state: Parameters<MemorySyncStateStore['save']>[0]): Promise<void> {
    if (this.failNextSave) {
      this.failNextSave = false;
      throw new Error('injected: killed before the state was saved');
    }
    return super.save(state);
  }
}

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ t: fc.constant('import' as const), e: fc.nat(ENDPOINTS - 1), c: fc.nat(3) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant('remove' as const), e: fc.nat(ENDPOINTS - 1), c: fc.nat(3) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant('delete-key' as const), e: fc.nat(ENDPOINTS - 1), k: fc.nat(1) }),
  },
  {
    weight: 5,
    arbitrary: fc.record({ t: fc.constant('sync' as const), e: fc.nat(ENDPOINTS - 1), full: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('crash' as const),
      e: fc.nat(ENDPOINTS - 1),
      at: fc.constantFrom('after-write' as const, 'save' as const, 'local-put' as const),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('writer-delete' as const), pick: fc.nat(1000) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('writer-replay' as const), pick: fc.nat(1000) }) },
);

test('certificates sharing a key: no sync takes a key a certificate held there uses, whatever the endpoints and a directory writer do; the syncs settle', async (t) => {
  const creds = await credentials(await tempDir(t));
  const keyKey = (i: number) => tokenKey('key', creds.keyOfCert[i]!.id);
  await fc.assert(
    fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 40 }), async (cs) => {
      const clock = { now: 1_700_000_100_000 };
      const dir = new ReplicatedDirectory(1);
      const server = dir.server(0);
      const seen = new Set<string>();
      const endpoints = Array.from({ length: ENDPOINTS }, () => {
        const local = new MemoryLocalStore(() => clock.now);
        const state = new CrashingState();
        const { engine } = makeEngine({
          directory: server,
          local,
          state,
          now: () => clock.now,
          inspector: new X509ContentInspector(),
        });
        return { local, state, engine };
      });
      // A sync never takes from an endpoint a key that a certificate there uses after it.
      const synced = async (e: number, sync: () => Promise<unknown>, mayFail = true): Promise<void> => {
        const ep = endpoints[e]!;
        const before = new Set(ep.local.items.keys());
        await sync().catch((error: unknown) => {
          if (!mayFail) throw error;
        });
        for (const [i, cert] of creds.certs.entries()) {
          const key = keyKey(i);
          if (ep.local.items.has(tokenKey('cert', cert.id)) && before.has(key) && !ep.local.items.has(key))
            throw new Error(`a sync of endpoint ${e} took the key of certificate ${i}, which it holds`);
        }
      };
      for (const c of cs) {
        clock.now += 1000;
        switch (c.t) {
          case 'import': {
            const ep = endpoints[c.e]!;
            for (const item of [creds.certs[c.c]!, creds.keyOfCert[c.c]!])
              ep.local.items.set(tokenKey(item.kind, item.id), { ...item, modified: clock.now });
            break;
          }
          case 'remove': {
            const ep = endpoints[c.e]!;
            const certKey = tokenKey('cert', creds.certs[c.c]!.id);
            if (!ep.local.items.has(certKey)) break;
            ep.local.userDelete(certKey);
            const key = keyKey(c.c);
            const used = creds.certs.some(
              (cert, i) => keyKey(i) === key && ep.local.items.has(tokenKey('cert', cert.id)),
            );
            if (!used && ep.local.items.has(key)) ep.local.userDelete(key);
            break;
          }
          case 'delete-key': {
            // By hand, from the store's folder, the certificates left in place.
            const key = tokenKey('key', creds.keys[c.k]!.id);
            if (endpoints[c.e]!.local.items.has(key)) endpoints[c.e]!.local.userDelete(key);
            break;
          }
          case 'sync':
            await synced(c.e, () => endpoints[c.e]!.engine.sync({ full: c.full }));
            break;
          case 'crash': {
            const ep = endpoints[c.e]!;
            if (c.at === 'after-write') server.failNextWriteAfterApply = true;
            if (c.at === 'save') ep.state.failNextSave = true;
            if (c.at === 'local-put') ep.local.failNext = 'put';
            await synced(c.e, () => ep.engine.sync({ full: true }));
            server.failNextWriteAfterApply = false;
            ep.state.failNextSave = false;
            ep.local.failNext = undefined;
            break;
          }
          case 'writer-delete': {
            const values = [...dir.replicas[0]!.tokens];
            if (values.length > 0) dir.replicas[0]!.tokens.delete(values[c.pick % values.length]!);
            break;
          }
          case 'writer-replay': {
            const values = [...seen];
            if (values.length > 0) dir.replicas[0]!.tokens.add(values[c.pick % values.length]!);
            break;
          }
        }
        for (const v of dir.replicas[0]!.tokens) seen.add(v);
      }
      // Quiescence: the writer stops; full syncs, none failing, settle: a last round writes nothing.
      const round = async () => {
        for (const [e, ep] of endpoints.entries()) {
          clock.now += 1000;
          await synced(e, () => ep.engine.sync({ full: true }), false);
        }
      };
      for (let r = 0; r < 4; r++) await round();
      const writes = dir.ops.write;
      await round();
      if (dir.ops.write !== writes) throw new Error('the endpoints still write after quiescence');
    }),
    { numRuns: Number(process.env.CREDROAM_PROPERTY_RUNS ?? 200) },
  );
  t.pass('no key lost');
});
