// The plugin author's path, outside this repository, from the packed packages alone (issue 13):
//   1. pack the workspace (scripts/pack-kit.mjs) and install an agent from the tarballs with npm,
//      as a site would (docs/admin/install.md);
//   2. `credroam plugin new` (the installed agent's) writes a local-store plugin; `npm install
//      --save-dev credroam-core-*.tgz` and `npm test` build it with its own tsc (from the registry)
//      and run its tests (the testing kit's contract suite, the activation harness);
//   3. (before 2) the checked-in example, examples/credroam-folder-store (what `plugin new --kind
//      local-store` writes), is copied out and built and tested the same way;
//   4. every other kind is generated and type-checked (with CREDROAM_KIT=full: installed, built and
//      tested each);
//   5. the plugin is packed, hashed (`credroam policy hash-plugin`), installed into the agent, and
//      selected as an endpoint's local store, whose directory is a real folder: a credential imported
//      there lands in the plugin's files, roams through the folder directory, and reaches a second
//      endpoint. These are the steps of docs/plugins/worked-example.md.
// Needs a built workspace (tsc -b), npm and the npm registry, openssl. Prints each step; exit 0 when
// everything held. KEEP=1 keeps the work folder.
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packKit, root } from './pack-kit.mjs';

const full = process.env.CREDROAM_KIT === 'full';
const KINDS = ['trigger', 'local-store', 'directory-store', 'token-protector', 'policy-source'];
const work = mkdtempSync(path.join(os.tmpdir(), 'credroam-kit-'));
const npmFlags = ['--no-audit', '--no-fund', '--loglevel=error'];
const started = Date.now();

