import type { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import tls, { checkServerIdentity } from 'node:tls';
import { CredroamError } from '@credroam/core/api';
import { printable } from '@credroam/core/kit';
import { Client } from 'ldapts';
import { mapLdapError } from './errors.js';
import { bindGssapi } from './gssapi.js';
import { SaslBindExchange } from './sasl-bind.js';
import type { LdapSettings } from './settings.js';

/**
 * Bytes a session takes from the server for one operation (a read with its ranges, a write, a bind):
 * the largest entry the Windows limits allow (2 000 tokens of 64 KiB, as Active Directory's
 * hexadecimal DN-binary values) fits. A server that sends more (a message whose length announces
 * gigabytes, entries without end) is cut off before it costs the endpoint its memory.
 */
export const MAX_RECEIVED_BYTES = 256 * 1024 * 1024;

/** What a session needs to authenticate; secrets are fetched only when a bind happens. */
export interface BindCredentials {
  readonly dn: string;
  readonly password?: () => Promise<string>;
}

/**
 * One authenticated LDAP connection, reused, rebuilt after a failure. TLS always comes first: an
 * `ldaps://` URL connects with TLS, an `ldap://` URL runs StartTLS, and the server's certificate is
 * verified against the configured CA and host name before any bind. The socket factories refuse a
 * second connection, so a silent reconnect can never send anything in clear, nor run unauthenticated:
 * a lost connection fails the operation at hand, and the next one connects and binds again.
 */
export class LdapSession {
  #client: Client | undefined;
  /** The TLS connection under `#client`: a session is alive while it is open. */
  #socket: tls.TLSSocket | undefined;
  #connecting: Promise<Client> | undefined;
  #failures = 0;
  #retryAt = 0;
  /** Bytes received since the operations in progress began (or the connection opened). */
  #received = 0;
  #running = 0;
  /** The connection was cut off for sending more than MAX_RECEIVED_BYTES. */
  #flooded = false;

  constructor(
    private readonly settings: LdapSettings,
    private readonly credentials: () => Promise<BindCredentials>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Runs `op` on an authenticated connection; a connection error drops it for the next call. */
  async run<T>(
    op: (client: Client) => Promise<T>,
    where: { dn?: string; attribute?: string } = {},
  ): Promise<T> {
    const client = await this.#session();
    if (this.#running++ === 0) this.#received = 0;
    try {
      return await op(client);
    } catch (error) {
      const mapped = this.#mapped(error, where);
      if (mapped instanceof CredroamError && mapped.code === 'E_UNREACHABLE') await this.close();
      throw mapped;
    } finally {
      this.#running--;
    }
  }

  #mapped(error: unknown, where: { dn?: string; attribute?: string } = {}): Error {
    if (!this.#flooded) return mapLdapError(error, { url: this.settings.url, ...where });
    return new CredroamError(
      'E_TOO_LARGE',
      `the directory sent more than ${MAX_RECEIVED_BYTES} bytes for one operation: cut off` +
        `${where.dn ? ` (${where.dn} on ${this.settings.url})` : ` (${this.settings.url})`}`,
      { url: this.settings.url, ...where, maxBytes: MAX_RECEIVED_BYTES },
    );
  }

  /** Counts what `socket` receives, and cuts it off past MAX_RECEIVED_BYTES for the operations in progress. */
  #metered(socket: tls.TLSSocket): tls.TLSSocket {
    this.#received = 0;
    this.#flooded = false;
    socket.on('data', (data: Buffer) => {
      this.#received += data.length;
      if (this.#received <= MAX_RECEIVED_BYTES || socket.destroyed) return;
      this.#flooded = true;
      socket.destroy(new Error(`received more than ${MAX_RECEIVED_BYTES} bytes`));
    });
    return socket;
  }

  /** Connects with TLS (or StartTLS), verifies the server's certificate, and disconnects: no bind. */
  async checkTls(): Promise<void> {
    try {
      const { client, socket } = await this.#connect(false);
      await client.unbind().catch(() => undefined);
      socket.destroy();
    } catch (error) {
      throw mapLdapError(error, { url: this.settings.url });
    }
  }

  async close(): Promise<void> {
    const c = this.#client;
    const socket = this.#socket;
    this.#client = undefined;
    this.#socket = undefined;
    this.#connecting = undefined;
    if (c) await c.unbind().catch(() => undefined);
    socket?.destroy();
  }

  async #session(): Promise<Client> {
    if (this.#client && this.#socket?.readyState === 'open' && !this.#socket.destroyed) return this.#client;
    if (this.#client) await this.close();
    if (this.now() < this.#retryAt) {
      throw new CredroamError(
        'E_UNREACHABLE',
        `the directory ${this.settings.url} failed recently; retrying after a pause`,
        { url: this.settings.url },
      );
    }
    this.#connecting ??= this.#connect().then(
      ({ client, socket }) => {
        this.#failures = 0;
        this.#client = client;
        this.#socket = socket;
        return client;
      },
      (error: unknown) => {
        this.#connecting = undefined;
        const mapped = this.#mapped(error);
        if (mapped instanceof CredroamError && mapped.code === 'E_UNREACHABLE') {
          this.#failures++;
          // Exponential backoff with jitter, bounded (a daemon calls again; a CLI call fails fast).
          const delay = Math.min(60_000, 250 * 2 ** Math.min(this.#failures, 8)) * (0.5 + Math.random() / 2);
          this.#retryAt = this.now() + delay;
        }
        throw mapped;
      },
    );
    return this.#connecting;
  }

  async #connect(bind = true): Promise<{ client: Client; socket: tls.TLSSocket }> {
    const s = this.settings;
    const url = new URL(s.url);
    // A simple bind's credentials are settled first: a bind that may not happen (the policy gate in
    // bind-credentials.ts) is refused before any connection. The password itself is read at the bind.
    const simple = bind && s.bind === 'simple' ? await this.credentials() : undefined;
    const tlsOptions: tls.ConnectionOptions = {
      ca: await readFile(s.caFile).catch((error: NodeJS.ErrnoException) => {
        throw new CredroamError('E_CONFIG', `cannot read caFile ${s.caFile}: ${error.code}`, {
          file: s.caFile,
        });
      }),
      // The name the certificate must carry: the URL's host (StartTLS has no other way to know it).
      host: url.hostname,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      ...(s.tlsServerName
        ? { servername: s.tlsServerName, checkServerIdentity: checkAs(s.tlsServerName) }
        : {}),
    };
    if (s.bind === 'external') {
      if (!s.clientCertFile || !s.clientKeyFile) {
        throw new CredroamError('E_CONFIG', 'bind "external" needs clientCertFile and clientKeyFile');
      }
      tlsOptions.cert = await readFile(s.clientCertFile);
      tlsOptions.key = await readFile(s.clientKeyFile);
    }
    const startTls = url.protocol === 'ldap:';
    // SASL GSSAPI runs on the TLS socket itself (sasl-bind.ts): over ldaps:// that socket is opened
    // here, before the bind, and handed to ldapts for what follows.
    // What a session's connection receives is counted; a TLS check's (nothing is read from it) is not.
    const metered = (socket: tls.TLSSocket) => (bind ? this.#metered(socket) : socket);
    let socket =
      (s.bind === 'gssapi' || !bind) && !startTls
        ? metered(await openTls(Number(url.port || 636), url.hostname, tlsOptions, s.timeoutMs))
        : undefined;
    let secureSockets = 0;
    let plainSockets = 0;
    const client = new Client({
      url: s.url,
      timeout: s.timeoutMs,
      connectTimeout: s.timeoutMs,
      createSecureConnection: ((...args: unknown[]) => {
        if (++secureSockets > 1) throw new Error('not connected: refusing to reconnect without the bind');
        socket ??= metered(
          handshakeWithin((tls.connect as (...a: unknown[]) => tls.TLSSocket)(...args), s.timeoutMs),
        );
        return socket;
      }) as typeof tls.connect,
      ...(startTls
        ? {
            createConnection: ((port: number, host: string) => {
              if (++plainSockets > 1) throw new Error('not connected: refusing to reconnect without TLS');
              return net.connect(port, host);
            }) as typeof net.connect,
          }
        : { tlsOptions }),
    });
    // A message whose framing ldapts cannot read (a BER length of more than four bytes, an
    // indefinite one) leaves its parser unable to find any later message: each later byte joins the
    // unread one, and the operations in progress wait for their timeout. Cut off at once instead.
    const parsing = client as unknown as { messageParser: EventEmitter; socket?: net.Socket };
    parsing.messageParser.on('error', (error: { messageDetails?: unknown }) => {
      if (error.messageDetails !== undefined) return; // one message's content: ldapts fails its operation
      parsing.socket?.destroy(
        new Error('the directory sent a message whose length cannot be read: connection closed'),
      );
    });
    try {
      if (startTls) {
        await client.startTLS(tlsOptions).catch((error: unknown) => {
          throw startTlsRefused(error, s.url);
        });
      }
      if (!bind) {
        // TLS only.
      } else if (s.bind === 'external') {
        await client.bindSASL('EXTERNAL');
      } else if (s.bind === 'gssapi') {
        if (!socket) throw new Error('not connected');
        const exchange = new SaslBindExchange(socket, s.timeoutMs);
        try {
          await bindGssapi(exchange, s.kerberosService ?? `ldap@${s.tlsServerName ?? url.hostname}`);
        } finally {
          exchange.close();
        }
      } else {
        if (!simple?.password)
          throw new CredroamError(
            'E_CONFIG',
            'no bind password: give bindPasswordFile or the roaming password',
          );
        await client.bind(simple.dn, await simple.password());
      }
      if (!socket) throw new Error('not connected');
      return { client, socket };
    } catch (error) {
      await client.unbind().catch(() => undefined);
      socket?.destroy();
      throw error;
    }
  }
}

/**
 * Opens a TLS connection and waits until its certificate is verified. Until ldapts takes it over
 * (and replaces the error listeners), an error only closes it: the session then sees it closed.
 */
function openTls(
  port: number,
  host: string,
  options: tls.ConnectionOptions,
  timeoutMs: number,
): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = handshakeWithin(tls.connect({ ...options, port, host }), timeoutMs);
    socket.once('secureConnect', () => {
      socket.removeAllListeners('error');
      socket.on('error', () => socket.destroy());
      resolve(socket);
    });
    socket.once('error', (error) => {
      socket.destroy();
      reject(error);
    });
  });
}

/**
 * A TLS socket whose connection and handshake must be done within `timeoutMs`, however the bytes
 * come: a peer that stalls after accepting StartTLS, or sends the handshake a byte at a time (an
 * idle timeout never fires then), is cut off with an error that says so.
 */
function handshakeWithin(socket: tls.TLSSocket, timeoutMs: number): tls.TLSSocket {
  const timer = setTimeout(
    () => socket.destroy(new Error(`TLS handshake timed out after ${timeoutMs} ms`)),
    timeoutMs,
  );
  const done = () => clearTimeout(timer);
  socket.once('secureConnect', done);
  socket.once('close', done);
  return socket;
}

/** A server that will not start TLS on `ldap://`: say so, and what to do (the result code alone says nothing). */
function startTlsRefused(error: unknown, url: string): unknown {
  const e = error as { code?: unknown; message?: string };
  if (typeof e.code !== 'number') return error;
  return new CredroamError(
    'E_STARTTLS',
    `the directory refused StartTLS (result code ${e.code}${e.message ? `: ${printable(e.message)}` : ''}) (${url}); ` +
      'credroam never binds without TLS: use ldaps://, or enable TLS on the server (OpenLDAP: olcTLSCertificateFile and olcTLSCertificateKeyFile)',
    { url, resultCode: e.code },
  );
}

/** Verifies the certificate against a configured name instead of the URL's host. */
function checkAs(name: string): (host: string, cert: tls.PeerCertificate) => Error | undefined {
  return (_host, cert) => checkServerIdentity(name, cert);
}
