import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { CredroamError } from '@credroam/core/api';
import { UsageError } from './io.js';

/** The most a password file may hold: far above any password, far below what could exhaust memory. */
export const MAX_SECRET_BYTES = 64 * 1024;

/**
 * Reads a secret file; one trailing newline is not part of the secret. Links are followed and a
 * pipe is read (`--passin file:<(pass show vpn)`), but never more than `MAX_SECRET_BYTES` + 1
 * bytes: a larger file, or a device without end (/dev/zero), is `E_SECRET` at once.
 */
export async function readSecretFile(file: string, what: string): Promise<string> {
  const fail = (why: string): never => {
    throw new CredroamError('E_SECRET', `cannot read the ${what} from ${file}: ${why}`, { file });
  };
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    return fail(String((error as NodeJS.ErrnoException).code));
  }
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for (;;) {
      const chunk = Buffer.alloc(MAX_SECRET_BYTES + 1 - length);
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      length += bytesRead;
      if (length > MAX_SECRET_BYTES)
        fail(`it holds more than ${MAX_SECRET_BYTES / 1024} KiB: not a password file`);
    }
  } catch (error) {
    if (error instanceof CredroamError) throw error;
    return fail(String((error as NodeJS.ErrnoException).code));
  } finally {
    await handle.close();
  }
  return stripNewline(Buffer.concat(chunks, length).toString('utf8'));
}

export const stripNewline = (s: string): string => s.replace(/\r?\n$/, '');

/**
 * An OpenSSL-style password argument (`--passin`, `--passout`): `file:PATH`, `env:VAR`, `fd:N` or
 * `stdin`. `pass:` is refused: a secret in argv is visible to every user of the machine.
 */
export async function readPassArg(
  spec: string,
  what: string,
  io: { readonly stdin: () => Promise<string>; readonly env: NodeJS.ProcessEnv },
): Promise<string> {
  const i = spec.indexOf(':');
  const scheme = i < 0 ? spec : spec.slice(0, i);
  const rest = i < 0 ? '' : spec.slice(i + 1);
  switch (scheme) {
    case 'file':
      return readSecretFile(rest, what);
    case 'env': {
      const value = io.env[rest];
      if (value === undefined)
        throw new CredroamError('E_SECRET', `the ${what} variable ${rest} is not set`, { variable: rest });
      return value;
    }
    case 'fd': {
      const fd = Number(rest);
      if (!Number.isInteger(fd) || fd < 0) throw new UsageError(`fd:${rest} is not a file descriptor number`);
      return stripNewline(await readStream(createReadStream('', { fd, autoClose: false })));
    }
    case 'stdin':
      return stripNewline(await io.stdin());
    case 'pass':
      throw new UsageError(
        `${what}: 'pass:' would put the secret in the command line; use file:, env:, fd: or stdin`,
      );
    default:
      throw new UsageError(`${what}: '${scheme}' is not one of file:PATH, env:VAR, fd:N, stdin`);
  }
}

export async function readStream(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks).toString('utf8');
}
