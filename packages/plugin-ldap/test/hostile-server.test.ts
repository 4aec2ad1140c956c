import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { ProtocolOperation } from 'ldapts';
import { LdapSession, type LdapSettings, ldapDirectoryStore } from '../src/index.js';
import {
  type FakeRequest,
  ldapResult,
  searchEntry,
  startFakeDirectory,
} from '../src/testing/fake-directory.js';
import { makeTls, type TlsFiles, userDn } from '../src/testing/slapd.js';

// What a directory server's operator (or a man in the middle the CA trusts; before StartTLS, anyone
// on the path) can make the client do through its replies: never hang it without a bounded
// timeout and a clear error, never make it hold memory without bound.

let files: TlsFiles;
let dir: string;
test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'credroam-hostile-ldap-'));
  files = await makeTls(path.join(dir, 'tls'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The fake directory for this test (`startFakeDirectory`), stopped when the test ends. */
async function fakeDirectory(
  t: ExecutionContext,
  answer: (request: FakeRequest, socket: net.Socket) => void,
  options: { startTls?: (request: FakeRequest, socket: net.Socket) => void } = {},
): Promise<string> {
  const { url, stop } = await startFakeDirectory(files, answer, options);
  t.teardown(stop);
  return url;
}

/** A directory store for alice on `url`, bound with a service account's password (no trust needed). */
function storeOn(t: ExecutionContext, url: string, settings: Record<string, unknown> = {}) {
  const store = ldapDirectoryStore({
    user: 'alice',
    home: dir,
    settings: {
      url,
      caFile: files.ca,
      bind: 'simple',
      userDn: userDn('alice'),
      bindDn: userDn('alice'),
      timeoutMs: 500,
      ...settings,
    },
    policy: { trustWithPassword: true },
    password: async () => 'alice password',
  });
  t.teardown(() => store.close());
  return store;
}

/** `promise`'s error, or a failure if it has neither settled nor failed within `ms`. */
async function failsWithin<T>(t: ExecutionContext, promise: Promise<T>, ms: number) {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    promise.then(
      () => ({ settled: 'resolved' as const }),
      (error: unknown) => ({ settled: 'rejected' as const, error: error as Error & { code?: string } }),
    ),
    new Promise<{ settled: 'hung' }>((resolve) => {
      timer = setTimeout(() => resolve({ settled: 'hung' }), ms);
    }),
  ]);
  clearTimeout(timer);
  t.is(outcome.settled, 'rejected', `after ${Date.now() - started} ms`);
  return outcome.settled === 'rejected' ? outcome.error : undefined;
}

test('ldap:// to a server (or anyone on the path) that accepts StartTLS and then sends nothing: the read fails within the timeout, E_UNREACHABLE naming TLS', async (t) => {
  const url = await fakeDirectory(t, () => undefined, {
    startTls: (request, socket) => socket.write(ldapResult(request.id, ProtocolOperation.LDAP_RES_EXTENSION)),
  });
  const error = await failsWithin(t, storeOn(t, url).read(), 5_000);
  t.is(error?.code, 'E_UNREACHABLE', error?.message);
  t.regex(error?.message ?? '', /TLS.*timed out after 500 ms/);
});

test('ldaps:// through a path that passes the TLS handshake on a byte at a time: the TLS check (doctor, and every GSSAPI bind) fails within the timeout', async (t) => {
  const url = await fakeDirectory(t, () => undefined);
  const relay = net.createServer((client) => {
    client.on('error', () => undefined);
    const upstream = net.connect(Number(new URL(url).port), '127.0.0.1');
    upstream.on('error', () => undefined);
    client.pipe(upstream);
    // Each byte a little before an idle timeout would fire: it never does.
    const bytes: number[] = [];
    upstream.on('data', (d: Buffer) => bytes.push(...d));
    const drip = setInterval(() => {
      if (bytes.length > 0) client.write(Buffer.from([bytes.shift()!]));
    }, 50);
    client.on('close', () => {
      clearInterval(drip);
      upstream.destroy();
    });
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => relay.close(() => resolve())));
  const session = new LdapSession(
    {
      url: `ldaps://127.0.0.1:${(relay.address() as net.AddressInfo).port}`,
      caFile: files.ca,
      bind: 'simple',
      timeoutMs: 500,
    } as LdapSettings,
    async () => ({ dn: '' }),
  );
  t.teardown(() => session.close());
  const error = await failsWithin(t, session.checkTls(), 5_000);
  t.is(error?.code, 'E_UNREACHABLE', error?.message);
  t.regex(error?.message ?? '', /TLS handshake timed out after 500 ms/);
});

for (const [name, header] of [
  ['a BER length of five bytes', [0x30, 0x85, 0x01, 0x00, 0x00, 0x00, 0x00]],
  ['an indefinite BER length', [0x30, 0x80]],
] as const) {
  test(`a server whose answer is framed so no message can be read (${name}): the read fails at once, not at its timeout`, async (t) => {
    const url = await fakeDirectory(t, (request, socket) => {
      if (request.op === 0x60)
        return void socket.write(ldapResult(request.id, ProtocolOperation.LDAP_RES_BIND));
      // The answer after the broken frame is never found: the parser cannot tell where it starts.
      socket.write(
        Buffer.concat([Buffer.from(header), ldapResult(request.id, ProtocolOperation.LDAP_RES_SEARCH)]),
      );
    });
    const error = await failsWithin(t, storeOn(t, url, { timeoutMs: 20_000 }).read(), 5_000);
    t.is(error?.code, 'E_UNREACHABLE', error?.message);
    t.regex(error?.message ?? '', /cannot be read/);
  });
}

