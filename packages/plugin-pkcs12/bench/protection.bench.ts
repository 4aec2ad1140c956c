/**
 * Protection benchmark: prints JSON, with baselines measured in the same run.
 *   logon:  unlocking the master key with the default KDF (scrypt N=2^17, r=8, p=1), against a
 *           bare crypto.scrypt with the same parameters (the floor: the KDF is the cost by design).
 *   import: reading an OpenSSL-made PKCS#12 and storing the credential (key encrypted at rest),
 *           against `openssl pkcs12` reading the same file (process start included).
 *   export: writing a PKCS#12 (PBES2, 100 000 iterations, HMAC-SHA256) against `openssl pkcs12
 *           -export` with the same iteration count.
 */
import { execFileSync } from 'node:child_process';
import { createHash, scryptSync } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { FolderDirectoryStore } from '@credroam/core';
import { readPkcs12 } from '../src/formats/pkcs12.js';
import { EXPORT_ITERATIONS, writePkcs12 } from '../src/formats/pkcs12-write.js';
import { CredentialFolderStore, DEFAULT_KDF, Keyring } from '../src/index.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number) => Math.round(x * 10) / 10;
async function time(n: number, f: () => Promise<unknown> | unknown): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await f();
    xs.push(performance.now() - t0);
  }
  return median(xs);
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'credroam-bench-'));
try {
  const ossl = (args: string[]) =>
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] });
  await writeFile(path.join(dir, 'pw'), 'bench');
  ossl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'k.pem',
    '-out',
    'c.pem',
    '-days',
    '30',
    '-subj',
    '/CN=bench',
  ]);
  ossl(['pkcs12', '-export', '-in', 'c.pem', '-inkey', 'k.pem', '-out', 'in.p12', '-passout', 'file:pw']);
  const p12 = new Uint8Array(await readFile(path.join(dir, 'in.p12')));
  await mkdir(path.join(dir, 'directory'));

  // logon
  const directory = new FolderDirectoryStore(path.join(dir, 'directory'), 'alice');
  const keyring = () => new Keyring({ user: 'alice', directory, cacheFile: path.join(dir, 'keys.json') });
  await keyring().unlock('roaming password'); // first use creates the key
  const logonMs = await time(3, () => keyring().unlock('roaming password'));
  const kdf = DEFAULT_KDF as { N: number; r: number; p: number };
  const scryptMs = await time(3, () =>
    scryptSync('roaming password', 'sixteen byte salt', 32, {
      N: kdf.N,
      r: kdf.r,
      p: kdf.p,
      maxmem: 256 * kdf.N * kdf.r * kdf.p,
    }),
  );

  // import
  const k = keyring();
  await k.unlock('roaming password');
  const store = new CredentialFolderStore(path.join(dir, 'store'), k);
  const importMs = await time(5, async () => {
    const { credentials } = await readPkcs12(p12, 'bench');
    const c = credentials[0]!;
    const id = createHash('sha256').update(c.cert).digest('hex');
    await store.put({ kind: 'cert', id, content: c.cert, archived: false, modified: Date.now() });
    await store.put({
      kind: 'key',
      id: 'f'.repeat(64),
      content: c.key!,
      archived: false,
      modified: Date.now(),
    });
  });
  const opensslReadMs = await time(5, () =>
    ossl(['pkcs12', '-in', 'in.p12', '-passin', 'file:pw', '-nodes', '-out', 'read.pem']),
  );

  // export
  const [cred] = (await readPkcs12(p12, 'bench')).credentials;
  const exportMs = await time(5, () => writePkcs12(cred!, 'bench'));
  const opensslExportMs = await time(5, () =>
    ossl([
      'pkcs12',
      '-export',
      '-in',
      'c.pem',
      '-inkey',
      'k.pem',
      '-out',
      'out.p12',
      '-passout',
      'file:pw',
      '-iter',
      String(EXPORT_ITERATIONS),
      '-macalg',
      'sha256',
    ]),
  );

  console.log(
    JSON.stringify(
      {
        logon: {
          kdf: DEFAULT_KDF,
          ms: round(logonMs),
          bareScryptMs: round(scryptMs),
          ratio: round(logonMs / scryptMs),
        },
        importPerCredential: {
          ms: round(importMs),
          opensslReadMs: round(opensslReadMs),
          ratio: round(importMs / opensslReadMs),
        },
        exportPerCredential: {
          iterations: EXPORT_ITERATIONS,
          ms: round(exportMs),
          opensslExportMs: round(opensslExportMs),
          ratio: round(exportMs / opensslExportMs),
        },
      },
      null,
      2,
    ),
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
