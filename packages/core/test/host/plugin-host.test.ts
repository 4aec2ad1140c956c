import { statSync } from 'node:fs';
import { mkdir, stat, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import test from 'ava';
import {
  API_VERSION,
  DirectoryStore,
  EventId,
  EventLog,
  LocalStore,
  type LogRecord,
  nodeModulesAbove,
  PluginHost,
  type PluginSpec,
} from '../../src/index.js';
import { tempDir } from '../support/temp.js';

const fixtures = fileURLToPath(new URL('../../../test/fixtures/plugins/', import.meta.url));
const trace = (): string[] => ((globalThis as { __credroamTrace?: string[] }).__credroamTrace ??= []);

async function host(
  t: Parameters<typeof tempDir>[0],
  specs: Array<string | PluginSpec>,
  options: { activateTimeoutMs?: number; deactivateTimeoutMs?: number; nodeModules?: string[] } = {},
) {
  const records: LogRecord[] = [];
  const log = new EventLog({ write: () => undefined });
  log.subscribe((r) => records.push(r));
  // In process: these tests are of the in-process host (isolation.test.ts has the out-of-process one).
  const h = new PluginHost({
    log,
    stateRoot: await tempDir(t),
    baseDir: fixtures,
    isolation: false,
    ...options,
  });
  t.teardown(() => h.dispose());
  await h.load(specs.map((s) => (typeof s === 'string' ? { from: `./${s}` } : s)));
  const info = (id: string) => h.list().find((p) => p.id === id);
  return { host: h, records, info };
}

test.serial.beforeEach(() => {
  trace().length = 0;
});

test.serial(
  'an invalid manifest is reported with the plugin id and each place, its code never loaded, the rest go on',
  async (t) => {
    const { host: h, info, records } = await host(t, ['invalid', 'disposal']);
    await h.start();
    const bad = info('Test Invalid');
    t.is(bad?.state, 'failed');
    const problems = bad?.problems ?? [];
    t.true(
      problems.some((p) => p.startsWith('/credroam:') && p.includes("'engines'")),
      problems.join('\n'),
    );
    t.true(
      problems.some((p) => p.startsWith('/credroam/id:')),
      problems.join('\n'),
    );
    t.true(
      problems.some((p) => p.startsWith('/credroam/activationEvents/0:')),
      problems.join('\n'),
    );
    t.true(
      problems.some((p) => p.includes("'colour'")),
      problems.join('\n'),
    );
    t.true(records.some((r) => r.event === EventId.PluginManifestInvalid && r.plugin === 'Test Invalid'));
    t.is(info('test.disposal')?.state, 'active');
  },
);

test.serial('a main path leaving the package is refused', async (t) => {
  const { info } = await host(t, ['invalid']);
  t.regex(info('Test Invalid')?.reason ?? '', /\/credroam\/main|engines/);
});

test.serial(
  'an engines.credroam range that excludes this plugin API (API_VERSION, not the core version) fails only that plugin, naming both',
  async (t) => {
    const { host: h, info, records } = await host(t, ['engine-mismatch', 'disposal']);
    await h.start();
    t.is(info('test.future')?.state, 'failed');
    t.true(records.some((r) => r.event === 2005 && r.event === EventId.PluginEngineIncompatible));
    t.is(
      info('test.future')?.reason,
      `requires the credroam plugin API >=99.0.0, but this agent provides API ${API_VERSION}`,
    );
    t.is(info('test.disposal')?.state, 'active');
  },
);

test.serial('engines.credroam is checked against the API version the host provides', async (t) => {
  const records: LogRecord[] = [];
  const log = new EventLog({ write: () => undefined });
  log.subscribe((r) => records.push(r));
  const make = async (apiVersion?: string) => {
    const h = new PluginHost({
      log,
      stateRoot: await tempDir(t),
      baseDir: fixtures,
      ...(apiVersion ? { apiVersion } : {}),
    });
    t.teardown(() => h.dispose());
    await h.load([{ from: './provider' }]);
    return h.list().find((p) => p.id === 'test.provider');
  };
  // The fixture asks for ^0.1.0: today's API, and not an API 0.2.0 (a breaking change while 0.x).
  t.is((await make())?.state, 'inactive');
  t.regex(API_VERSION, /^0\.1\.\d+$/);
  const newer = await make('0.2.0');
  t.is(newer?.state, 'failed');
  t.is(newer?.reason, 'requires the credroam plugin API ^0.1.0, but this agent provides API 0.2.0');
  t.true(records.some((r) => r.event === EventId.PluginEngineIncompatible && r.plugin === 'test.provider'));
});

test.serial('a dependency cycle fails every plugin on it and prints the path', async (t) => {
  const { host: h, info, records } = await host(t, ['cycle-a', 'cycle-b', 'cycle-c', 'disposal']);
  await h.start();
  for (const id of ['test.cycle-a', 'test.cycle-b', 'test.cycle-c']) {
    t.is(info(id)?.state, 'failed');
    t.regex(
      info(id)?.reason ?? '',
      /dependency cycle: test\.cycle-(a|b|c) → test\.cycle-. → test\.cycle-. → test\.cycle-\1/,
    );
  }
  t.true(records.some((r) => r.event === EventId.PluginDependencyCycle));
  t.is(info('test.disposal')?.state, 'active');
});

test.serial('an unknown dependency fails the plugin and its dependents only', async (t) => {
  const { host: h, info } = await host(t, ['orphan', 'orphan-child', 'disposal']);
  await h.start();
  t.is(info('test.orphan')?.reason, "depends on unknown plugin 'test.missing'");
  t.regex(
    info('test.orphan-child')?.reason ?? '',
    /depends on plugin 'test\.orphan', which failed: depends on unknown plugin 'test\.missing'/,
  );
  t.is(info('test.disposal')?.state, 'active');
});

test.serial(
  'dependencies activate first and their API reaches the dependent; undeclared ones are refused',
  async (t) => {
    const { host: h, info } = await host(t, [
      'consumer',
      { from: './provider', settings: { greeting: 'hi' } },
      'lazy',
    ]);
    await h.start();
    t.deepEqual(trace(), ['activate provider', 'activate consumer: hi from test.provider']);
    t.is(info('test.consumer')?.state, 'active');
    const api = h.api<{ refused: string; stateDir: string }>('test.consumer');
    t.is(api?.refused, 'E_NOT_A_DEPENDENCY');
    const st = await stat(api!.stateDir);
    t.true(st.isDirectory());
    t.is(st.mode & 0o777, 0o700);
  },
);

test.serial('settings are validated against the plugin configuration schema', async (t) => {
  const { host: h, info } = await host(t, [{ from: './provider', settings: { greeting: 42, extra: true } }]);
  await h.start();
  t.is(info('test.provider')?.state, 'failed');
  t.regex(info('test.provider')?.reason ?? '', /invalid settings: .*\/settings\/greeting: must be string/);
  await t.throwsAsync(h.contribution(DirectoryStore, 'mem'), { message: /plugin 'test\.provider' failed/ });
});

test.serial(
  'a throwing activate marks the optional plugin failed, disposes what it registered, and the agent goes on',
  async (t) => {
    const { host: h, info, records } = await host(t, ['throws', 'disposal']);
    await h.start();
    t.is(info('test.throws')?.state, 'failed');
    t.is(info('test.throws')?.reason, 'activation failed: the certificate store is on fire');
    t.true(trace().includes('throws: subscription disposed'));
    t.true(records.some((r) => r.event === EventId.PluginActivationFailed && r.plugin === 'test.throws'));
    t.is(info('test.disposal')?.state, 'active');
  },
);

test.serial('a hanging activate is cut off by the time box', async (t) => {
  const { host: h, info } = await host(t, ['hangs', 'disposal'], { activateTimeoutMs: 200 });
  await h.start();
  t.is(info('test.hangs')?.state, 'failed');
  t.regex(info('test.hangs')?.reason ?? '', /activate of plugin 'test\.hangs' did not finish within 200 ms/);
  t.is(info('test.disposal')?.state, 'active');
});

test.serial('a hanging deactivate is cut off and the subscriptions are still disposed', async (t) => {
  const { host: h, records } = await host(t, ['slow-deactivate'], { deactivateTimeoutMs: 200 });
  await h.start();
  await h.dispose();
  t.true(trace().includes('slow-deactivate: subscription disposed'));
  t.true(
    records.some(
      (r) => r.event === EventId.PluginDeactivationFailed && /did not finish within 200 ms/.test(r.message),
    ),
  );
});

test.serial('a failing required plugin stops start-up with a message naming it', async (t) => {
  const { host: h } = await host(t, ['required-throws', 'disposal']);
  const error = await t.throwsAsync(h.start());
  t.is((error as { code?: string }).code, 'E_REQUIRED_PLUGIN');
  t.regex(
    error?.message ?? '',
    /required plugin failed: 'test\.required-throws' \(activation failed: no directory configured\)/,
  );
});

test.serial('a plugin is imported only when one of its activation events fires', async (t) => {
  const g = globalThis as { __credroamLazyImported?: boolean };
  const { host: h, info } = await host(t, ['lazy', 'provider']);
  await h.start();
  await h.activateByEvent('onLock');
  t.is(g.__credroamLazyImported, undefined);
  t.is(info('test.lazy')?.state, 'inactive');
  t.is(info('test.provider')?.state, 'inactive');
  t.deepEqual(await h.activateByEvent('onLogon'), ['test.lazy']);
  t.true(g.__credroamLazyImported);
  t.is(info('test.lazy')?.state, 'active');
});

test.serial('asking for a contribution activates its plugin and returns its factory', async (t) => {
  const { host: h, info } = await host(t, ['provider']);
  t.is(info('test.provider')?.state, 'inactive');
  const factory = await h.contribution(DirectoryStore, 'mem');
  t.is(info('test.provider')?.state, 'active');
  t.deepEqual(await factory({ user: 'alice', settings: { url: 'mem:' }, home: '/tmp', policy: {} }), {
    user: 'alice',
    settings: { url: 'mem:' },
  });
  await t.throwsAsync(h.contribution(DirectoryStore, 'nope'), {
    message: "no plugin contributes DirectoryStore 'nope' (known: mem)",
  });
});

test.serial(
  'a plugin cannot provide what its manifest does not declare, nor skip what it does',
  async (t) => {
    const { host: h, info } = await host(t, ['undeclared', 'silent']);
    await h.start();
    t.regex(
      info('test.undeclared')?.reason ?? '',
      /provides LocalStore 'not-declared', which its manifest does not declare/,
    );
    await t.throwsAsync(h.contribution(LocalStore, 'promised'), {
      message: "plugin 'test.silent' declares LocalStore 'promised' but did not provide it when activated",
    });
  },
);

test.serial('the context a plugin gets holds no dependency-injection container, only the API', async (t) => {
  const { host: h } = await host(t, ['context-shape']);
  await h.start();
  t.deepEqual(h.api('test.context-shape'), {
    keys: [
      'configuration',
      'contribute',
      'dependency',
      'id',
      'logger',
      'services',
      'stateDir',
      'subscriptions',
      'version',
    ],
    frozen: true,
  });
});

test.serial(
  "a contribution's settings are validated against its manifest's schema, defaults applied, before its factory runs",
  async (t) => {
    const { host: h } = await host(t, ['settings']);
    const factory = await h.contribution(DirectoryStore, 'checked');
    const request = { user: 'alice', home: '/tmp', policy: {} };
    t.deepEqual(await factory({ ...request, settings: { url: 'mem:one' } }), {
      user: 'alice',
      settings: { url: 'mem:one', retries: 3 },
    });
    const given = { url: 'mem:two' };
    await factory({ ...request, settings: given });
    t.deepEqual(given, { url: 'mem:two' }, "the caller's settings are not changed");
    trace().length = 0;
    const error = await t.throwsAsync(
      async () => factory({ ...request, settings: { url: 'http://x', retries: -1, colour: 'red' } }),
      { code: 'E_CONFIG' } as never,
    );
    t.regex(
      error?.message ?? '',
      /^invalid settings for DirectoryStore 'checked' \(plugin 'test\.settings'\): /,
    );
    t.regex(error?.message ?? '', /\/settings\/url: must match pattern "\^mem:"/);
    t.regex(error?.message ?? '', /\/settings\/retries: must be >= 0/);
    t.regex(error?.message ?? '', /\/settings: must NOT have additional properties 'colour'/);
    t.like((error as unknown as { details: object }).details, {
      plugin: 'test.settings',
      point: 'DirectoryStore',
      contribution: 'checked',
    });
    await t.throwsAsync(async () => factory({ ...request, settings: {} }), {
      message: /\/settings: must have required property 'url'/,
    });
    t.deepEqual(trace(), [], 'the factory never saw a bad value');
    // A contribution that declares no schema gets its settings as written.
    const unchecked = await h.contribution(DirectoryStore, 'unchecked');
    t.deepEqual(await unchecked({ ...request, settings: { anything: 1 } }), {
      user: 'alice',
      settings: { anything: 1 },
    });
  },
);

test.serial(
  "a contribution's configuration that is not a usable JSON Schema makes the manifest invalid",
  async (t) => {
    const { info } = await host(t, ['bad-settings-schema']);
    t.is(info('test.bad-settings-schema')?.state, 'failed');
    t.true(
      (info('test.bad-settings-schema')?.problems ?? []).some((p) =>
        p.startsWith('/credroam/contributes/triggers/0/configuration: not a usable JSON Schema'),
      ),
    );
  },
);

test.serial(
  'subscriptions are disposed in reverse order after deactivate, plugins in reverse activation order',
  async (t) => {
    const { host: h, info } = await host(t, ['disposal', 'consumer', 'provider']);
    await h.start();
    await h.dispose();
    t.deepEqual(trace(), [
      'activate provider',
      'activate consumer: hello from test.provider',
      'deactivate consumer',
      'deactivate provider',
      'deactivate disposal',
      'dispose third',
      'dispose second',
      'dispose first',
    ]);
    t.is(info('test.disposal')?.state, 'inactive');
  },
);

test.serial('two plugins with one id: the second is refused', async (t) => {
  const { info, host: h } = await host(t, ['provider', { from: `${fixtures}provider/package.json` }]);
  const list = h.list();
  t.is(list.length, 2);
  t.is(list[1]?.state, 'failed');
  t.regex(list[1]?.reason ?? '', /plugin id 'test\.provider' is also used by \.\/provider/);
  t.is(info('test.provider')?.state, 'inactive');
});

test.serial('a plugin that cannot be found is reported, not thrown', async (t) => {
  const { info } = await host(t, ['no-such-folder', { from: '@credroam/no-such-package' }]);
  t.regex(info('./no-such-folder')?.reason ?? '', /cannot read .*no-such-folder\/package\.json/);
  t.regex(info('@credroam/no-such-package')?.reason ?? '', /cannot find plugin '@credroam\/no-such-package'/);
});

/**
 * A plugin in pnpm's layout: `plugin/node_modules/dep` links to `.pnpm/dep@1.0.0/node_modules/dep`,
 * and dep's own dependency `inner` is only beside it there.
 */
async function pnpmStylePlugin(root: string): Promise<string> {
  const pkg = async (dir: string, json: Record<string, unknown>, code: string) => {
    await mkdir(dir, { recursive: true });
    await writeFile(
      path.join(dir, 'package.json'),
      JSON.stringify({ version: '1.0.0', type: 'module', exports: './index.js', ...json }),
    );
    await writeFile(path.join(dir, 'index.js'), code);
  };
  const store = path.join(root, '.pnpm');
  await pkg(
    path.join(store, 'inner@1.0.0/node_modules/inner'),
    { name: 'inner' },
    'export const inner = 1;\n',
  );
  await pkg(
    path.join(store, 'dep@1.0.0/node_modules/dep'),
    { name: 'dep' },
    "import { inner } from 'inner';\nexport const dep = inner + 1;\n",
  );
  await symlink('../../inner@1.0.0/node_modules/inner', path.join(store, 'dep@1.0.0/node_modules/inner'));
  const plugin = path.join(root, 'plugin');
  await pkg(
    plugin,
    {
      name: 'linked',
      credroam: {
        id: 'test.linked',
        engines: { credroam: '*' },
        main: 'index.js',
        activationEvents: ['onStartup'],
      },
    },
    "import { dep } from 'dep';\nexport function activate() { return { dep }; }\n",
  );
  await mkdir(path.join(plugin, 'node_modules'));
  await symlink('../../.pnpm/dep@1.0.0/node_modules/dep', path.join(plugin, 'node_modules', 'dep'));
  await writeFile(path.join(root, 'seen.js'), 'export {};\n');
  return plugin;
}

test.serial(
  'a plugin whose dependencies pnpm links in activates after other code stat’ed a socket (nodejs/node#51142)',
  async (t) => {
    const root = await tempDir(t);
    const plugin = await pnpmStylePlugin(root);
    // As in the agent: module resolution has already seen this tree...
    await import(pathToFileURL(path.join(root, 'seen.js')).href);
    // ...when something stats a socket through the buffer the process shares (a stale control socket).
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(path.join(root, 's.sock'), r));
    t.teardown(() => new Promise<void>((r) => server.close(() => r())));
    t.true(statSync(path.join(root, 's.sock')).isSocket());
    const { host: h, info } = await host(t, [{ from: plugin }]);
    await h.start();
    t.is(info('test.linked')?.state, 'active', info('test.linked')?.reason);
    t.deepEqual(h.api('test.linked'), { dep: 2 });
  },
);

