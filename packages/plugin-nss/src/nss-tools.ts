import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CredroamError } from '@credroam/core/api';

/** The two programs of Debian's `libnss3-tools` the store uses. */
export type NssTool = 'certutil' | 'pk12util';

/** One run of a tool, as the store starts it (what a test inspects: never a secret in `args`). */
export interface ToolRun {
  readonly tool: NssTool;
  readonly args: readonly string[];
}

export interface ToolResult {
  readonly code: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

export interface NssToolsOptions {
  /** Where `certutil` and `pk12util` are (default `/usr/bin`, where `libnss3-tools` puts them). */
  readonly bindir?: string;
  /** Called before each run with the exact argument list (tests check that no secret is in it). */
  readonly onSpawn?: (run: ToolRun) => void;
  /** A run that takes longer is stopped (default 60 s). */
  readonly timeoutMs?: number;
}

/** The most a tool may print before it is stopped: a listing of thousands of certificates fits. */
const MAX_OUTPUT = 64 * 1024 * 1024;

/**
 * Runs NSS's tools with an explicit, minimal environment (no `HOME`, no `NSS_*` variable the
 * user's shell may carry), stdin closed (a tool that would prompt for a password fails instead
 * of waiting), a time limit, and output bounded. Secrets never go in the argument list: the tools
 * take them from files (`-f`/`-k`/`-w`), which `withSecretFiles` writes owner-only in a private
 * folder and removes afterwards.
 */
export class NssTools {
  readonly #bindir: string;
  readonly #onSpawn: ((run: ToolRun) => void) | undefined;
  readonly #timeoutMs: number;

  constructor(options: NssToolsOptions = {}) {
    this.#bindir = options.bindir ?? '/usr/bin';
    this.#onSpawn = options.onSpawn;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
  }

  run(tool: NssTool, args: readonly string[]): Promise<ToolResult> {
    this.#onSpawn?.({ tool, args: [...args] });
    return new Promise((resolve, reject) => {
      const child = spawn(path.join(this.#bindir, tool), [...args], {
        env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let size = 0;
      let failure: Error | undefined;
      const stop = (why: Error) => {
        failure ??= why;
        child.kill('SIGKILL');
      };
      const timer = setTimeout(
        () => stop(new Error(`${tool} did not finish within ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
      const collect = (into: Buffer[]) => (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_OUTPUT) stop(new Error(`${tool} printed more than ${MAX_OUTPUT} bytes`));
        else into.push(chunk);
      };
      child.stdout.on('data', collect(out));
      child.stderr.on('data', collect(err));
      child.on('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(
          error.code === 'ENOENT'
            ? new CredroamError(
                'E_NSS_TOOL',
                `${path.join(this.#bindir, tool)} is missing: install Debian's libnss3-tools (apt-get install libnss3-tools)`,
                { path: path.join(this.#bindir, tool) },
              )
            : error,
        );
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (failure) {
          reject(new CredroamError('E_NSS_TOOL', failure.message, { tool }));
          return;
        }
        resolve({
          code: code ?? (signal ? 128 : 1),
          stdout: Buffer.concat(out),
          stderr: Buffer.concat(err).toString('utf8'),
        });
      });
    });
  }
}

/**
 * Runs `work` with secrets written to files (mode 0600) in a new private folder (0700) under
 * `parent`, and removes the folder afterwards, whatever happens. `work` gets each file's path.
 */
export async function withSecretFiles<T>(
  parent: string,
  secrets: Readonly<Record<string, string | Uint8Array>>,
  work: (files: Record<string, string>, dir: string) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(path.join(parent, '.tmp-'));
  try {
    const files: Record<string, string> = {};
    for (const [name, value] of Object.entries(secrets)) {
      const file = path.join(dir, name);
      await writeFile(file, value, { mode: 0o600, flag: 'wx' });
      files[name] = file;
    }
    return await work(files, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A password for one transfer file: random, printable (NSS reads the first line of its password file). */
export const transferPassword = (): string => randomBytes(24).toString('base64url');

/** One row of `certutil -L`: a nickname and its trust flags (`u,u,u` for a certificate with its key). */
export interface CertRow {
  readonly nickname: string;
  readonly trust: string;
}

/** The rows of `certutil -L`, and the lines that are not rows (a nickname holding a line break). */
export function parseCertList(stdout: string): { rows: CertRow[]; odd: string[] } {
  const lines = stdout.split('\n');
  const header = lines.findIndex((l) => l.includes('SSL,S/MIME,JAR/XPI'));
  const rows: CertRow[] = [];
  const odd: string[] = [];
  for (const line of lines.slice(header + 1)) {
    if (line.trim() === '') continue;
    const m = /^(.*?)\s+([A-Za-z]*,[A-Za-z]*,[A-Za-z]*)\s*$/.exec(line);
    if (m && m[1]!.length > 0) rows.push({ nickname: m[1]!, trust: m[2]! });
    else odd.push(line);
  }
  return { rows, odd };
}

/** One row of `certutil -K`: a private key's CKA_ID (hex), its type, and its label. */
export interface KeyRow {
  readonly ckaid: string;
  readonly type: string;
  readonly label: string;
}

export function parseKeyList(stdout: string): KeyRow[] {
  const rows: KeyRow[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^<\s*\d+>\s+(\S+)\s+([0-9a-fA-F]+)\s+(.*)$/.exec(line);
    if (m) rows.push({ type: m[1]!, ckaid: m[2]!.toLowerCase(), label: m[3]!.trim() });
  }
  return rows;
}

/** The DER of each `CERTIFICATE` block of PEM text. */
export function pemCertificates(text: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const m of text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)) {
    out.push(new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')));
  }
  return out;
}

/** One DER element: where its content starts and where it ends. */
function element(der: Uint8Array, at: number): { tag: number; start: number; end: number } {
  if (at + 2 > der.length) throw new Error('truncated DER');
  const tag = der[at]!;
  let len = der[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > der.length) throw new Error('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[start + i]!;
    start += n;
  }
  if (start + len > der.length) throw new Error('truncated DER');
  return { tag, start, end: start + len };
}

/**
 * The SubjectPublicKeyInfo (DER) of a PKCS#10 request: `certutil -R -k <CKA_ID>` is how NSS's
 * tools tell the public key of a private key that has no certificate.
 */
export function requestSpki(csr: Uint8Array): Uint8Array {
  const outer = element(csr, 0);
  const info = element(csr, outer.start);
  if (outer.tag !== 0x30 || info.tag !== 0x30) throw new Error('not a certificate request');
  const version = element(csr, info.start);
  const subject = element(csr, version.end);
  const spki = element(csr, subject.end);
  if (spki.tag !== 0x30) throw new Error('not a certificate request');
  return csr.slice(subject.end, spki.end);
}
