/**
 * The real tools the corpus and the interop matrix run: OpenSSL, NSS (`pk12util`, `certutil`),
 * GnuTLS (`certtool`) and Java's `keytool`. Secrets go to them through files, never argv. Every
 * process is awaited, has a timeout (SIGKILL when it passes) and at most `os.availableParallelism()`
 * run at once, so nothing a test starts outlives it and two cores are not flooded.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface ToolResult {
  readonly code: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

const slots = { free: Math.max(1, os.availableParallelism()), waiting: [] as (() => void)[] };
async function withSlot<T>(f: () => Promise<T>): Promise<T> {
  if (slots.free === 0) await new Promise<void>((resolve) => slots.waiting.push(resolve));
  else slots.free--;
  try {
    return await f();
  } finally {
    const next = slots.waiting.shift();
    if (next) next();
    else slots.free++;
  }
}

/** Runs a program to its end (killed after `timeoutMs`); its exit code, never a throw. */
export function runTool(
  file: string,
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; input?: Uint8Array | string; timeoutMs?: number },
): Promise<ToolResult> {
  return withSlot(
    () =>
      new Promise<ToolResult>((resolve) => {
        const child = execFile(
          file,
          [...args],
          {
            cwd: options.cwd,
            env: { ...process.env, ...options.env },
            encoding: 'buffer',
            maxBuffer: 64 * 1024 * 1024,
            timeout: options.timeoutMs ?? 120_000,
            killSignal: 'SIGKILL',
          },
          (error, stdout, stderr) => {
            const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
            const killed = error && (error as { killed?: boolean }).killed ? ' (killed: timeout)' : '';
            resolve({ code, stdout, stderr: `${stderr.toString('utf8')}${killed}` });
          },
        );
        // A tool that exits before reading its input closes the pipe: not an error of the test.
        child.stdin?.on('error', () => undefined);
        child.stdin?.end(options.input ?? '');
      }),
  );
}

/** Runs a tool and throws (naming the command and its stderr) unless it exits 0. */
export async function mustRun(
  file: string,
  args: readonly string[],
  options: Parameters<typeof runTool>[2],
): Promise<Buffer> {
  const r = await runTool(file, args, options);
  if (r.code !== 0) {
    throw new Error(`${file} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim().slice(0, 2000)}`);
  }
  return r.stdout;
}

export const openssl = (args: readonly string[], cwd: string, input?: Uint8Array | string) =>
  mustRun('openssl', args, { cwd, ...(input !== undefined ? { input } : {}) });

function onPath(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export type ToolName = 'openssl' | 'nss' | 'gnutls' | 'keytool';

/** Which tools this machine has (keytool also needs a JRE that starts). */
export const TOOLS: Readonly<Record<ToolName, boolean>> = {
  openssl: onPath('openssl'),
  nss: onPath('pk12util') && onPath('certutil'),
  gnutls: onPath('certtool'),
  keytool: onPath('keytool') && onPath('java'),
};

/** `CREDROAM_INTEROP=full` runs the whole matrix and every corpus variant; anything else the small default. */
export const FULL = process.env.CREDROAM_INTEROP === 'full';

/**
 * The tools a run uses, each then required (a missing one fails its tests, never passes unseen):
 * OpenSSL, NSS and GnuTLS always (scripts/setup.sh installs them); keytool in the full mode, or when
 * `CREDROAM_INTEROP_REQUIRE=keytool` (or `all`) asks for it (a JRE is not in setup: 189 MB).
 */
export function required(tool: ToolName): boolean {
  if (tool === 'openssl' || tool === 'nss' || tool === 'gnutls') return true;
  const asked = (process.env.CREDROAM_INTEROP_REQUIRE ?? '').split(',').map((s) => s.trim());
  return FULL || asked.includes(tool) || asked.includes('all');
}

export const sha256 = (d: Uint8Array) => createHash('sha256').update(d).digest('hex');

/** The DER of every certificate in a PEM text. */
export function pemCertificates(text: string): Buffer[] {
  const out: Buffer[] = [];
  for (const m of text.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)) {
    out.push(Buffer.from(new X509Certificate(m[0]).raw));
  }
  return out;
}

/**
 * The first private key in a PEM text (any of OpenSSL's labels), as PKCS#8 DER, or undefined. An
 * `EC PRIVATE KEY` without its curve (as GnuTLS prints it) is read with `curve` (Node's name).
 */
export function pemPrivateKey(text: string, curve?: string): Buffer | undefined {
  const m = /-----BEGIN ((?:RSA |EC |DSA )?PRIVATE KEY)-----[\s\S]+?-----END \1-----/.exec(text);
  if (!m) return undefined;
  try {
    return createPrivateKey(m[0]).export({ type: 'pkcs8', format: 'der' });
  } catch (error) {
    const oid = curve && CURVE_OIDS[curve];
    if (m[1] !== 'EC PRIVATE KEY' || !oid) throw error;
    const sec1 = Buffer.from(m[0].replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    const pkcs8 = der(0x30, [
      der(0x02, [Buffer.from([0])]),
      der(0x30, [Buffer.from('06072a8648ce3d0201', 'hex'), Buffer.from(oid, 'hex')]),
      der(0x04, [sec1]),
    ]);
    return createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({
      type: 'pkcs8',
      format: 'der',
    });
  }
}

const CURVE_OIDS: Readonly<Record<string, string>> = {
  prime256v1: '06082a8648ce3d030107',
  secp384r1: '06052b81040022',
  secp521r1: '06052b81040023',
};

function der(tag: number, parts: readonly Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const n = body.length;
  const len =
    n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}

/** A key's identity for comparisons: Node's own PKCS#8 re-encoding of it, and its public key. */
export function keyIdentity(pkcs8: Uint8Array): { pkcs8Sha256: string; spkiSha256: string } {
  const key = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
  return {
    pkcs8Sha256: sha256(key.export({ type: 'pkcs8', format: 'der' })),
    spkiSha256: sha256(createPublicKey(key).export({ type: 'spki', format: 'der' })),
  };
}

export const certSpkiSha256 = (der: Uint8Array) =>
  sha256(new X509Certificate(Buffer.from(der)).publicKey.export({ type: 'spki', format: 'der' }));

/** Writes a secret to a file of its own (mode 0600) and returns its path. */
export async function secretFile(dir: string, name: string, secret: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, secret, { mode: 0o600 });
  return file;
}

/** A GnuTLS template carrying the password (certtool reads it in batch mode; never argv). */
export async function gnutlsTemplate(dir: string, name: string, secret: string): Promise<string> {
  if (/["\\\n]/.test(secret)) throw new Error('the GnuTLS template cannot carry this password');
  const file = path.join(dir, name);
  await writeFile(file, `password = "${secret}"\n`, { mode: 0o600 });
  return file;
}

/** A fresh, empty NSS database (no password) in a new folder under `dir`. */
export async function nssDb(dir: string): Promise<{ db: string; emptyPw: string }> {
  const folder = await mkdtemp(path.join(dir, 'nssdb-'));
  const emptyPw = path.join(folder, 'db.pw');
  await writeFile(emptyPw, '', { mode: 0o600 });
  await mustRun('certutil', ['-N', '-d', `sql:${folder}`, '--empty-password'], { cwd: dir });
  return { db: `sql:${folder}`, emptyPw };
}

export async function subdir(dir: string, name: string): Promise<string> {
  const d = path.join(dir, name);
  await mkdir(d, { recursive: true });
  return d;
}