/** A plugin package `name` in `<folder>/<name>`, exporting only its entry (not ./package.json). */
async function installedPlugin(folder: string, name: string, id: string): Promise<void> {
  const dir = path.join(folder, name);
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, 'package.json'),
    JSON.stringify({
      name,
      version: '2.0.0',
      type: 'module',
      exports: { '.': './index.js' },
      credroam: { id, engines: { credroam: '*' }, main: 'index.js', activationEvents: ['onStartup'] },
    }),
  );
  await writeFile(
    path.join(dir, 'index.js'),
    `(globalThis.__credroamImported ??= []).push(${JSON.stringify(id)});\n` +
      `export function activate() { return { from: ${JSON.stringify(folder)} }; }\n`,
  );
}

test.serial(
  'a package name is looked up in each node_modules folder in turn; the first that holds it wins; its exports need not list package.json',
  async (t) => {
    const root = await tempDir(t);
    const first = path.join(root, 'agent', 'node_modules');
    const second = path.join(root, 'config', 'node_modules');
    await installedPlugin(second, '@example/vault', 'example.vault');
    await installedPlugin(second, 'shadowed', 'example.second');
    await installedPlugin(first, 'shadowed', 'example.first');
    const { host: h, info } = await host(t, [{ from: '@example/vault' }, { from: 'shadowed' }], {
      nodeModules: [first, second],
    });
    await h.start();
    t.is(info('example.vault')?.state, 'active', info('example.vault')?.reason);
    t.deepEqual(h.api('example.vault'), { from: second });
    t.is(info('example.first')?.state, 'active');
    t.is(info('example.second'), undefined, 'the later folder’s copy is not loaded');
  },
);

