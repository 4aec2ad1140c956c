// The interop matrix (issue 11): producer (OpenSSL, NSS, GnuTLS, keytool where a JRE is present)
// × key type → imported with the plugin's API (and, for a few, through the whole credroam CLI:
// import on A, sync, logon on B, export on B) → the export opened by each consumer (OpenSSL, NSS,
// GnuTLS, keytool), which must read back the original certificate and key. A consumer that cannot
// open the producer's own file is not judged on the export (and must be a known limit); one that
// opens the producer's file must open the export.
// Default: RSA, P-256 and Ed25519; CREDROAM_INTEROP=full: every key type and more CLI runs.
// See docs/plugins/pkcs12-interop.md.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { CONSUMERS, type ConsumerResult, consume } from './corpus/consumers.js';
import { activatePlugin, judge, type Plugin } from './corpus/judge.js';
import { KEY_LABEL, KEY_TYPES, type KeyType, type Material, makeCredential } from './corpus/keys.js';
import { gnutlsPkcs12, keytoolPkcs12, nssPkcs12, opensslPkcs12 } from './corpus/producers.js';
import { FULL, required, TOOLS, type ToolName } from './corpus/tools.js';
import { opensslReadsPkcs12 } from './corpus/truth.js';

const PRODUCERS: readonly ToolName[] = (['openssl', 'nss', 'gnutls', 'keytool'] as const).filter(required);
const FILE_PASSWORD = 'interop-secret';
const EXPORT_PASSWORD = 'exported-secret';
const FRIENDLY_NAME = 'interop credential';

/** Key types a producer cannot make (checked on Debian 12: NSS 3.87 has no EdDSA keys). */
const CANNOT_PRODUCE: Partial<Record<ToolName, Partial<Record<KeyType, string>>>> = {
  nss: {
    ed25519: 'NSS 3.87 cannot import an Ed25519 key (SEC_ERROR_PKCS12_UNABLE_TO_IMPORT_KEY)',
    ed448: 'NSS 3.87 cannot import an Ed448 key (SEC_ERROR_PKCS12_UNABLE_TO_IMPORT_KEY)',
  },
};
/** Files a consumer is known not to open (then the export is not judged by it either). */
const KNOWN_CONSUMER_LIMITS: Partial<Record<ToolName, readonly KeyType[]>> = {
  nss: ['ed25519', 'ed448'],
};

const keyTypes: readonly KeyType[] = FULL ? KEY_TYPES : ['rsa', 'p256', 'ed25519'];
/** The combinations also run through the whole CLI (two endpoints, a folder directory). */
const cliRuns: readonly (readonly [ToolName, KeyType])[] = FULL
  ? PRODUCERS.flatMap((p) => (['rsa', 'p256', 'ed25519'] as const).map((k) => [p, k] as const))
  : [
      ['gnutls', 'rsa'],
      ['openssl', 'ed25519'],
    ];

let root: string;
let plugin: Plugin;
const materials = new Map<KeyType, Promise<Material>>();
const material = (keyType: KeyType) => {
  let m = materials.get(keyType);
  if (!m) {
    m = (async () => {
      const dir = path.join(root, `material-${keyType}`);
      await mkdir(dir);
      return makeCredential(dir, keyType, `interop-${keyType}`);
    })();
    materials.set(keyType, m);
  }
  return m;
};

test.before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'credroam-interop-'));
  plugin = await activatePlugin();
});
test.after.always(async () => {
  await plugin?.dispose();
  if (root) await rm(root, { recursive: true, force: true });
});

function produce(tool: ToolName, m: Material, out: string): Promise<unknown> {
  switch (tool) {
    case 'openssl':
      return opensslPkcs12(m, out, { password: FILE_PASSWORD, name: FRIENDLY_NAME });
    case 'nss':
      return nssPkcs12(m, out, { password: FILE_PASSWORD, nickname: FRIENDLY_NAME });
    case 'gnutls':
      return gnutlsPkcs12(m, out, { password: FILE_PASSWORD, name: FRIENDLY_NAME });
    case 'keytool':
      return keytoolPkcs12(m, out, { password: FILE_PASSWORD, alias: FRIENDLY_NAME });
  }
}

const consumers = CONSUMERS.filter(required);

/**
 * Each consumer on the producer's file, then on the export: the export must open wherever the
 * producer's file does, with the original certificate and key.
 */
