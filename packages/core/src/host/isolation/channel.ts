import type { Duplex } from 'node:stream';
import v8 from 'node:v8';

/**
 * The largest message that crosses between the host and an isolated plugin: above a directory read
 * at the limits (2000 tokens of 65 535 bytes) with room to spare, far below what would exhaust the
 * agent. A bigger one is refused before it is buffered.
 */
export const MAX_FRAME = 192 * 1024 * 1024;

/** The descriptor of the channel in the plugin's process (the host's stdio index 3). */
export const CHANNEL_FD = 3;

export interface ChannelHandlers {
  /** A message decoded. */
  message(message: unknown): void;
  /** The other side sent something that is no message (not decodable, or over the bound): nothing more is read. */
  bad(reason: string): void;
  /** The channel closed. */
  closed(): void;
}

/**
 * The channel between the host and an isolated plugin's process: frames of a 4-byte length then
 * the structured-clone bytes of one message (`v8.serialize`), over a socket pair (stdio index 3).
 *
 * Not Node's own IPC channel: that one throws from inside its reader when a frame does not
 * deserialize, which no handler can catch (the process dies), and it buffers whatever length a
 * frame claims. A plugin writes to its descriptors directly (descriptors bypass Node's permission
 * model), so the host must survive any bytes: here a frame that does not decode, or that claims
 * more than `maxFrame`, ends the channel through `bad`, and the host cuts the plugin off.
 */
export class Channel {
  readonly #socket: Duplex;
  readonly #handlers: ChannelHandlers;
  readonly #maxFrame: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #need: number | undefined;
  #done = false;

  constructor(socket: Duplex, handlers: ChannelHandlers, maxFrame = MAX_FRAME) {
    this.#socket = socket;
    this.#handlers = handlers;
    this.#maxFrame = maxFrame;
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('error', () => this.#close());
    socket.on('close', () => this.#close());
    socket.on('end', () => this.#close());
  }

  /** Sends one message; throws when the channel is closed or the message is over the bound. */
  send(message: unknown): void {
    if (this.#done || this.#socket.destroyed || !this.#socket.writable) {
      throw new Error('the channel to the plugin is closed');
    }
    const body = v8.serialize(message);
    if (body.length > this.#maxFrame) {
      throw new RangeError(`a message of ${body.length} bytes is over the ${this.#maxFrame} that cross`);
    }
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length, 0);
    this.#socket.write(Buffer.concat([head, body]));
  }

  /** Ends the channel: nothing more is read or sent. */
  destroy(): void {
    this.#socket.destroy();
    this.#close();
  }

  #receive(chunk: Buffer): void {
    if (this.#done) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    while (!this.#done) {
      if (this.#need === undefined) {
        if (this.#buffered < 4) return;
        const size = this.#take(4).readUInt32BE(0);
        if (size === 0 || size > this.#maxFrame) {
          this.#bad(`a frame of ${size} bytes (at most ${this.#maxFrame} cross)`);
          return;
        }
        this.#need = size;
      }
      if (this.#buffered < this.#need) return;
      // A copy of its own: what a message's byte arrays view holds that message and nothing else.
      const body = new Uint8Array(this.#take(this.#need));
      this.#need = undefined;
      let message: unknown;
      try {
        message = v8.deserialize(body);
      } catch {
        this.#bad('a frame that does not decode as a message');
        return;
      }
      this.#handlers.message(message);
    }
  }

  #take(n: number): Buffer {
    const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    const rest = all.subarray(n);
    this.#chunks = rest.length > 0 ? [rest] : [];
    this.#buffered -= n;
    return all.subarray(0, n);
  }

  #bad(reason: string): void {
    if (this.#done) return;
    this.#done = true;
    this.#chunks = [];
    this.#buffered = 0;
    this.#socket.destroy();
    this.#handlers.bad(reason);
    this.#handlers.closed();
  }

  #close(): void {
    if (this.#done) return;
    this.#done = true;
    this.#chunks = [];
    this.#handlers.closed();
  }
}
