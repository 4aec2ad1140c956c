import test from 'ava';
import { fromWireError, Peer, toWireError } from '../../src/host/isolation/peer.js';
import type { CallMessage, ResultMessage } from '../../src/host/isolation/protocol.js';
import { ConflictError, CredroamError } from '../../src/index.js';

/** Two peers wired to each other in one process, as the host and a plugin's process are over IPC. */
function pair() {
  const sides: { host?: Peer; plugin?: Peer } = {};
  const deliver = (to: () => Peer) => (m: unknown) =>
    queueMicrotask(() => {
      const message = structuredClone(m) as CallMessage | ResultMessage;
      if (message.t === 'call') void to().answer(message);
      else to().settle(message);
    });
  sides.host = new Peer(
    deliver(() => sides.plugin!),
    'test.plugin',
  );
  sides.plugin = new Peer(
    deliver(() => sides.host!),
    'host',
  );
  return sides as { host: Peer; plugin: Peer };
}

test('an object with methods crosses as a proxy whose calls run on the side that holds it; byte arrays cross as they are', async (t) => {
  const { host, plugin } = pair();
  class Store {
    values: Uint8Array[] = [];
    async add(v: Uint8Array) {
      this.values.push(v);
      return this.values.length;
    }
  }
  const store = new Store();
  const proxy = host.decode(structuredClone(plugin.encode(store))) as { add(v: Uint8Array): Promise<number> };
  t.is(await proxy.add(new Uint8Array([1, 2])), 1);
  t.deepEqual(store.values, [new Uint8Array([1, 2])]);
});

test('a proxy is never a thenable, and a __proto__ member does not reach a prototype', async (t) => {
  const { host } = pair();
  const hostile = {
    $remote: 1,
    methods: ['then', '__proto__', 'read'],
    data: { ['__proto__']: { polluted: true } },
  };
  const decoded = host.decode(JSON.parse(JSON.stringify(hostile))) as Record<string, unknown>;
  t.is(decoded.then, undefined);
  t.is(typeof decoded.read, 'function');
  t.is(Object.getPrototypeOf(decoded), Object.prototype);
  t.is((decoded as { polluted?: boolean }).polluted, undefined);
  const plain = host.decode(JSON.parse('{"__proto__": {"polluted": true}, "a": 1}')) as Record<
    string,
    unknown
  >;
  t.deepEqual(Object.keys(plain), ['a']);
  t.is(Object.getPrototypeOf(plain), Object.prototype);
});

test('only the methods of an object handed over can be called through its handle', async (t) => {
  const { host, plugin } = pair();
  const remote = plugin.encode({ secret: 'data member', ping: () => 'pong' }) as { $remote: number };
  const callMethod = (method: string) =>
    host.request({ t: 'call', handle: remote.$remote, method, args: [] });
  t.is(await callMethod('ping'), 'pong');
  for (const method of ['secret', 'constructor', 'toString', 'hasOwnProperty']) {
    const error = (await t.throwsAsync(callMethod(method))) as CredroamError;
    t.is(error.code, 'E_PLUGIN', method);
  }
  await t.throwsAsync(host.request({ t: 'call', handle: 999, args: [] }), { message: 'no such function' });
});

test('errors cross as registry codes: E_CONFLICT a ConflictError again, an unknown code E_PLUGIN; no stack, no object details', (t) => {
  const conflict = fromWireError(
    toWireError(new ConflictError('lost the race', { attribute: 'tokens' })),
    'p',
  );
  t.true(conflict instanceof ConflictError);
  t.deepEqual(conflict.details, { attribute: 'tokens', plugin: 'p' });
  const invented = toWireError(
    Object.assign(new Error('mine'), { code: 'E_NOT_OURS', details: { file: '/x', key: { d: 'secret' } } }),
  );
  t.deepEqual(invented, {
    code: 'E_PLUGIN',
    message: 'mine',
    details: { file: '/x', pluginCode: 'E_NOT_OURS' },
  });
  t.false('stack' in invented);
  const forged = fromWireError(
    { code: 'E_NOT_OURS', message: 'x', details: { plugin: 'another.plugin' } },
    'p',
  );
  t.is(forged.code, 'E_PLUGIN');
  t.is(forged.details.plugin, 'p', 'the plugin it came through, whatever it says');
  t.true(fromWireError({ code: 'E_TIMEOUT', message: 'slow', details: {} }, 'p') instanceof CredroamError);
});
