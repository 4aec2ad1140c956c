import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { CredroamError } from '@credroam/core/api';
import { UsageError } from './io.js';

/** The most a password file may hold: far above any password, far below what could exhaust memory. */
export const MAX_SECRET_BYTES = 64 * 1024;

/**
 * A secret file group or others may read or write: what to say about it, and the fix. One text for
 * every command that reads such a file and for `credroam doctor`; undefined for an owner-only file.
 * Warned, not refused: the secret has already been open to others, so refusing would protect
 * nothing now and would stop a working logon (a script's, a unit's) over a mode; the fix is the
 * chmod, and a new password where others may have read it.
 */
export function exposedSecret(
  file: string,
  mode: number,
): { readonly how: string; readonly fix: string } | undefined {
  if ((mode & 0o077) === 0) return undefined;
  const verb = mode & 0o044 ? (mode & 0o022 ? 'read and written' : 'read') : 'written';
  return {
    how: `can be ${verb} by group or others (mode ${octal(mode)})`,
    fix: `chmod 600 ${file}`,
  };
}

const octal = (mode: number) => `0${(mode & 0o777).toString(8).padStart(3, '0')}`;

/** The warning a command prints (on stderr) for a secret file others may use: it names the file and the fix. */
export const exposedSecretWarning = (what: string, file: string, exposed: { how: string; fix: string }) =>
  `warning: the ${what} file ${file} ${exposed.how}: keep it owner-only: ${exposed.fix}`;

/**
 * A secret file as `credroam doctor` reports it: owner-only, open to others (a warning and the fix),
 * or unreadable (a failure). `source` says where the name came from (`$CREDROAM_PASSWORD_FILE`).
 */
export async function secretFileCheck(
  file: string,
  what: string,
  source: string,
): Promise<{ check: string; ok: boolean; detail: string; warning?: string; fix?: string }> {
  const where = path.resolve(file);
  const named = `${where} (${source})`;
  const st = await stat(where).catch((error: NodeJS.ErrnoException) => String(error.code));
  if (typeof st === 'string')
    return {
      check: 'password file',
      ok: false,
      detail: `${named}: cannot be read (${st})`,
      fix: `put the ${what} in ${where} (umask 077 first), or name another file in ${source}`,
    };
  const exposed = st.isFile() ? exposedSecret(where, st.mode) : undefined;
  if (!exposed)
    return {
      check: 'password file',
      ok: true,
      detail: `${named}: the ${what}${st.isFile() ? `, owner-only (mode ${octal(st.mode)})` : ''}`,
    };
  return {
    check: 'password file',
    ok: true,
    detail: `${named}: the ${what}`,
    warning: `${exposed.how}: if someone else may have read it, change the ${what}${what === 'roaming password' ? ' (credroam passwd)' : ''}`,
    fix: exposed.fix,
  };
}

/**
 * Reads a secret file; one trailing newline is not part of the secret. Links are followed and a
 * pipe is read (`--passin file:<(pass show vpn)`), but never more than `MAX_SECRET_BYTES` + 1
 * bytes: a larger file, or a device without end (/dev/zero), is `E_SECRET` at once. Errors name
 * the absolute path (`pnpm credroam` runs from the checkout's root, not where the user typed it). A
 * regular file group or others may use is read, with a warning (`exposedSecret`) through `warn`.
 */
export async function readSecretFile(
  file: string,
  what: string,
  warn: (line: string) => void,
): Promise<string> {
  const where = path.resolve(file);
  const fail = (why: string): never => {
    throw new CredroamError('E_SECRET', `cannot read the ${what} from ${where}: ${why}`, { file: where });
  };
  /** What a file call's error code means here, and what to do about it. */
  const failed = (code: string | undefined): never =>
    fail(
      code === 'ENOENT'
        ? 'ENOENT: there is no such file; give the path of the file that holds it'
        : code === 'EACCES'
          ? 'EACCES: this user may not read it; make it readable by its owner only (chmod 600) and run as that owner'
          : code === 'EISDIR'
            ? 'EISDIR: it is a folder; give the file inside it that holds it'
            : String(code),
    );
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(where, 'r');
  } catch (error) {
    return failed((error as NodeJS.ErrnoException).code);
  }
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    const st = await handle.stat();
    const exposed = st.isFile() ? exposedSecret(where, st.mode) : undefined;
    if (exposed) warn(`credroam: ${exposedSecretWarning(what, where, exposed)}\n`);
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
    return failed((error as NodeJS.ErrnoException).code);
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
  io: {
    readonly stdin: () => Promise<string>;
    readonly env: NodeJS.ProcessEnv;
    readonly stderr: (text: string) => void;
  },
): Promise<string> {
  const i = spec.indexOf(':');
  const scheme = i < 0 ? spec : spec.slice(0, i);
  const rest = i < 0 ? '' : spec.slice(i + 1);
  switch (scheme) {
    case 'file':
      return readSecretFile(rest, what, io.stderr);
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