const step = (text) => console.log(`\n== ${text} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
function run(cmd, args, cwd, options = {}) {
  console.log(
    `$ ${[cmd, ...args].join(' ')}${cwd === work ? '' : `   (in ${path.relative(work, cwd) || '.'})`}`,
  );
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], ...options });
}
function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
  console.log(`ok: ${what}`);
}

try {
  step('pack the workspace');
  const tarballs = packKit(path.join(work, 'packs'));
  const core = tarballs.get('@credroam/core');
  for (const t of tarballs.values()) console.log(path.relative(work, t));

  step('install an agent from the tarballs, with npm');
  const agentDir = path.join(work, 'agent');
  mkdirSync(agentDir);
  writeFileSync(path.join(agentDir, 'package.json'), '{ "name": "site-agent", "private": true }\n');
  // Optional packages left out: kerberos (GSSAPI binds) is built from source, usocket is unused.
  run('npm', ['install', ...npmFlags, '--omit=optional', ...tarballs.values()], agentDir);
  const agentBin = path.join(agentDir, 'node_modules/@credroam/agent/dist/src/bin/credroam.js');
  const credroam = (args, cwd = work, options) => run(process.execPath, [agentBin, ...args], cwd, options);

  const pluginsDir = path.join(work, 'plugins');
  mkdirSync(pluginsDir);
  const newPlugin = (kind) => {
    const dir = path.join(pluginsDir, kind);
    credroam(['plugin', 'new', `@acme/credroam-${kind}`, '--kind', kind, '--dir', dir]);
    return dir;
  };
  // node --test's summary: `# pass N` (TAP: Node 20's reporter when not on a terminal) or `ℹ pass N`
  // (spec: Node 22 and later, always).
  const count = (out, what) => new RegExp(`^(?:#|ℹ) ${what} (\\d+)$`, 'm').exec(out)?.[1];
  const buildAndTest = (dir) => {
    run('npm', ['install', ...npmFlags, '--save-dev', core], dir);
    const out = run('npm', ['test'], dir);
    const pass = count(out, 'pass');
    const fail = count(out, 'fail');
    check(
      Number(pass) > 0 && fail === '0',
      `${path.relative(work, dir)}: npm test: ${pass} passed, ${fail} failed`,
    );
    const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    check(
      manifest.devDependencies['@credroam/core'].startsWith('file:') &&
        !existsSync(path.join(dir, 'node_modules/tsyringe/node_modules')),
      `${path.relative(work, dir)}: @credroam/core from the tarball`,
    );
  };

  step(
    'the checked-in example (examples/credroam-folder-store), copied out of the repository: npm install, npm test',
  );
  const exampleDir = path.join(work, 'example');
  cpSync(path.join(root, 'examples/credroam-folder-store'), exampleDir, {
    recursive: true,
    filter: (src) => !/[/\\](node_modules|dist)$/.test(src),
  });
  buildAndTest(exampleDir);
  // Without CREDROAM_KIT=full, the generated plugins share the example's node_modules (the same
  // packages a `npm install --save-dev credroam-core-*.tgz` of their own would bring).
  const linkModules = (dir) =>
    symlinkSync(path.join(exampleDir, 'node_modules'), path.join(dir, 'node_modules'));

  step('credroam plugin new --kind local-store: npm test');
  const storeDir = newPlugin('local-store');
  if (full) buildAndTest(storeDir);
  else {
    linkModules(storeDir);
    const out = run('npm', ['test'], storeDir);
    check(
      count(out, 'fail') === '0' && Number(count(out, 'pass')) > 0,
      'plugins/local-store: npm test passes as generated',
    );
  }

  const others = KINDS.filter((k) => k !== 'local-store');
  if (full) {
    for (const kind of others) {
      step(`--kind ${kind}: npm install and npm test`);
      buildAndTest(newPlugin(kind));
    }
  } else {
    step(`--kind ${others.join(', ')}: generated and type-checked (CREDROAM_KIT=full builds and tests each)`);
    const dirs = others.map(newPlugin);
    for (const dir of [...dirs, pluginsDir]) linkModules(dir);
    const tsconfig = JSON.parse(readFileSync(path.join(storeDir, 'tsconfig.json'), 'utf8'));
    tsconfig.compilerOptions = { ...tsconfig.compilerOptions, noEmit: true };
    tsconfig.include = others.flatMap((k) => [`${k}/src`, `${k}/test`]);
    writeFileSync(path.join(pluginsDir, 'tsconfig.json'), JSON.stringify(tsconfig));
    run(path.join(exampleDir, 'node_modules/.bin/tsc'), ['-p', pluginsDir], pluginsDir);
    check(true, `${others.join(', ')}: type-check against the packed @credroam/core`);
  }

  step('pack the plugin, install it into the agent, hash it as a site would');
  const packed = run('npm', ['pack', '--json', '--pack-destination', work, ...npmFlags], storeDir);
  const pluginTgz = path.join(work, JSON.parse(packed)[0].filename);
  run('npm', ['install', ...npmFlags, '--omit=optional', pluginTgz], agentDir);
  const installed = path.join(agentDir, 'node_modules/@acme/credroam-local-store');
  check(
    !existsSync(path.join(installed, 'node_modules')),
    'the plugin shares the agent’s @credroam/core (no copy of its own)',
  );
  const hashes = credroam(['policy', 'hash-plugin', installed]);
  check(
    hashes.includes('dist/src/index.js') && hashes.includes('acme.credroam-local-store'),
    'hash-plugin lists its files',
  );

  step('two endpoints on a real folder directory; the laptop keeps its credentials in the plugin');
  writeFileSync(path.join(work, 'roaming-password'), 'correct horse battery staple\n', { mode: 0o600 });
  writeFileSync(path.join(work, 'p12-password'), 'export secret\n', { mode: 0o600 });
  const directory = `file://${path.join(work, 'directory')}`;
  credroam([
    'init',
    '--config',
    'laptop.json',
    '--directory',
    directory,
    '--home',
    path.join(work, 'laptop'),
    '--user',
    'alice',
  ]);
  credroam([
    'init',
    '--config',
    'desktop.json',
    '--directory',
    directory,
    '--home',
    path.join(work, 'desktop'),
    '--user',
    'alice',
  ]);
  const laptop = JSON.parse(readFileSync(path.join(work, 'laptop.json'), 'utf8'));
  laptop.plugins = [{ from: '@acme/credroam-local-store' }];
  laptop.localStore = { use: 'local-store', settings: { folder: 'acme-credentials' } };
  writeFileSync(path.join(work, 'laptop.json'), `${JSON.stringify(laptop, null, 2)}\n`);
  const list = credroam(['--config', 'laptop.json', 'plugins', 'list']);
  check(
    /acme\.credroam-local-store 0\.1\.0/.test(list),
    'credroam plugins list shows acme.credroam-local-store 0.1.0',
  );

  const pw = ['--password-file', 'roaming-password'];
  credroam(['--config', 'laptop.json', 'logon', ...pw]);
  run(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'alice.key',
      '-out',
      'alice.crt',
      '-days',
      '365',
      '-subj',
      '/CN=Alice Example',
    ],
    work,
  );
  run(
    'openssl',
    [
      'pkcs12',
      '-export',
      '-in',
      'alice.crt',
      '-inkey',
      'alice.key',
      '-out',
      'alice.p12',
      '-passout',
      'file:p12-password',
    ],
    work,
  );
  credroam(['--config', 'laptop.json', 'import', 'alice.p12', '--passin', 'file:p12-password', ...pw]);
  const files = readdirSync(path.join(work, 'laptop', 'acme-credentials'));
  check(
    files.some((f) => f.startsWith('cert-')) && files.some((f) => f.startsWith('key-')),
    `the plugin's folder holds the certificate and the key (${files.join(', ')})`,
  );
  credroam(['--config', 'laptop.json', 'sync', ...pw]);
  const thumb = execFileSync('openssl', ['x509', '-in', 'alice.crt', '-noout', '-fingerprint', '-sha256'], {
    cwd: work,
    encoding: 'utf8',
  })
    .split('=')[1]
    .trim()
    .replaceAll(':', '')
    .toLowerCase();
  const onLaptop = JSON.parse(credroam(['--config', 'laptop.json', '--json', 'list']));
  check(
    onLaptop.credentials.some((c) => c.sha256 === thumb),
    'the laptop lists the credential, read through the plugin',
  );
  credroam(['--config', 'desktop.json', 'logon', ...pw]);
  const desktop = JSON.parse(credroam(['--config', 'desktop.json', '--json', 'list']));
  check(
    desktop.credentials.some((c) => c.sha256 === thumb),
    'the credential imported into the plugin reached the second endpoint through the folder directory',
  );

  step(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} catch (error) {
  console.error(`\nFAILED: ${error.message}`);
  if (error.stdout) console.error(`stdout:\n${error.stdout}`);
  if (error.stderr) console.error(`stderr:\n${error.stderr}`);
  process.exitCode = 1;
} finally {
  if (process.env.KEEP) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
