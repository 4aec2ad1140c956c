import { lstat } from 'node:fs/promises';
import path from 'node:path';

/**
 * Proof that a password came through the system's logon (PAM), not from another program of the
 * user: the PAM hook runs as root, and before handing the password on it creates an empty file
 * `<PAM_PROOF_DIR>/<uid>/<token>` owned by root, in folders only root can write, and puts the
 * token on the first line of what it pipes to `credroam logon --pam`. A program running as the
 * user can read and send tokens, but cannot make such a file; the agent takes each token once and
 * only while it is fresh. See docs/decisions/006-password-changes.md.
 */
export const PAM_PROOF_DIR = '/run/credroam/pam';
export const PAM_PROOF_PREFIX = 'credroam-pam-proof ';
const TOKEN = /^[0-9a-f]{32}$/;
const MAX_AGE_MS = 120_000;

/** Splits what the PAM hook piped in: an optional proof line, then the password. */
export function splitPamInput(input: string): { readonly proof?: string; readonly password: string } {
  if (!input.startsWith(PAM_PROOF_PREFIX)) return { password: input };
  const nl = input.indexOf('\n');
  const proof = input.slice(PAM_PROOF_PREFIX.length, nl < 0 ? undefined : nl).trim();
  return { proof, password: nl < 0 ? '' : input.slice(nl + 1) };
}

/**
 * Checks a proof token for the user `uid`; returns why it is refused, or undefined when it holds.
 * Every folder from the file up to `/` must be root's and writable by root alone: a folder the
 * user could write would let the user plant or swap the file.
 */
export async function pamProofProblem(
  token: string | undefined,
  options: { uid: number; now?: number; root?: string; used?: ReadonlySet<string> },
): Promise<string | undefined> {
  if (token === undefined) return 'no proof came with it (it was not sent by the PAM hook running as root)';
  if (!TOKEN.test(token)) return 'the proof token is malformed';
  if (options.used?.has(token)) return 'the proof token was used before';
  const file = path.join(options.root ?? PAM_PROOF_DIR, String(options.uid), token);
  const st = await lstat(file).catch(() => undefined);
  if (!st?.isFile()) return `no proof file ${file}`;
  if (st.uid !== 0) return `the proof file ${file} is not root's`;
  if ((options.now ?? Date.now()) - st.mtimeMs > MAX_AGE_MS) return `the proof file ${file} is stale`;
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const d = await lstat(dir).catch(() => undefined);
    if (!d?.isDirectory() || d.uid !== 0 || (d.mode & 0o022) !== 0)
      return `${dir} is not a folder that only root can write`;
    if (dir === path.dirname(dir)) return undefined;
  }
}
