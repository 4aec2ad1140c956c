import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { schemasCompiledAtRunTime } from '@credroam/core';
import test from 'ava';
import { main } from '../../src/cli/main.js';
import { BIN, runProgram, tempDir, twoEndpoints } from '../support.js';

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
  const hooks = path.join(dir, 'hooks.mjs');
  const register = path.join(dir, 'register.mjs');
  await writeFile(
    hooks,
    'export async function load(url, context, next) { process.stderr.write("loaded " + url + "\\n"); return next(url, context); }\n',
  );
  await writeFile(
    register,
    "import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n",
  );
  for (const flag of ['--version', '--help']) {
    const r = await runProgram(process.execPath, ['--import', register, BIN, flag]);
    t.is(r.code, 0, r.stderr);
    const loaded = r.stderr.split('\n').filter((l) => l.startsWith('loaded '));
    t.true(loaded.length > 0, 'the hook saw the modules load');
    t.deepEqual(
      loaded.filter((l) => /\/cli\/commands\/|\/core\/dist\/src\/index\.js|\/session\.js/.test(l)),
      [],
      flag,
    );
  }
});
