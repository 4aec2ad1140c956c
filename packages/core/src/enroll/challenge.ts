import { lstat } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { CredroamError } from '../api/errors.js';
import { readFileNoFollow } from '../fs/atomic-file.js';

/**
 * A profile's challenge, read from its file at each request (never from argv, never logged): a
 * regular file, not a link, this user's, readable by no one else, with one line. `~/` is the
 * user's home. Anything else is `E_ENROLL_CHALLENGE` naming the file.
 */
export async function readChallenge(file: string): Promise<string> {
  const where = file.startsWith('~/') ? path.join(homedir(), file.slice(2)) : file;
  const refuse = (what: string): never => {
    throw new CredroamError('E_ENROLL_CHALLENGE', `the challenge file ${where} ${what}`);
  };
  if (!path.isAbsolute(where)) refuse('is not an absolute path (or ~/…)');
  const info = await lstat(where).catch(() => undefined);
  if (!info) return refuse('does not exist');
  if (info.isSymbolicLink()) refuse('is a link');
  if (!info.isFile()) refuse('is not a file');
  if ((info.mode & 0o077) !== 0)
    refuse(`is readable or writable by others (mode ${(info.mode & 0o777).toString(8)}): chmod 600 it`);
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid) refuse('belongs to another user');
  const data = await readFileNoFollow(where, { maxBytes: 4096 }).catch(() => undefined);
  if (data === undefined) return refuse('cannot be read (or is larger than 4 KiB)');
  const text = data.toString('utf8').replace(/\r?\n$/, '');
  if (text.length === 0) refuse('is empty');
  if (/[\r\n]/.test(text)) refuse('has more than one line');
  return text;
}