/**
 * A directory that binds anyone and answers each search that asks for credroamToken with what
 * `ranges` says for the first value asked (`credroamToken;range=FROM-…`, or 0), and with no
 * attribute otherwise.
 */
function rangedDirectory(t: ExecutionContext, ranges: (from: number) => Record<string, Buffer[]>) {
  return fakeDirectory(t, (request, socket) => {
    if (request.op === 0x60)
      return void socket.write(ldapResult(request.id, ProtocolOperation.LDAP_RES_BIND));
    const asked = /credroamToken(?:;range=(\d+)-)?/i.exec(request.bytes.toString('latin1'));
    const done = ldapResult(request.id, ProtocolOperation.LDAP_RES_SEARCH);
    // One write: two small ones wait for each other (Nagle, delayed ACK), 40 ms a round.
    socket.write(
      asked
        ? Buffer.concat([searchEntry(request.id, userDn('alice'), ranges(Number(asked[1] ?? 0))), done])
        : done,
    );
  });
}

const value = (n: number) => Buffer.from(`value ${n}`);

test('values in ranges that follow each other up to the last (;range=N-*) are read whole', async (t) => {
  const url = await rangedDirectory(t, (from) =>
    from < 4
      ? { [`credroamToken;range=${from}-${from + 1}`]: [value(from), value(from + 1)] }
      : { [`credroamToken;range=${from}-*`]: [value(from)] },
  );
  const read = await storeOn(t, url).read();
  t.deepEqual(
    read.tokens.map((v) => Buffer.from(v).toString()),
    [0, 1, 2, 3, 4].map((n) => `value ${n}`),
  );
});

for (const [name, ranges, message] of [
  ['the same range again and again', () => ({ 'credroamToken;range=0-0': [value(0)] }), /range=0-0.*from 1/],
  [
    'ranges that overlap',
    (from: number) => ({ [`credroamToken;range=${Math.max(0, from - 1)}-${from + 1}`]: [value(from)] }),
    /range=1-3.*from 2/,
  ],
  [
    'two ranges of one attribute in one answer (each would be followed, doubling every round)',
    (from: number) => ({
      [`credroamToken;range=${from}-${from}`]: [value(from)],
      [`CREDROAMTOKEN;range=${from}-${from}`]: [value(from)],
    }),
    /two ranges of credroamToken/,
  ],
  [
    'ranges that follow each other but never end',
    (from: number) => ({ [`credroamToken;range=${from}-${from}`]: [value(from)] }),
    /more than 1000 ranges/,
  ],
] as const) {
  test(`a server whose ranged values go on forever (${name}): the read fails, E_LDAP naming the attribute, and holds no more`, async (t) => {
    const url = await rangedDirectory(t, ranges as (from: number) => Record<string, Buffer[]>);
    const error = await failsWithin(t, storeOn(t, url).read(), 30_000);
    t.is(error?.code, 'E_LDAP', error?.message);
    t.regex(error?.message ?? '', /credroamToken/i);
    t.regex(error?.message ?? '', message);
  });
}

test('a read asks for at most 1 000 ranges of values: the 1 001st is not asked for', async (t) => {
  let searches = 0;
  const url = await rangedDirectory(t, (from) => {
    searches++;
    return { [`credroamToken;range=${from}-${from}`]: [value(from)] };
  });
  const error = await failsWithin(t, storeOn(t, url).read(), 30_000);
  t.is(error?.code, 'E_LDAP', error?.message);
  t.is(searches, 1000);
});

// Serial: it takes the machine for a while, and the others' deadlines with it.
test.serial(
  'a server whose answer announces a message of a gigabyte and sends it: the read is cut off after 256 MiB, E_TOO_LARGE, memory bounded',
  async (t) => {
    const announced = 1024 * 1024 * 1024;
    let sent = 0;
    const url = await fakeDirectory(t, (request, socket) => {
      if (request.op === 0x60)
        return void socket.write(ldapResult(request.id, ProtocolOperation.LDAP_RES_BIND));
      // SEQUENCE of four length bytes { messageID, searchResEntry of four length bytes ... }: zeros.
      const length = Buffer.alloc(4);
      length.writeUInt32BE(announced);
      const inner = Buffer.alloc(4);
      inner.writeUInt32BE(announced - 9);
      socket.write(
        Buffer.concat([
          Buffer.from([0x30, 0x84]),
          length,
          Buffer.from([0x02, 0x01, request.id, 0x64, 0x84]),
          inner,
        ]),
      );
      const chunk = Buffer.alloc(1024 * 1024);
      const more = () => {
        while (sent < announced && !socket.destroyed) {
          sent += chunk.length;
          if (!socket.write(chunk)) return void socket.once('drain', more);
        }
      };
      more();
    });
    const error = await failsWithin(t, storeOn(t, url, { timeoutMs: 120_000 }).read(), 60_000);
    t.is(error?.code, 'E_TOO_LARGE', error?.message);
    t.regex(error?.message ?? '', /more than 268435456 bytes/);
    t.true(sent < 300 * 1024 * 1024, `the server sent ${sent} bytes`);
  },
);
