import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { readFileNoFollow, writeFileAtomic } from '@credroam/core/api';

/** The endpoint's copy of the wrapped master keys (JSON array of base64), owner-only. */
export async function readCache(file: string): Promise<Uint8Array[]> {
  const data = await readFileNoFollow(file).catch(() => undefined);
  if (data === undefined) return [];
  try {
    const list = JSON.parse(data.toString('utf8')) as unknown;
    return Array.isArray(list)
      ? list.filter((x) => typeof x === 'string').map((x) => new Uint8Array(Buffer.from(x, 'base64')))
      : [];
  } catch {
    return [];
  }
}

export async function writeCache(file: string, values: readonly Uint8Array[]): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, JSON.stringify(values.map((v) => Buffer.from(v).toString('base64'))));
}
