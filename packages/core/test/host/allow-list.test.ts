import { cp, mkdir, readFile, realpath, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import {
  type AllowListEntry,
  DirectoryStore,
  EventId,
  EventLog,
  hashPluginFiles,
  type LogRecord,
  type PluginAllowList,
  PluginHost,
  type PluginSpec,
} from '../../src/index.js';
import { tempDir } from '../support/temp.js';

const fixtures = fileURLToPath(new URL('../../../test/fixtures/plugins/', import.meta.url));
const builtinFolder = fileURLToPath(new URL('../../../builtin/folder/', import.meta.url));
const trace = (): string[] => ((globalThis as { __credroamTrace?: string[] }).__credroamTrace ??= []);
const imported = (): string[] =>
  ((globalThis as { __credroamImported?: string[] }).__credroamImported ??= []);

/** A copy of a fixture plugin in a folder of this test's own: its files can be changed, its module is new. */
async function copyOf(t: ExecutionContext, name: string): Promise<string> {
  const dir = path.join(await realpath(await tempDir(t)), name);
  await cp(path.join(fixtures, name), dir, { recursive: true });
  return dir;
}

/** Whether any module of the plugin in `dir` was ever imported. */
const wasImported = (dir: string) => imported().some((url) => url.startsWith(`${pathToFileURL(dir).href}/`));

async function entry(dir: string, id: string, version = '^1.0.0'): Promise<AllowListEntry> {
  return { id, version, files: await hashPluginFiles(dir) };
}

async function host(
  t: ExecutionContext,
  specs: PluginSpec[],
  allowList: PluginAllowList,
  policySerial: number | undefined = 7,
) {
  const records: LogRecord[] = [];
  const log = new EventLog({ write: () => undefined });
  log.subscribe((r) => records.push(r));
  // In process: these fixtures trace through a global; isolation.test.ts covers grants and inProcess.
  const h = new PluginHost({ log, stateRoot: await tempDir(t), allowList, policySerial, isolation: false });
  t.teardown(() => h.dispose());
  await h.load(specs);
  const info = (id: string) => h.list().find((p) => p.id === id);
  const events = (id: string) => records.filter((r) => r.plugin === id).map((r) => r.event);
  return { host: h, records, info, events };
}

test.serial.beforeEach(() => {
  trace().length = 0;
});

// --- attacks first: what is refused, and refused before any of its code runs --------------------

test.serial('a plugin not on the allow-list is refused before its code is imported', async (t) => {
  const dir = await copyOf(t, 'policed');
  const { host: h, info, events } = await host(t, [{ from: dir }], []);
  await h.start();
  t.is(info('test.policed')?.state, 'failed');
  t.is(info('test.policed')?.policy, 'refused');
  t.is(
    info('test.policed')?.reason,
    'not allowed by the site policy (serial 7): its id is not on the plugin allow-list',
  );
  t.deepEqual(events('test.policed'), [EventId.PluginNotAllowed]);
  await t.throwsAsync(h.contribution(DirectoryStore, 'policed'), {
    code: 'E_PLUGIN_FAILED',
    message: /plugin 'test\.policed' failed: not allowed by the site policy \(serial 7\)/,
  });
  t.deepEqual(h.contributionIds(DirectoryStore), []);
  t.false(wasImported(dir), 'its module was never imported');
});

test.serial('a version outside the allowed range is refused, naming both', async (t) => {
  const dir = await copyOf(t, 'policed');
  const {
    host: h,
    info,
    events,
  } = await host(t, [{ from: dir }], [await entry(dir, 'test.policed', '^2.0.0')]);
  await t.throwsAsync(h.contribution(DirectoryStore, 'policed'), { code: 'E_PLUGIN_FAILED' });
  t.is(
    info('test.policed')?.reason,
    'not allowed by the site policy (serial 7): version 1.2.0 is outside the allowed ^2.0.0',
  );
  t.deepEqual(events('test.policed'), [EventId.PluginVersionNotAllowed]);
  t.false(wasImported(dir));
});

test.serial('a file changed after hashing refuses the plugin, naming the file', async (t) => {
  const dir = await copyOf(t, 'policed');
  const allowed = await entry(dir, 'test.policed');
  await writeFile(path.join(dir, 'lib', 'greeting.js'), "export const greeting = 'pwned';\n");
  const { host: h, info, events } = await host(t, [{ from: dir }], [allowed]);
  await t.throwsAsync(h.contribution(DirectoryStore, 'policed'), { code: 'E_PLUGIN_FAILED' });
  t.is(
    info('test.policed')?.reason,
    'not allowed by the site policy (serial 7): its files differ from the allowed ones: changed lib/greeting.js',
  );
  t.deepEqual(events('test.policed'), [EventId.PluginFilesDiffer]);
  t.false(wasImported(dir));
});

test.serial('a file added to the package refuses the plugin', async (t) => {
  const dir = await copyOf(t, 'policed');
  const allowed = await entry(dir, 'test.policed');
  await writeFile(path.join(dir, 'preload.js'), 'globalThis.pwned = true;\n');
  const { info } = await host(t, [{ from: dir }], [allowed]);
  t.regex(info('test.policed')?.reason ?? '', /its files differ from the allowed ones: added preload\.js$/);
  t.false(wasImported(dir));
});

test.serial('a file removed from the package refuses the plugin', async (t) => {
  const dir = await copyOf(t, 'policed');
  const allowed = await entry(dir, 'test.policed');
  await rm(path.join(dir, 'lib', 'greeting.js'));
  const { info } = await host(t, [{ from: dir }], [allowed]);
  t.regex(
    info('test.policed')?.reason ?? '',
    /its files differ from the allowed ones: removed lib\/greeting\.js$/,
  );
});

test.serial('many differences name a few files, then count the rest', async (t) => {
  const dir = await copyOf(t, 'policed');
  const allowed = await entry(dir, 'test.policed');
  for (const n of [1, 2, 3, 4, 5]) await writeFile(path.join(dir, `extra${n}.js`), '');
  await writeFile(path.join(dir, 'index.js'), '');
  const { info } = await host(t, [{ from: dir }], [allowed]);
  t.regex(
    info('test.policed')?.reason ?? '',
    /its files differ from the allowed ones: changed index\.js; added extra1\.js, extra2\.js; and 3 more$/,
  );
});

test.serial('a link inside the package refuses the plugin (its files cannot be checked)', async (t) => {
  const dir = await copyOf(t, 'policed');
  const allowed = await entry(dir, 'test.policed');
  await symlink('greeting.js', path.join(dir, 'lib', 'also.js'));
  const { info, events } = await host(t, [{ from: dir }], [allowed]);
  t.regex(info('test.policed')?.reason ?? '', /its files cannot be checked: .*also\.js is a link/);
  t.deepEqual(events('test.policed'), [EventId.PluginFilesUncheckable]);
  t.false(wasImported(dir));
});

test.serial(
  'an entry module outside the files the package ships is refused: the hashes must cover the code imported',
  async (t) => {
    const dir = await copyOf(t, 'policed');
    const manifest = JSON.parse(
      await (await import('node:fs/promises')).readFile(path.join(dir, 'package.json'), 'utf8'),
    );
    await writeFile(path.join(dir, 'package.json'), JSON.stringify({ ...manifest, files: ['lib'] }));
    const allowed = await entry(dir, 'test.policed');
    t.deepEqual(Object.keys(allowed.files), ['lib/greeting.js', 'package.json']);
    const { info, events } = await host(t, [{ from: dir }], [allowed]);
    t.regex(
      info('test.policed')?.reason ?? '',
      /its entry module index\.js is not among the files its package ships/,
    );
    t.deepEqual(events('test.policed'), [EventId.PluginFilesUncheckable]);
    t.false(wasImported(dir));
  },
);

test.serial(
  'files changed between the check at load and a lazy activation are refused right before the import',
  async (t) => {
    const dir = await copyOf(t, 'policed');
    const { host: h, info, events } = await host(t, [{ from: dir }], [await entry(dir, 'test.policed')]);
    t.is(info('test.policed')?.policy, 'allowed');
    await writeFile(path.join(dir, 'index.js'), 'globalThis.pwned = true;\n');
    await t.throwsAsync(h.contribution(DirectoryStore, 'policed'), {
      code: 'E_PLUGIN_FAILED',
      message: /its files changed since they were checked: changed index\.js/,
    });
    t.is(info('test.policed')?.policy, 'refused');
    t.deepEqual(events('test.policed'), [EventId.PluginFilesDiffer]);
    t.false(wasImported(dir));
    t.is((globalThis as { pwned?: boolean }).pwned, undefined);
  },
);

test.serial(
  'an entry module reached through a link outside the hashed files is refused: re-pointing the link before a lazy activation would run other code',
  async (t) => {
    // The package ships `dist` (hashed); its credroam.main is `entry/index.js`, where `entry` is a
    // link to `dist`, outside the hashed set. Allowed at load, the link is re-pointed to unhashed
    // code before the first use: the recheck right before the import must not let that through.
    const dir = await copyOf(t, 'policed');
    await mkdir(path.join(dir, 'dist'));
    await rename(path.join(dir, 'index.js'), path.join(dir, 'dist', 'index.js'));
    await rename(path.join(dir, 'lib'), path.join(dir, 'dist', 'lib'));
    const pkg = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8'));
    pkg.files = ['dist'];
    pkg.credroam.main = 'entry/index.js';
    await writeFile(path.join(dir, 'package.json'), JSON.stringify(pkg));
    await symlink('dist', path.join(dir, 'entry'));
    await mkdir(path.join(dir, 'evil'));
    await writeFile(
      path.join(dir, 'evil', 'index.js'),
      'globalThis.pwnedThroughLink = true;\nexport function activate() { return {}; }\n',
    );
    const allowed = [await entry(dir, 'test.policed')];
    const { host: h, info } = await host(t, [{ from: dir }], allowed);
    if (info('test.policed')?.policy === 'allowed') {
      await rm(path.join(dir, 'entry'));
      await symlink('evil', path.join(dir, 'entry'));
      await h.contribution(DirectoryStore, 'policed').catch(() => undefined);
    }
    t.is(
      (globalThis as { pwnedThroughLink?: boolean }).pwnedThroughLink,
      undefined,
      'the unhashed module ran',
    );
    t.is(info('test.policed')?.policy, 'refused');
    t.regex(info('test.policed')?.reason ?? '', /entry module entry\/index\.js/);
  },
);

test.serial(
  'a copy of the built-in folder plugin elsewhere, its two pinned files unchanged, is not the built-in: the code it re-exports beside it is nobody’s',
  async (t) => {
    // The entry for credroam.folder pins package.json and index.js, which re-exports
    // ../../dist/src/builtin/folder/plugin.js: core's code, not hashed because it is the host's.
    // Copied elsewhere with a dist of one's own beside them, the same two files import that instead.
    const root = await realpath(await tempDir(t));
    const copy = path.join(root, 'builtin', 'folder');
    await cp(builtinFolder, copy, { recursive: true });
    const fake = path.join(root, 'dist', 'src', 'builtin', 'folder');
    await mkdir(fake, { recursive: true });
    await writeFile(
      path.join(fake, 'plugin.js'),
      'globalThis.pwnedThroughCopy = true;\nexport function activate() { return {}; }\n',
    );
    const allowed = [{ id: 'credroam.folder', version: '*', files: await hashPluginFiles(builtinFolder) }];
    const { host: h, info } = await host(t, [{ from: copy }], allowed);
    await h.contribution(DirectoryStore, 'folder').catch(() => undefined);
    t.is(
      (globalThis as { pwnedThroughCopy?: boolean }).pwnedThroughCopy,
      undefined,
      'the copy’s own code ran',
    );
    t.is(info('credroam.folder')?.policy, 'refused');
  },
);

test.serial('a first-party plugin obeys the same list: a site may forbid the built-in folder', async (t) => {
  const { host: h, info, events } = await host(t, [{ from: builtinFolder }], []);
  await t.throwsAsync(h.contribution(DirectoryStore, 'folder'), {
    code: 'E_PLUGIN_FAILED',
    message: /not allowed by the site policy \(serial 7\): its id is not on the plugin allow-list/,
  });
  t.deepEqual(events('credroam.folder'), [EventId.PluginNotAllowed]);
  t.is(info('credroam.folder')?.policy, 'refused');
});

test.serial(
  'the built-in folder is allowed by the hashes of its own folder (the code it re-exports is the host’s)',
  async (t) => {
    const allowed = await entry(builtinFolder, 'credroam.folder', '^0.1.0');
    t.deepEqual(Object.keys(allowed.files), ['index.js', 'package.json']);
    const { host: h, info } = await host(t, [{ from: builtinFolder }], [allowed]);
    t.is(typeof (await h.contribution(DirectoryStore, 'folder')), 'function');
    t.is(info('credroam.folder')?.state, 'active');
    t.is(info('credroam.folder')?.policy, 'allowed');
  },
);

test.serial('a required plugin refused makes start fail with the required-plugin error', async (t) => {
  const dir = await copyOf(t, 'policed');
  const { host: h, records } = await host(t, [{ from: dir, required: true }], [], 12);
  await t.throwsAsync(h.start(), {
    code: 'E_REQUIRED_PLUGIN',
    message:
      "required plugin failed: 'test.policed' (not allowed by the site policy (serial 12): its id is not on the plugin allow-list)",
  });
  t.true(records.some((r) => r.event === EventId.PluginNotAllowed && r.level === 'error'));
  t.false(wasImported(dir));
});

test.serial('dependents of a refused plugin fail too, and are never imported', async (t) => {
  const dir = await copyOf(t, 'policed');
  const child = await copyOf(t, 'policed-child');
  const {
    host: h,
    info,
    events,
  } = await host(t, [{ from: dir }, { from: child }], [await entry(child, 'test.policed-child')]);
  await h.start();
  t.is(info('test.policed-child')?.state, 'failed');
  t.is(info('test.policed-child')?.policy, 'allowed');
  t.regex(info('test.policed-child')?.reason ?? '', /test\.policed.*not allowed by the site policy/);
  t.deepEqual(events('test.policed-child'), [EventId.PluginDependencyFailed]);
  t.deepEqual(trace(), []);
});

// --- what is allowed loads as before ------------------------------------------------------------

test.serial('a plugin whose id, version and files match an entry loads and works', async (t) => {
  const dir = await copyOf(t, 'policed');
  const {
    host: h,
    info,
    events,
  } = await host(
    t,
    [{ from: dir }],
    [{ id: 'test.other', version: '*', files: {} }, await entry(dir, 'test.policed', '>=1.0.0 <2')],
  );
  t.deepEqual(h.allowListState(), { state: 'enforced', serial: 7 });
  const factory = await h.contribution(DirectoryStore, 'policed');
  t.deepEqual((factory as unknown as () => unknown)(), { greeting: 'allowed' });
  t.is(info('test.policed')?.state, 'active');
  t.is(info('test.policed')?.policy, 'allowed');
  t.deepEqual(events('test.policed'), [EventId.PluginActivated]);
  t.true(wasImported(dir));
});

test.serial('several entries for one id: any one whose range and files match allows it', async (t) => {
  const dir = await copyOf(t, 'policed');
  const current = await entry(dir, 'test.policed', '^1.2.0');
  const { info } = await host(
    t,
    [{ from: dir }],
    [{ id: 'test.policed', version: '^1.0.0', files: { 'package.json': '00'.repeat(32) } }, current],
  );
  t.is(info('test.policed')?.state, 'inactive');
  t.is(info('test.policed')?.policy, 'allowed');
});

test.serial(
  'no allow-list (no bundle installed): every configured plugin loads, nothing is checked',
  async (t) => {
    const dir = await copyOf(t, 'policed');
    await symlink('greeting.js', path.join(dir, 'lib', 'also.js'));
    const { host: h, info } = await host(t, [{ from: dir }], undefined, undefined);
    t.deepEqual(h.allowListState(), { state: 'none' });
    await h.contribution(DirectoryStore, 'policed');
    t.is(info('test.policed')?.state, 'active');
    t.false('policy' in info('test.policed')!);
    t.deepEqual(await h.applyAllowList(undefined), []);
    t.is(info('test.policed')?.state, 'active');
  },
);

// --- a live policy refresh ----------------------------------------------------------------------

test.serial(
  'a refresh that drops a plugin deactivates it and its dependents (dependents first); its contribution is then refused',
  async (t) => {
    const dir = await copyOf(t, 'policed');
    const child = await copyOf(t, 'policed-child');
    const both = [await entry(dir, 'test.policed'), await entry(child, 'test.policed-child')];
    const { host: h, info, records } = await host(t, [{ from: dir }, { from: child }], both);
    await h.start();
    t.deepEqual(trace(), ['activate policed', 'activate policed-child: allowed']);
    trace().length = 0;

    const gone = await h.applyAllowList([both[1]!], 8);
    t.deepEqual(gone.sort(), ['test.policed', 'test.policed-child']);
    t.deepEqual(trace(), [
      'deactivate policed-child',
      'policed-child: subscription disposed',
      'deactivate policed',
      'policed: subscription disposed',
    ]);
    t.is(info('test.policed')?.state, 'failed');
    t.is(info('test.policed')?.policy, 'refused');
    t.is(
      info('test.policed')?.reason,
      'not allowed by the site policy (serial 8): its id is not on the plugin allow-list',
    );
    t.is(info('test.policed-child')?.state, 'failed');
    t.is(
      info('test.policed-child')?.reason,
      "depends on plugin 'test.policed', which the site policy (serial 8) no longer allows",
    );
    await t.throwsAsync(h.contribution(DirectoryStore, 'policed'), {
      code: 'E_PLUGIN_FAILED',
      message: /not allowed by the site policy \(serial 8\)/,
    });
    t.deepEqual(h.allowListState(), { state: 'enforced', serial: 8 });
    const applied = records.find((r) => r.event === EventId.PluginAllowListApplied);
    t.regex(
      applied?.message ?? '',
      /the site policy \(serial 8\) applied: refused test\.policed(-child)?, test\.policed/,
    );
    t.true(records.some((r) => r.event === EventId.PluginNotAllowed && r.plugin === 'test.policed'));
    t.true(records.some((r) => r.event === EventId.PluginDeactivated && r.plugin === 'test.policed'));

    trace().length = 0;
    await h.dispose();
    t.deepEqual(trace(), [], 'a plugin deactivated by the refresh is not deactivated again');
  },
);

test.serial('a refresh refuses a running plugin whose files changed on disk since it loaded', async (t) => {
  const dir = await copyOf(t, 'policed');
  const allowed = [await entry(dir, 'test.policed')];
  const { host: h, info, events } = await host(t, [{ from: dir }], allowed);
  await h.contribution(DirectoryStore, 'policed');
  await writeFile(path.join(dir, 'lib', 'greeting.js'), "export const greeting = 'pwned';\n");
  t.deepEqual(await h.applyAllowList(allowed, 7), ['test.policed']);
  t.true(trace().includes('deactivate policed'));
  t.regex(
    info('test.policed')?.reason ?? '',
    /its files differ from the allowed ones: changed lib\/greeting\.js/,
  );
  t.deepEqual(events('test.policed'), [
    EventId.PluginActivated,
    EventId.PluginDeactivated,
    EventId.PluginFilesDiffer,
  ]);
});

test.serial(
  'a refresh that drops a plugin never activated marks it failed, with nothing to deactivate',
  async (t) => {
    const dir = await copyOf(t, 'policed');
    const { host: h, info } = await host(t, [{ from: dir }], [await entry(dir, 'test.policed')]);
    t.deepEqual(await h.applyAllowList([]), ['test.policed']);
    t.is(info('test.policed')?.state, 'failed');
    t.is(
      info('test.policed')?.reason,
      'not allowed by the site policy: its id is not on the plugin allow-list',
    );
    t.false(wasImported(dir));
  },
);

test.serial(
  'a plugin newly allowed by a refresh is not loaded live: its reason says to restart',
  async (t) => {
    const dir = await copyOf(t, 'policed');
    const { host: h, info, records } = await host(t, [{ from: dir }], []);
    t.deepEqual(await h.applyAllowList([await entry(dir, 'test.policed')], 9), []);
    t.is(info('test.policed')?.state, 'failed');
    t.is(
      info('test.policed')?.reason,
      'not allowed by the site policy (serial 7): its id is not on the plugin allow-list; ' +
        'since then the site policy (serial 9) allows it: restart the agent to load it',
    );
    await h.applyAllowList(undefined);
    t.regex(
      info('test.policed')?.reason ?? '',
      /; since then no site policy is in force now: restart the agent to load it$/,
    );
    t.false(wasImported(dir));
    t.regex(
      records.findLast((r) => r.event === EventId.PluginAllowListApplied)?.message ?? '',
      /restart the agent to load test\.policed/,
    );
  },
);

test.serial(
  'a refresh that refuses a required plugin deactivates it, then throws the required-plugin error',
  async (t) => {
    const dir = await copyOf(t, 'policed');
    const { host: h, info } = await host(
      t,
      [{ from: dir, required: true }],
      [await entry(dir, 'test.policed')],
    );
    await h.contribution(DirectoryStore, 'policed');
    await t.throwsAsync(h.applyAllowList([], 10), {
      code: 'E_REQUIRED_PLUGIN',
      message: /'test\.policed' \(not allowed by the site policy \(serial 10\)/,
    });
    t.true(trace().includes('deactivate policed'));
    t.is(info('test.policed')?.state, 'failed');
  },
);

test.serial('overlapping refreshes apply in order: the last one made is the one in force', async (t) => {
  const dir = await copyOf(t, 'policed');
  const allowed = [await entry(dir, 'test.policed')];
  const { host: h, info } = await host(t, [{ from: dir }], allowed);
  await h.contribution(DirectoryStore, 'policed');
  const [first, second] = await Promise.all([h.applyAllowList([], 8), h.applyAllowList(allowed, 9)]);
  t.deepEqual(first, ['test.policed']);
  t.deepEqual(second, []);
  t.deepEqual(h.allowListState(), { state: 'enforced', serial: 9 });
  t.is(info('test.policed')?.state, 'failed', 'refused by serial 8; serial 9 needs a restart to load it');
  t.regex(info('test.policed')?.reason ?? '', /serial 9\) allows it: restart the agent to load it$/);
  t.is(trace().filter((line) => line === 'deactivate policed').length, 1);
});