test.serial(
  'a package name that is not found names the folders searched; one with .. is refused',
  async (t) => {
    const root = await tempDir(t);
    const { info } = await host(t, [{ from: 'absent' }, { from: 'x/../../etc' }], {
      nodeModules: [path.join(root, 'a'), path.join(root, 'b')],
    });
    t.is(
      info('absent')?.reason,
      `cannot find plugin 'absent': no absent/package.json in ${path.join(root, 'a')}, ${path.join(root, 'b')}`,
    );
    t.regex(info('x/../../etc')?.reason ?? '', /not a package name/);
  },
);

test('nodeModulesAbove lists node_modules from a folder up to the root, as Node searches them', (t) => {
  t.deepEqual(nodeModulesAbove('/usr/lib/credroam/node_modules/@credroam/agent/dist'), [
    '/usr/lib/credroam/node_modules/@credroam/agent/dist/node_modules',
    '/usr/lib/credroam/node_modules/@credroam/agent/node_modules',
    '/usr/lib/credroam/node_modules/@credroam/node_modules',
    '/usr/lib/credroam/node_modules',
    '/usr/lib/node_modules',
    '/usr/node_modules',
    '/node_modules',
  ]);
});

test.serial(
  'a plugin that would load its own copy of @credroam/core is refused at load, naming both copies',
  async (t) => {
    const root = await tempDir(t);
    await installedPlugin(path.join(root, 'node_modules'), '@example/vault', 'example.second-copy');
    const copy = path.join(root, 'node_modules', '@credroam', 'core');
    await mkdir(copy, { recursive: true });
    await writeFile(
      path.join(copy, 'package.json'),
      JSON.stringify({ name: '@credroam/core', version: '0.1.0' }),
    );
    const {
      host: h,
      info,
      records,
    } = await host(t, [{ from: '@example/vault' }], {
      nodeModules: [path.join(root, 'node_modules')],
    });
    await h.start();
    t.is(info('example.second-copy')?.state, 'failed');
    t.regex(
      info('example.second-copy')?.reason ?? '',
      new RegExp(`its own copy of @credroam/core \\(${copy}\\), not the agent's \\(.*/packages/core\\)`),
    );
    t.true(
      records.some((r) => r.event === EventId.PluginManifestInvalid && r.plugin === 'example.second-copy'),
    );
    t.false(Object.hasOwn(globalThis, '__vaultImported'), 'its code was never imported');
  },
);
