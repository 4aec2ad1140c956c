import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, realpath, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { tempDir } from '../support/temp.js';

const run = promisify(execFile);
const core = fileURLToPath(new URL('../../../', import.meta.url));
const apiDir = path.join(core, 'dist', 'src', 'api');

async function emitted(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && (e.name.endsWith('.js') || e.name.endsWith('.d.ts')))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

/** Every module specifier a file names: `from '…'`, `import '…'`, `import('…')`, `require('…')`. */
function specifiers(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"]([^'"]+)['"]/g)) {
    found.push(m[1]!);
  }
  return found;
}

test('the built API (dist/src/api, .js and .d.ts) imports nothing outside dist/src/api', async (t) => {
  const files = await emitted(apiDir);
  t.true(
    files.some((f) => f.endsWith(path.join('points', 'local-store.js'))),
    'the API is built',
  );
  const outside: string[] = [];
  for (const file of files) {
    for (const spec of specifiers(await readFile(file, 'utf8'))) {
      const target = spec.startsWith('.') ? path.resolve(path.dirname(file), spec) : undefined;
      if (!target || !(target === apiDir || target.startsWith(`${apiDir}${path.sep}`))) {
        outside.push(`${path.relative(apiDir, file)} imports ${spec}`);
      }
    }
  }
  t.deepEqual(outside, []);
});

/**
 * A folder as a third-party plugin's: node_modules holds only @credroam/core (a link to this
 * package, read through the link: `preserveSymlinks`, so nothing in core's own node_modules is
 * found) and typescript. No tsyringe, reflect-metadata, @types/node or decorator options.
 */
async function pluginFolder(t: Parameters<typeof tempDir>[0], source: string): Promise<string> {
  const dir = await tempDir(t, 'credroam-api-plugin-');
  await mkdir(path.join(dir, 'node_modules', '@credroam'), { recursive: true });
  await symlink(core, path.join(dir, 'node_modules', '@credroam', 'core'));
  const typescript = await realpath(path.join(core, '..', '..', 'node_modules', 'typescript'));
  await symlink(typescript, path.join(dir, 'node_modules', 'typescript'));
  await writeFile(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'example-badge-trigger', version: '1.0.0', type: 'module' }),
  );
  await writeFile(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2023',
        lib: ['ES2023'],
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noEmit: true,
        types: [],
        preserveSymlinks: true,
        skipLibCheck: false,
      },
      include: ['src'],
    }),
  );
  await mkdir(path.join(dir, 'src'));
  await writeFile(path.join(dir, 'src', 'index.ts'), source);
  return dir;
}

async function tsc(dir: string): Promise<{ code: number; output: string }> {
  const bin = path.join(dir, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, '-p', dir], { cwd: dir });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, output: e.stdout + e.stderr };
  }
}

const PLUGIN = `
import {
  API_VERSION,
  type ContributionRequest,
  CredroamError,
  EventId,
  type PluginContext,
  type PluginManifest,
  Trigger,
  type TriggerEvent,
  toDisposable,
} from '@credroam/core/api';

class BadgeTrigger implements Trigger {
  constructor(private readonly settings: Readonly<Record<string, unknown>>) {}
  async start(fire: (event: TriggerEvent) => void) {
    if (this.settings.reader === undefined) throw new CredroamError('E_CONFIG', 'no reader');
    fire({ name: 'unlock', source: 'badge', at: Date.now() });
    return toDisposable(() => undefined);
  }
}

export function activate(context: PluginContext): { api: string; id: PluginManifest['id'] } {
  context.contribute(Trigger, 'badge', (request: ContributionRequest) => new BadgeTrigger(request.settings));
  context.logger.log('info', EventId.PluginLog, 'badge ready');
  return { api: API_VERSION, id: context.id };
}
`;

test('a plugin written against the API type-checks with tsc alone: no tsyringe, reflect-metadata or decorator metadata', async (t) => {
  const dir = await pluginFolder(t, PLUGIN);
  const { code, output } = await tsc(dir);
  t.is(code, 0, output);
});

test('the folder the plugin is checked in cannot reach tsyringe (the check above proves something)', async (t) => {
  const dir = await pluginFolder(
    t,
    `import type { DependencyContainer } from 'tsyringe';\nexport type C = DependencyContainer;\n`,
  );
  const { code, output } = await tsc(dir);
  t.not(code, 0);
  t.regex(output, /TS2307: Cannot find module 'tsyringe'/);
});

test('a plugin that misuses the API fails to type-check there (the types are the contract)', async (t) => {
  const dir = await pluginFolder(
    t,
    `import { LocalStore, type PluginContext } from '@credroam/core/api';\n` +
      `export function activate(context: PluginContext) {\n` +
      `  context.contribute(LocalStore, 'bad', () => ({ revision: async () => 1 }));\n}\n`,
  );
  const { code, output } = await tsc(dir);
  t.not(code, 0);
  t.regex(output, /src\/index\.ts/);
});

/** Runs an ES module snippet in a fresh Node in this package (no preload, no NODE_OPTIONS). */
async function node(snippet: string): Promise<{ code: number; output: string }> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  try {
    const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', snippet], {
      cwd: core,
      env,
    });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, output: e.stdout + e.stderr };
  }
}

test('@credroam/core/testing loads without the author preloading reflect-metadata', async (t) => {
  const loaded = await node(
    "const k = await import('@credroam/core/testing'); console.log(typeof k.makeEngine, typeof k.MemoryLocalStore);",
  );
  t.is(loaded.code, 0, loaded.output);
  t.is(loaded.output.trim(), 'function function');
  // The control: tsyringe alone, in the same fresh Node, wants the polyfill.
  const bare = await node("await import('tsyringe');");
  t.not(bare.code, 0);
  t.regex(bare.output, /reflect polyfill/);
});

test('@credroam/core/api and @credroam/core/kit load in a fresh Node without reflect-metadata', async (t) => {
  const loaded = await node(
    "const api = await import('@credroam/core/api'); const kit = await import('@credroam/core/kit');" +
      'console.log(api.API_VERSION, typeof kit.configurationValidator, typeof kit.writeFileAtomic, ' +
      "'configurationValidator' in api, 'writeFileAtomic' in api);",
  );
  t.is(loaded.code, 0, loaded.output);
  t.regex(loaded.output.trim(), /^\d+\.\d+\.\d+ function function false false$/);
});