async function consumersOpen(
  t: ExecutionContext,
  producer: ToolName,
  keyType: KeyType,
  dir: string,
  producerFile: string,
  exportFile: string,
  original: { certSha256: string; keyPkcs8Sha256: string },
): Promise<void> {
  // Every consumer runs, and every problem is reported together (a failed assertion ends a test).
  const problems: string[] = [];
  for (const consumer of consumers) {
    if (!TOOLS[consumer]) {
      problems.push(`${consumer} is not on this machine and CREDROAM_INTEROP_REQUIRE asks for it`);
      continue;
    }
    const cdir = await mkdtemp(path.join(dir, `${consumer}-`));
    const own = await consume(consumer, producerFile, FILE_PASSWORD, cdir);
    if (!own.opened) {
      t.log(
        `${consumer} does not open ${producer}'s own ${KEY_LABEL[keyType]} file: export not judged (${own.why})`,
      );
      if (!KNOWN_CONSUMER_LIMITS[consumer]?.includes(keyType)) {
        problems.push(
          `${consumer} does not open ${producer}'s own file, and that is not a known limit: ${own.why}`,
        );
      }
      continue;
    }
    // The consumer's reading is checked on the producer's file first (the harness, not credroam).
    if (!own.certs.includes(original.certSha256) || own.key?.pkcs8Sha256 !== original.keyPkcs8Sha256) {
      problems.push(`${consumer} reads another certificate or key from ${producer}'s own file (harness)`);
      continue;
    }
    const got: ConsumerResult = await consume(consumer, exportFile, EXPORT_PASSWORD, cdir);
    t.log(
      `${consumer}: opens ${producer}'s own file; the export: ${got.opened ? 'opens' : `DOES NOT OPEN (${got.why})`}`,
    );
    if (!got.opened) {
      problems.push(`${consumer} opens ${producer}'s file but not credroam's export: ${got.why}`);
      continue;
    }
    if (!got.certs.includes(original.certSha256)) {
      problems.push(`${consumer} does not read the original certificate from the export`);
    }
    if (got.key?.pkcs8Sha256 !== original.keyPkcs8Sha256) {
      problems.push(`${consumer} does not read the original key from the export`);
    }
  }
  t.deepEqual(problems, [], problems.join('; '));
}

for (const producer of PRODUCERS) {
  if (!required(producer)) continue;
  for (const keyType of keyTypes) {
    const cannot = CANNOT_PRODUCE[producer]?.[keyType];
    if (cannot) continue;
    test(`interop: ${producer} × ${KEY_LABEL[keyType]} imports with the same certificate and key, and the export opens in ${consumers.join(', ')} wherever ${producer}'s own file does`, async (t) => {
      if (!TOOLS[producer])
        t.fail(`${producer} is not on this machine and CREDROAM_INTEROP_REQUIRE asks for it`);
      const dir = await mkdtemp(path.join(root, `${producer}-${keyType}-`));
      const m = await material(keyType);
      const producerFile = path.join(dir, 'produced.p12');
      await produce(producer, m, producerFile);
      const truth = await opensslReadsPkcs12(producerFile, FILE_PASSWORD, dir);
      const cred = await judge(t, plugin, {
        name: `${producer} ${keyType}`,
        paths: [producerFile],
        files: [new Uint8Array(await readFile(producerFile))],
        password: FILE_PASSWORD,
        expect: {
          class: 'imported',
          certSha256: truth.certSha256,
          keySpkiSha256: truth.keySpkiSha256!,
          keyPkcs8Sha256: truth.keyPkcs8Sha256!,
          allCerts: truth.allCerts,
        },
      });
      if (!cred?.key) {
        t.fail('nothing to export: the import failed');
        return;
      }
      const exportFile = path.join(dir, 'exported.p12');
      await writeFile(exportFile, await plugin.write(cred, EXPORT_PASSWORD));
      await consumersOpen(t, producer, keyType, dir, producerFile, exportFile, {
        certSha256: truth.certSha256,
        keyPkcs8Sha256: truth.keyPkcs8Sha256!,
      });
    });
  }
}

// Producers that cannot make a key type: the limit is checked, so a newer tool that can is noticed.
if (FULL && required('nss')) {
  for (const [keyType, why] of Object.entries(CANNOT_PRODUCE.nss ?? {})) {
    test(`interop: nss × ${KEY_LABEL[keyType as KeyType]} is not in the matrix: ${why} (checked)`, async (t) => {
      const dir = await mkdtemp(path.join(root, `nss-cannot-${keyType}-`));
      const m = await material(keyType as KeyType);
      const made = await nssPkcs12(m, path.join(dir, 'x.p12'), { password: FILE_PASSWORD }).then(
        () => true,
        () => false,
      );
      t.false(made, 'NSS now makes this key type: add it to the matrix');
    });
  }
}

