import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { schemasCompiledAtRunTime } from '@credroam/core';
import test from 'ava';
import { main } from '../../src/cli/main.js';
import { BIN, holds, opensslP12, runProgram, tempDir, twoEndpoints } from '../support.js';

// Decision 024: what a command pays at start.

test('logon, sync and status with the first-party plugins compile no JSON Schema at run time (all were compiled at build time)', async (t) => {
  const w = await twoEndpoints(t);
  const run = async (args: readonly string[]) => {
    let stderr = '';
    const code = await main(['--config', path.join(w.dir, 'a.json'), ...args], {
      stdout: () => undefined,
      stderr: (text) => {
        stderr += text;
      },
      env: {},
      stdin: async () => '',
    });
    t.is(code, 0, stderr);
  };
  await run(['logon', ...w.pw]);
  await run(['sync', ...w.pw]);
  await run(['status']);
  t.is(
    schemasCompiledAtRunTime(),
    0,
    'a first-party schema is missing from compiled-validators.ts: pnpm exec tsc -b && node scripts/compile-validators.mjs --write',
  );
});

test('credroam --version and --help load no command module and not the main entry of @credroam/core', async (t) => {
  const dir = await tempDir(t);
  for (const flag of ['--version', '--help']) {
    const loaded = (await loading(t, dir, [flag])).filter((l) => l.startsWith('loaded '));
    t.true(loaded.length > 0, 'the hook saw the modules load');
    t.deepEqual(
      loaded.filter((l) => /\/cli\/commands\/|\/core\/dist\/src\/index\.js|\/session\.js/.test(l)),
      [],
      flag,
    );
  }
});

/**
 * Runs credroam with a module hook that prints each module as it loads, and a line when scrypt is
 * called (the key derivation): what a command loads, in order.
 */
async function loading(
  t: Parameters<typeof tempDir>[0],
  dir: string,
  args: readonly string[],
  program: readonly string[] = [BIN],
) {
  const hooks = path.join(dir, 'hooks.mjs');
  const register = path.join(dir, 'register.mjs');
  await writeFile(
    hooks,
    'export async function load(url, context, next) { process.stderr.write("loaded " + url + "\\n"); return next(url, context); }\n',
  );
  await writeFile(
    register,
    [
      "import { createRequire, register, syncBuiltinESMExports } from 'node:module';",
      "import crypto from 'node:crypto';",
      "register('./hooks.mjs', import.meta.url);",
      'const scrypt = crypto.scrypt;',
      'crypto.scrypt = (...a) => { process.stderr.write("scrypt\\n"); return scrypt(...a); };',
      'syncBuiltinESMExports();',
      // What `require` loaded (an ES module too, as asn1js is: decision 024), which the hook does not see.
      'const cache = createRequire(import.meta.url).cache;',
      "process.on('exit', () => { for (const file of Object.keys(cache)) process.stderr.write('loaded required ' + file + '\\n'); });",
    ].join('\n'),
  );
  const r = await runProgram(process.execPath, ['--import', register, ...program, ...args], { cwd: dir });
  t.is(r.code, 0, r.stderr);
  return r.stderr.split('\n').filter((l) => l.startsWith('loaded ') || l === 'scrypt');
}

test('credroam sync through the running agent loads neither the plugin host, the engine nor the main entry of @credroam/core (decision 027)', async (t) => {
  const w = await twoEndpoints(t);
  t.is((await w.a(['logon', '--start-agent', ...w.pw])).code, 0);
  const lines = await loading(t, w.dir, ['--config', path.join(w.dir, 'a.json'), 'sync']);
  t.true(lines.length > 0, 'the hook saw the modules load');
  t.deepEqual(
    lines.filter((l) =>
      /\/core\/dist\/src\/index\.js|\/host\/plugin-host\.js|\/core\/dist\/src\/engine\/|\/session(-engine)?\.js|\/plugin-(ldap|pkcs12)\/|pkijs|tsyringe|semver/.test(
        l,
      ),
    ),
    [],
  );
  t.false(lines.includes('scrypt'), 'no key derivation');
});

