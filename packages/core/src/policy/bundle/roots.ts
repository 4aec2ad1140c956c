import type { X509Certificate } from 'node:crypto';
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { CredroamError } from '../../api/errors.js';
import { readFileNoFollow } from '../../fs/atomic-file.js';
import { certificatesOfPem } from './pem-certificates.js';

/** Where the site policy root is installed out of band, when the agent manifest names none. */
export const DEFAULT_POLICY_ROOT = '/etc/credroam/policy-root.pem';
/** A root file is a few certificates. */
const MAX_ROOT_FILE_BYTES = 65_536;
const MAX_ROOTS = 16;

/**
 * Reads the site policy root(s): a PEM file of one or more CA certificates, which only root may
 * have put there — the file and every folder above it owned by uid 0 and not writable by group or
 * others, the file not a link. Anything else is refused (`E_POLICY_ROOT`): whoever can write the
 * root decides what every endpoint obeys.
 */
export async function readPolicyRoots(file: string): Promise<X509Certificate[]> {
  const abs = path.resolve(file);
  const refuse = (why: string) =>
    new CredroamError('E_POLICY_ROOT', `the site policy root ${abs} ${why}`, { file: abs });
  for (let p = abs; ; p = path.dirname(p)) {
    const st = await lstat(p).catch((error: NodeJS.ErrnoException) => {
      throw refuse(error.code === 'ENOENT' ? 'does not exist' : `cannot be read: ${error.message}`);
    });
    const what = p === abs ? 'is' : `is in ${p}, which is`;
    if (p === abs && !st.isFile()) throw refuse('is not a regular file (a link is not followed)');
    if (st.uid !== 0) throw refuse(`${what} owned by uid ${st.uid}, not root`);
    // A folder's sticky bit (/tmp) keeps others from replacing what root owns in it.
    const writable = st.mode & 0o022;
    if (writable && !(p !== abs && st.mode & 0o1000)) throw refuse(`${what} writable by group or others`);
    if (p === path.dirname(p)) break;
  }
  let data: Buffer | undefined;
  try {
    data = await readFileNoFollow(abs, { maxBytes: MAX_ROOT_FILE_BYTES });
  } catch (error) {
    throw refuse(`cannot be read: ${(error as Error).message}`);
  }
  if (!data) throw refuse('does not exist');
  let roots: X509Certificate[];
  try {
    roots = certificatesOfPem(data.toString('utf8'));
  } catch (error) {
    throw refuse(`holds a certificate that cannot be read: ${(error as Error).message}`);
  }
  if (roots.length === 0) throw refuse('holds no PEM certificate');
  if (roots.length > MAX_ROOTS) throw refuse(`holds more than ${MAX_ROOTS} certificates`);
  return roots;
}