// --- The whole CLI for a few: import on endpoint A, sync, logon on B, export on B.
const BIN = fileURLToPath(new URL('../../../agent/dist/src/bin/credroam.js', import.meta.url));

function credroam(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      { cwd, env: { PATH: process.env.PATH, ...env }, timeout: 120_000, killSignal: 'SIGKILL' },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
    child.stdin?.on('error', () => undefined);
    child.stdin?.end();
  });
}

for (const [producer, keyType] of cliRuns) {
  if (!required(producer)) continue;
  test(`interop CLI: ${producer} × ${KEY_LABEL[keyType]} imported on A, roamed to B, exported on B: the export opens in ${consumers.join(', ')} with the same certificate and key`, async (t) => {
    if (!TOOLS[producer])
      t.fail(`${producer} is not on this machine and CREDROAM_INTEROP_REQUIRE asks for it`);
    t.true(existsSync(BIN), `the credroam CLI is not built (${BIN}): run pnpm exec tsc -b`);
    const dir = await mkdtemp(path.join(root, `cli-${producer}-${keyType}-`));
    const m = await material(keyType);
    const producerFile = path.join(dir, 'produced.p12');
    await produce(producer, m, producerFile);
    const truth = await opensslReadsPkcs12(producerFile, FILE_PASSWORD, dir);
    await writeFile(path.join(dir, 'pw'), 'alice roaming password\n', { mode: 0o600 });
    await writeFile(path.join(dir, 'p12pw'), FILE_PASSWORD, { mode: 0o600 });
    await writeFile(path.join(dir, 'outpw'), EXPORT_PASSWORD, { mode: 0o600 });
    await writeFile(
      path.join(dir, 'policy.json'),
      JSON.stringify({ protection: { kdf: { name: 'scrypt', N: 16384, r: 8, p: 1 } } }),
    );
    const env = { XDG_CONFIG_HOME: path.join(dir, 'xdg'), XDG_DATA_HOME: path.join(dir, 'xdg') };
    for (const e of ['a', 'b']) {
      const init = await credroam(
        [
          'init',
          '--config',
          path.join(dir, `${e}.json`),
          '--directory',
          `file://${dir}/directory`,
          '--home',
          path.join(dir, e),
          '--user',
          'alice',
          '--policy',
          path.join(dir, 'policy.json'),
        ],
        dir,
        env,
      );
      t.is(init.code, 0, init.stderr);
    }
    const pw = ['--password-file', path.join(dir, 'pw')];
    const on = (e: string, args: readonly string[]) =>
      credroam(['--config', path.join(dir, `${e}.json`), ...args], dir, env);
    t.is((await on('a', ['logon', ...pw])).code, 0);
    const imported = await on('a', ['import', producerFile, '--passin', 'file:p12pw', ...pw, '--json']);
    t.is(imported.code, 0, imported.stderr);
    if (imported.code !== 0) return;
    const sync = await on('a', ['sync', ...pw, '--json']);
    t.is(sync.code, 0, sync.stderr);
    const logonB = await on('b', ['logon', ...pw, '--json']);
    t.is(logonB.code, 0, logonB.stderr);
    const list = await on('b', ['list', '--json']);
    t.is(list.code, 0, list.stderr);
    const listed = (JSON.parse(list.stdout) as { credentials: { sha256: string; hasKey: boolean }[] })
      .credentials;
    t.true(
      listed.some((c) => c.sha256 === truth.certSha256 && c.hasKey),
      'B lists the roamed credential with its key',
    );
    const exported = await on('b', [
      'export',
      truth.certSha256.slice(0, 16),
      '--out',
      'from-b.p12',
      '--passout',
      'file:outpw',
      ...pw,
    ]);
    t.is(exported.code, 0, exported.stderr);
    if (exported.code !== 0) return;
    const back = await opensslReadsPkcs12(path.join(dir, 'from-b.p12'), EXPORT_PASSWORD, dir);
    t.is(back.certSha256, truth.certSha256, 'the certificate exported on B is the one imported on A');
    t.is(back.keyPkcs8Sha256, truth.keyPkcs8Sha256, 'the key exported on B is the one imported on A');
    await consumersOpen(t, producer, keyType, dir, producerFile, path.join(dir, 'from-b.p12'), {
      certSha256: truth.certSha256,
      keyPkcs8Sha256: truth.keyPkcs8Sha256!,
    });
  });
}