test('the session module loads no engine, enrollment, mirrors or DI container: they load once the protector is made, while a logon’s key derivation runs; a sync loads no CMS library (decision 027)', async (t) => {
  const w = await twoEndpoints(t);
  const session = path.join(path.dirname(BIN), '..', 'session.js');
  await writeFile(path.join(w.dir, 'open.mjs'), `await import(${JSON.stringify(session)});\n`);
  const opened = await loading(t, w.dir, [path.join(w.dir, 'open.mjs')], []);
  t.true(opened.some((l) => l.endsWith('/session.js')));
  t.deepEqual(
    opened.filter((l) =>
      /\/engine\/sync-engine\.js|tsyringe|\/enroll\/service\.js|\/mirrors\/index\.js|\/session-engine\.js/.test(
        l,
      ),
    ),
    [],
  );
  const sync = await loading(t, w.dir, ['--config', path.join(w.dir, 'a.json'), 'sync', ...w.pw]);
  t.true(
    sync.some((l) => l.endsWith('/session-engine.js')),
    'the sync opened a session',
  );
  t.deepEqual(
    sync.filter((l) => /pkijs|\/policy\/bundle\/(verify|sign|cms)\.js|\/core\/dist\/src\/index\.js/.test(l)),
    [],
  );
});

test('a logon with nothing changed and a sync with nothing to do load no asn1js (about 30 ms of start-up), and a logon loads the lock library after its key derivation started; an import, which parses a PKCS#12, does load asn1js (decision 024)', async (t) => {
  const w = await twoEndpoints(t);
  const cred = await opensslP12(w.dir);
  const config = ['--config', path.join(w.dir, 'a.json')];
  const asn1 = (lines: readonly string[]) => lines.filter((l) => /\/asn1js\/|@peculiar\/utils/.test(l));
  const imported = await loading(t, w.dir, [
    ...config,
    'import',
    cred.file,
    '--passin',
    'file:p12pw',
    ...w.pw,
  ]);
  t.true(asn1(imported).length > 0, 'the hook and the require cache see asn1js where it loads');
  t.is((await w.a(['sync', ...w.pw])).code, 0);
  const logon = await loading(t, w.dir, [...config, 'logon', ...w.pw]);
  t.true(logon.includes('scrypt'), 'the logon derived its key');
  t.deepEqual(asn1(logon), []);
  // The lock library (proper-lockfile, graceful-fs) loads for the sync's lock, once the key
  // derivation runs: nothing before the derivation waits for it.
  const lock = logon.findIndex((l) => /proper-lockfile|graceful-fs/.test(l));
  t.true(lock > logon.indexOf('scrypt'), 'the lock library loads after the key derivation started');
  t.deepEqual(asn1(await loading(t, w.dir, [...config, 'sync', ...w.pw])), []);
});

test('a sync with nothing to do, in its own process, tells it without loading the engine, the DI container or the lock library; one with something to do loads them (decision 030)', async (t) => {
  const w = await twoEndpoints(t);
  const config = ['--config', path.join(w.dir, 'a.json')];
  // The first sync makes the master key (a write to the directory); the second finds it settled.
  for (let i = 0; i < 2; i++) t.is((await w.a(['sync', ...w.pw])).code, 0);
  const engine = (lines: readonly string[]) =>
    lines.filter((l) =>
      /\/engine\/sync-engine\.js|\/engine\/index\.js|tsyringe|proper-lockfile|\/session-engine\.js|\/mirrors\/index\.js/.test(
        l,
      ),
    );
  const unchanged = await loading(t, w.dir, [...config, 'sync', ...w.pw, '--json']);
  t.true(unchanged.length > 0, 'the hook saw the modules load');
  t.deepEqual(engine(unchanged), []);
  t.false(unchanged.includes('scrypt'), 'no key derivation');
  const status = JSON.parse((await w.a(['status', '--json'])).stdout) as { lastSync: { outcome: string } };
  t.is(status.lastSync.outcome, 'unchanged', 'recorded for status as the engine records it');
  // Another endpoint's upload changes the stamp: the engine loads and downloads it.
  const cred = await opensslP12(w.dir);
  t.is((await w.b(['import', cred.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);
  t.is((await w.b(['sync', ...w.pw])).code, 0);
  const changed = await loading(t, w.dir, [...config, 'sync', ...w.pw]);
  t.true(engine(changed).some((l) => l.endsWith('/session-engine.js')));
  t.true(await holds(w.a, cred.fingerprint));
});
