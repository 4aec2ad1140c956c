import { readFile } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import { Attribute, BerWriter, ProtocolOperation } from 'ldapts';
import type { TlsFiles } from './slapd.js';

/**
 * A fake directory server on 127.0.0.1 for tests of what a hostile or broken server (its operator,
 * or a man in the middle the CA trusts) makes the client do: it hands each LDAP request to the
 * test, which writes whatever answer it likes with `ldapMessage`, `ldapResult` and `searchEntry`.
 * Not for production use.
 */

/** One request as the fake server sees it: its message id, its operation's tag, and its bytes. */
export interface FakeRequest {
  readonly id: number;
  readonly op: number;
  readonly bytes: Buffer;
}

/** An LDAPMessage: `id`, then the operation `op` whose content `write` writes. */
export function ldapMessage(id: number, op: number, write: (w: BerWriter) => void): Buffer {
  const w = new BerWriter();
  w.startSequence();
  w.writeInt(id);
  w.startSequence(op);
  write(w);
  w.endSequence();
  w.endSequence();
  return Buffer.from(w.buffer);
}

/** An LDAPResult of `code` (with `diagnostic` as its diagnosticMessage) as the answer `op` to request `id`. */
export const ldapResult = (id: number, op: number, code = 0, diagnostic = '') =>
  ldapMessage(id, op, (w) => {
    w.writeEnumeration(code);
    w.writeString('');
    w.writeString(diagnostic);
  });

/** A search result entry of `dn` with `attributes` (name → values). */
export const searchEntry = (id: number, dn: string, attributes: Record<string, Buffer[]>) =>
  ldapMessage(id, ProtocolOperation.LDAP_RES_SEARCH_ENTRY, (w) => {
    w.writeString(dn);
    w.startSequence();
    for (const [type, values] of Object.entries(attributes)) new Attribute({ type, values }).write(w);
    w.endSequence();
  });

/** The tag of the response that ends request `op` (a search's is its SearchResultDone). */
export const responseTo = (op: number): number =>
  op === ProtocolOperation.LDAP_REQ_SEARCH ? ProtocolOperation.LDAP_RES_SEARCH : (op | 0x20) + 1;

/**
 * Starts the fake server: `answer` gets each request (an unbind is not handed on), over TLS from
 * the start (`ldaps://`, with `files`' certificate); with `startTls`, an `ldap://` server that hands
 * the test its first request only (what follows would be the client's TLS handshake). `stop` ends
 * every connection and the server.
 */
export async function startFakeDirectory(
  files: TlsFiles,
  answer: (request: FakeRequest, socket: net.Socket) => void,
  options: { startTls?: (request: FakeRequest, socket: net.Socket) => void } = {},
): Promise<{ url: string; stop: () => Promise<void> }> {
  const secure = { cert: await readFile(files.cert), key: await readFile(files.key) };
  const sockets = new Set<net.Socket>();
  const serve = (socket: net.Socket, on: (request: FakeRequest, socket: net.Socket) => void) => {
    let pending = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        let len = pending[1]!;
        let at = 2;
        if (len & 0x80) {
          const n = len & 0x7f;
          len = 0;
          for (let i = 0; i < n; i++) len = len * 256 + pending[2 + i]!;
          at = 2 + n;
        }
        if (pending.length < at + len) return;
        const bytes = pending.subarray(0, at + len);
        pending = pending.subarray(at + len);
        const idLength = bytes[at + 1]!;
        const id = bytes.subarray(at + 2, at + 2 + idLength).reduce((n, b) => n * 256 + b, 0);
        const op = bytes[at + 2 + idLength]!;
        if (op === ProtocolOperation.LDAP_REQ_UNBIND) continue;
        on({ id, op, bytes }, socket);
      }
    };
    socket.on('data', onData);
    return () => socket.off('data', onData);
  };
  const server = options.startTls
    ? net.createServer((socket) => {
        sockets.add(socket);
        socket.on('error', () => undefined);
        const stop = serve(socket, (request, s) => {
          stop();
          options.startTls!(request, s);
        });
      })
    : tls.createServer(secure, (socket) => {
        sockets.add(socket);
        socket.on('error', () => undefined);
        serve(socket, answer);
      });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `${options.startTls ? 'ldap' : 'ldaps'}://127.0.0.1:${port}`,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
