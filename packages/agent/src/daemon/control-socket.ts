import { chmod, lstat, mkdir, rename, stat, unlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { CredroamError } from '@credroam/core/api';

/**
 * The agent's control socket (`<home>/run/agent.sock`, in a 0700 folder): one JSON line in, one
 * JSON line out per connection.
 *
 * The server listens at a name of this process's own (`run/agent.<pid>.sock`), which is then renamed
 * over the well-known name. So:
 * - a dead agent's socket is replaced in one step, never removed first;
 * - when the server closes, libuv unlinks the name it listened on — the private one, gone since the
 *   rename — and never the well-known name, which by then may be another agent's;
 * - this agent removes the well-known name only while it is still its own socket (same device and
 *   inode), and `isOwn()` tells it when its socket was removed or replaced.
 *
 * Nothing here looks at a socket file through `fs.statSync`, `fs.lstatSync`, the callback `fs.stat`
 * family or `fs.promises.rm` (whose option check lstats through the callback API): those write the
 * socket's file type into the stat buffer that the whole process shares, and Node's module resolution
 * reads that buffer (nodejs/node#51142): the next module loaded — a plugin activated lazily — then
 * resolves its dependencies from an unexpanded link and, under pnpm's layout, does not find them
 * (`Cannot find package 'readdirp' imported from …/plugin-triggers/node_modules/chokidar/index.js`).
 * `fs.promises.stat` and `unlink` do not touch that buffer.
 */
export class ControlSocket {
  readonly #server: net.Server;
  readonly #file: string;
  readonly #made: { readonly dev: bigint; readonly ino: bigint };
  #closed: Promise<void> | undefined;

  private constructor(server: net.Server, file: string, made: { dev: bigint; ino: bigint }) {
    this.#server = server;
    this.#file = file;
    this.#made = made;
  }

  /**
   * Listens at `file`, taking the name over from whatever socket is there: callers check first that
   * no live agent answers on it. Each request line goes to `handle`; its answer is sent back.
   */
  static async open(
    file: string,
    handle: (line: string) => Promise<Record<string, unknown>>,
  ): Promise<ControlSocket> {
    const dir = path.dirname(file);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // Only the user may reach the socket, whoever made the folder; a link there is not followed.
    if ((await lstat(dir)).isSymbolicLink())
      throw new CredroamError(
        'E_CONFIG',
        `${dir} is a link: the agent's control folder must be a real folder`,
        {
          path: dir,
        },
      );
    await chmod(dir, 0o700);
    const own = path.join(dir, `agent.${process.pid}.sock`);
    await unlink(own).catch(ignoreMissing); // left by a killed process that had this pid
    const server = net.createServer((socket) => serve(socket, handle));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(own, () => resolve());
    });
    try {
      const made = await stat(own, { bigint: true });
      await rename(own, file);
      return new ControlSocket(server, file, { dev: made.dev, ino: made.ino });
    } catch (error) {
      await new Promise<void>((r) => server.close(() => r()));
      throw error;
    }
  }

  get file(): string {
    return this.#file;
  }

  /** True while the well-known name is the socket this agent made (not removed, not replaced). */
  async isOwn(): Promise<boolean> {
    const now = await stat(this.#file, { bigint: true }).catch(() => undefined);
    return now !== undefined && now.dev === this.#made.dev && now.ino === this.#made.ino;
  }

  /** Stops listening and removes the well-known name if it is still this agent's socket. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await new Promise<void>((r) => this.#server.close(() => r()));
      if (await this.isOwn()) await unlink(this.#file).catch(ignoreMissing);
    })();
    return this.#closed;
  }
}

function serve(socket: net.Socket, handle: (line: string) => Promise<Record<string, unknown>>): void {
  let data = '';
  socket.on('data', (chunk) => {
    data += chunk.toString('utf8');
    const nl = data.indexOf('\n');
    if (nl < 0) {
      if (data.length > 65_536) socket.destroy();
      return;
    }
    const line = data.slice(0, nl);
    data = '';
    void handle(line).then((answer) => socket.end(`${JSON.stringify(answer)}\n`));
  });
  socket.on('error', () => undefined);
}

function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error;
}
