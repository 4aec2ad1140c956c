import { mkdir } from 'node:fs/promises';
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
  return {
    keys: strings(doc?.keys).map((x) => new Uint8Array(Buffer.from(x, 'base64'))),
    refused: strings(doc?.refused).filter((x) => /^[0-9a-f]{64}$/.test(x)),
  };
}

/** Whether two copies hold the same wrapped keys, in the same order, and the same refused values. */
export function sameCopy(a: LocalKeyCopy, b: LocalKeyCopy): boolean {
  const refused = (c: LocalKeyCopy) => c.refused.slice(-MAX_REFUSED);
  return (
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
