import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { readFileNoFollow, writeFileAtomic } from '../fs/atomic-file.js';

/** What this endpoint remembers of one profile between runs (nothing secret). */
export interface ProfileMemory {
  /** The last attempt failed: since when (the first failure in a row), why, and when to try again. */
  readonly failing?: {
    readonly since: number;
    readonly code: string;
    readonly reason: string;
    readonly nextAttempt: number;
  };
  /** A request of this profile is pending at the CA, since then (ms). */
  readonly pendingSince?: number;
}

/** This endpoint's enrollment memory: its id (what its claims carry) and each profile's. */
export interface EnrollmentMemory {
  readonly endpoint: string;
  readonly profiles: Readonly<Record<string, ProfileMemory>>;
}

/**
 * `enrollment.json` in the user's data folder: owner-only, written atomically, read without
 * following links. A damaged file is started over (it holds retry times only; the claims and
 * requests themselves are in the directory).
 */
export class EnrollmentMemoryFile {
  readonly path: string;
  constructor(home: string) {
    this.path = path.join(home, 'enrollment.json');
  }

  async load(): Promise<EnrollmentMemory> {
    const data = await readFileNoFollow(this.path).catch(() => undefined);
    if (data) {
      try {
        const raw = JSON.parse(data.toString('utf8')) as EnrollmentMemory;
        if (
          typeof raw.endpoint === 'string' &&
          /^[0-9a-f]{32}$/.test(raw.endpoint) &&
          typeof raw.profiles === 'object'
        )
          return { endpoint: raw.endpoint, profiles: { ...raw.profiles } };
      } catch {
        // started over below
      }
    }
    return { endpoint: randomBytes(16).toString('hex'), profiles: {} };
  }

  async save(memory: EnrollmentMemory): Promise<void> {
    await mkdir(path.dirname(this.path), { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.path, `${JSON.stringify(memory)}\n`);
  }
}
