import { lstat, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { readFileNoFollow, writeFileAtomic } from '@credroam/core/kit';

/**
 * The endpoint's own copy of the user's wrapped master keys (owner-only, written atomically): the
 * copy this endpoint trusts, because only it writes the file. It is what logon opens first, what
 * offline logon uses, and what a directory that lost the keys gets back.
 *
 * `refused` remembers (SHA-256, hex) the directory values this endpoint already tried with a
 * password that opened its keys and that did not open: a hostile value costs its key derivation
 * once, not at every logon.
 */
export interface LocalKeyCopy {
  readonly keys: readonly Uint8Array[];
  readonly refused: readonly string[];
  /**
   * Set by `readCache` when the file must be written again even if its content is unchanged: a
   * mode that lets others in, the first format, entries it dropped (`sameCopy` is then false).
   */
  readonly rewrite?: true;
}

const MAX_REFUSED = 256;

export async function readCache(file: string): Promise<LocalKeyCopy> {
  const data = await readFileNoFollow(file).catch(() => undefined);
  if (data === undefined) return { keys: [], refused: [] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString('utf8'));
  } catch {
    return { keys: [], refused: [] };
  }
  // The first format was a bare array of the wrapped keys.
  const doc = (Array.isArray(parsed) ? { keys: parsed } : parsed) as { keys?: unknown; refused?: unknown };
  const strings = (v: unknown) =>
    Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  const keys = strings(doc?.keys);
  const refused = strings(doc?.refused).filter((x) => /^[0-9a-f]{64}$/.test(x));
  // Every write makes the file owner-only and of the current format: one that is not (restored
  // from a backup, made readable by a copy, an earlier version's) is written again at the next
  // logon even when it holds what that logon would write.
  const mode = await lstat(file).then(
    (st) => st.mode,
    () => 0,
  );
  const current =
    (mode & 0o077) === 0 &&
    !Array.isArray(parsed) &&
    (doc as { version?: unknown } | null)?.version === 2 &&
    keys.length === (Array.isArray(doc?.keys) ? doc.keys.length : -1) &&
    refused.length === (Array.isArray(doc?.refused) ? doc.refused.length : -1);
  return {
    keys: keys.map((x) => new Uint8Array(Buffer.from(x, 'base64'))),
    refused,
    ...(current ? {} : { rewrite: true as const }),
  };
}

/**
 * Whether two copies hold the same wrapped keys, in the same order, and the same refused values
 * (never for a copy read from a file that must be written again).
 */
export function sameCopy(a: LocalKeyCopy, b: LocalKeyCopy): boolean {
  const refused = (c: LocalKeyCopy) => c.refused.slice(-MAX_REFUSED);
  return (
    !a.rewrite &&
    !b.rewrite &&
    a.keys.length === b.keys.length &&
    a.keys.every((k, i) => Buffer.from(k).equals(b.keys[i]!)) &&
    refused(a).join() === refused(b).join()
  );
}

export async function writeCache(file: string, copy: LocalKeyCopy): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(
    file,
    JSON.stringify({
      version: 2,
      keys: copy.keys.map((v) => Buffer.from(v).toString('base64')),
      refused: copy.refused.slice(-MAX_REFUSED),
    }),
  );
}
