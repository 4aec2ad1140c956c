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

const TIME = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

/**
 * One profile's memory as read from the file, or undefined when it is not one: the file is the
 * user's, and another program of theirs may have written anything into it. What is kept is what
 * `status` can show without throwing (times that are times, a code, a bounded reason).
 */
function profileMemory(raw: unknown): ProfileMemory | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const r = raw as Record<string, unknown>;
  const out: { failing?: ProfileMemory['failing']; pendingSince?: number } = {};
  const f = r.failing as Record<string, unknown> | undefined;
  if (
    typeof f === 'object' &&
    f !== null &&
    TIME(f.since) &&
    TIME(f.nextAttempt) &&
    typeof f.code === 'string' &&
    /^E_[A-Z0-9_]{1,64}$/.test(f.code) &&
    typeof f.reason === 'string' &&
    f.reason.length <= 4096
  )
    out.failing = { since: f.since, code: f.code, reason: f.reason, nextAttempt: f.nextAttempt };
  if (TIME(r.pendingSince)) out.pendingSince = r.pendingSince;
  return out.failing || out.pendingSince !== undefined ? out : undefined;
}

/**
 * `enrollment.json` in the user's data folder: owner-only, written atomically, read without
 * following links, at most 1 MiB. A damaged file is started over, and a profile's entry that is not
 * well-formed is dropped (it holds retry times only; the claims and requests themselves are in the
 * directory).
 */
/** Far more than 32 profiles' memory: a larger file is not this endpoint's, and is started over. */
const MAX_BYTES = 1 << 20;

export class EnrollmentMemoryFile {
  readonly path: string;
  /** The file's text as last read or written: a save of the same text writes nothing. */
  #onDisk: string | undefined;
  constructor(home: string) {
    this.path = path.join(home, 'enrollment.json');
  }

  async load(): Promise<EnrollmentMemory> {
    const data = await readFileNoFollow(this.path, { maxBytes: MAX_BYTES }).catch(() => undefined);
    this.#onDisk = data?.toString('utf8');
    if (data) {
      try {
        const raw = JSON.parse(data.toString('utf8')) as { endpoint?: unknown; profiles?: unknown };
        if (
          typeof raw.endpoint === 'string' &&
          /^[0-9a-f]{32}$/.test(raw.endpoint) &&
          typeof raw.profiles === 'object' &&
          raw.profiles !== null
        ) {
          const profiles: Record<string, ProfileMemory> = {};
          for (const [id, value] of Object.entries(raw.profiles)) {
            const memory = /^[a-z0-9][a-z0-9-]{0,62}$/.test(id) ? profileMemory(value) : undefined;
            if (memory) profiles[id] = memory;
          }
          return { endpoint: raw.endpoint, profiles };
        }
      } catch {
        // started over below
      }
    }
    return { endpoint: randomBytes(16).toString('hex'), profiles: {} };
  }

  /** Writes the memory, unless the file already says exactly that (a logon with every profile met). */
  async save(memory: EnrollmentMemory): Promise<void> {
    const text = `${JSON.stringify(memory)}\n`;
    if (text === this.#onDisk) return;
    await mkdir(path.dirname(this.path), { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.path, text);
    this.#onDisk = text;
  }
}
