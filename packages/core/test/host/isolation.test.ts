import { spawn, spawnSync } from 'node:child_process';
import { chown, cp, mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import {
  API_VERSION,
  ConflictError,
  CredroamError,
  DirectoryStore,
  EventId,
  EventLog,
  hashPluginFiles,
  type LogRecord,
  PluginHost,
  type PluginHostOptions,
  type PluginSpec,
  Trigger,
  type TriggerEvent,
} from '../../src/index.js';
import { fakeItem, MemoryLocalStore, makeEngine } from '../../src/testing/index.js';
import { tempDir } from '../support/temp.js';

const fixtures = fileURLToPath(new URL('../../../test/fixtures/plugins/', import.meta.url));
const hostScript = fileURLToPath(new URL('../../../test/fixtures/isolated-host.mjs', import.meta.url));

/** Fast restarts and pings, so that the tests wait little; the rule (doubling, bounded) is the agent's. */
const ISOLATION = {
  restarts: 3,
  restartDelayMs: 20,
  maxRestartDelayMs: 1_000,
  pingIntervalMs: 200,
  pingTimeoutMs: 2_000,
};

async function host(
  t: ExecutionContext,
  specs: Array<string | PluginSpec>,
  options: Partial<PluginHostOptions> = {},
) {
  const records: LogRecord[] = [];
  const log = new EventLog({ write: () => undefined });
  log.subscribe((r) => records.push(r));
  const stateRoot = await tempDir(t);
  const h = new PluginHost({ log, stateRoot, baseDir: fixtures, isolation: ISOLATION, ...options });
  t.teardown(() => h.dispose());
  await h.load(specs.map((s) => (typeof s === 'string' ? { from: `./${s}` } : s)));
  const info = (id: string) => h.list().find((p) => p.id === id);
  return { host: h, records, info, stateRoot };
}

/** Waits until `check` holds, up to `ms` (a bound on the wait, not a timing assertion). */
async function until(check: () => boolean | Promise<boolean>, ms = 20_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A listener on loopback that records what reaches it. */
async function listener(t: ExecutionContext) {
  const received: string[] = [];
  let connections = 0;
  const server = net.createServer((s) => {
    connections++;
    s.on('data', (d) => received.push(d.toString()));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { port: (server.address() as net.AddressInfo).port, received, connections: () => connections };
}

const request = (home: string) => ({ user: 'alice', settings: {}, home, policy: {} });

interface Outcome {
  ok: boolean;
  code?: string;
  value?: unknown;
}
interface ProbeReport {
  readKeys: Outcome;
  writeOutside: Outcome;
  writeState: Outcome;
  spawn: Outcome;
  worker: Outcome;
  addon: Outcome;
  socket: Outcome;
  env: string[];
}
interface Probe extends Trigger {
  probe(targets: Record<string, unknown>): Promise<ProbeReport>;
  fail(kind: string): Promise<never>;
  spin(): Promise<never>;
  seen(): Promise<{ user: string; policy: unknown; directory: string; password: string }>;
}

/** A copy of the probe under another id, asking for `permissions`. */
async function probeCopy(t: ExecutionContext, id: string, permissions: string[]): Promise<string> {
  const dir = path.join(await tempDir(t), id);
  await cp(path.join(fixtures, 'isolated-probe'), dir, { recursive: true });
  const pkg = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8'));
  pkg.credroam.id = id;
  pkg.credroam.permissions = permissions;
  await writeFile(path.join(dir, 'package.json'), JSON.stringify(pkg));
  return dir;
}

async function probeTargets(t: ExecutionContext, stateRoot: string, id: string, port: number) {
  const keys = await tempDir(t, 'credroam-keys-');
  const keysFile = path.join(keys, 'alice.key');
  await writeFile(keysFile, 'PRIVATE KEY BYTES');
  const outside = await tempDir(t, 'credroam-outside-');
  const outsideFile = path.join(outside, 'untouched');
  await writeFile(outsideFile, 'as the test wrote it');
  return { keysFile, outsideFile, addonFile: keysFile, port, stateDir: path.join(stateRoot, id) };
}

test('a third-party plugin runs in a process of its own: the key store, files outside its folders, processes, workers, addons and sockets are refused, and the host goes on', async (t) => {
  const { host: h, info, records, stateRoot } = await host(t, ['isolated-probe', 'disposal']);
  await h.start();
  t.is(info('test.isolated-probe')?.state, 'active');
  t.is(info('test.disposal')?.state, 'active');
  const isolated = records.find(
    (r) => r.event === EventId.PluginIsolated && r.plugin === 'test.isolated-probe',
  );
  t.truthy(isolated, 'logged as isolated');
  t.is(isolated?.network, 'netns');
  t.not(isolated?.pid, process.pid);
  t.true(
    records.some(
      (r) =>
        r.event === EventId.PluginLog && r.message === 'probe active' && r.plugin === 'test.isolated-probe',
    ),
  );

  const net = await listener(t);
  const targets = await probeTargets(t, stateRoot, 'test.isolated-probe', net.port);
  const probe = (await (await h.contribution(Trigger, 'probe'))(request(stateRoot))) as Probe;
  const report = await probe.probe(targets);

  t.deepEqual(report.readKeys, { ok: false, code: 'ERR_ACCESS_DENIED' });
  t.deepEqual(report.writeOutside, { ok: false, code: 'ERR_ACCESS_DENIED' });
  t.is(report.writeState.ok, true, 'its own state folder is writable');
  t.deepEqual(report.spawn, { ok: false, code: 'ERR_ACCESS_DENIED' });
  t.deepEqual(report.worker, { ok: false, code: 'ERR_ACCESS_DENIED' });
  t.is(report.addon.ok, false);
  t.is(report.addon.code, 'ERR_DLOPEN_DISABLED');
  t.is(report.socket.ok, false);
  t.is(report.socket.code, 'ENETUNREACH');
  t.is(net.connections(), 0, 'nothing reached the listener');
  t.is(await readFile(targets.outsideFile, 'utf8'), 'as the test wrote it');
  t.deepEqual(
    report.env.filter((k) => !['HOME', 'LANG', 'TMPDIR', 'CREDROAM_PLUGIN_CHANNEL'].includes(k)),
    [],
    'nothing of the agent’s environment',
  );

  // The host goes on: the in-process path, and the isolated plugin itself, still answer.
  const fired: TriggerEvent[] = [];
  const stop = await probe.start((e) => fired.push(e));
  t.true(await until(() => fired.length === 1));
  t.is(fired[0]?.source, 'probe');
  await stop.dispose();
  t.is(info('test.isolated-probe')?.state, 'active');
});

test('a plugin granted network reaches a listener on loopback; the grant is what it asked for', async (t) => {
  const dir = await probeCopy(t, 'test.network-probe', ['network']);
  const {
    host: h,
    info,
    records,
    stateRoot,
  } = await host(t, [{ from: dir }], {
    grants: { 'test.network-probe': ['network'] },
  });
  await h.start();
  t.is(info('test.network-probe')?.state, 'active', info('test.network-probe')?.reason);
  t.is(records.find((r) => r.event === EventId.PluginIsolated)?.network, 'granted');
  const net = await listener(t);
  const probe = (await (await h.contribution(Trigger, 'probe'))(request(stateRoot))) as Probe;
  const report = await probe.probe(await probeTargets(t, stateRoot, 'test.network-probe', net.port));
  t.deepEqual(report.socket, { ok: true, value: 'connected' });
  t.true(await until(() => net.received.join('') === 'hello from the plugin'));
  // Only the network: files stay refused.
  t.deepEqual(report.readKeys, { ok: false, code: 'ERR_ACCESS_DENIED' });
});

test('a plugin asking for a permission nobody grants is refused before its code is loaded, with event 2021', async (t) => {
  const dir = await probeCopy(t, 'test.greedy-probe', ['network', 'password']);
  const {
    host: h,
    info,
    records,
  } = await host(t, [{ from: dir }, 'disposal'], {
    grants: { 'test.greedy-probe': ['password'] },
  });
  await h.start();
  const greedy = info('test.greedy-probe');
  t.is(greedy?.state, 'failed');
  t.regex(greedy?.reason ?? '', /asks for network, which no site policy grants it/);
  t.true(
    records.some((r) => r.event === EventId.PluginPermissionNotGranted && r.plugin === 'test.greedy-probe'),
  );
  t.false(records.some((r) => r.event === EventId.PluginIsolated && r.plugin === 'test.greedy-probe'));
  t.is(info('test.disposal')?.state, 'active');
});

test('the site policy grants through the allow-list entry, and may keep a signed third-party plugin in process', async (t) => {
  const dir = await probeCopy(t, 'test.listed-probe', ['network']);
  const files = await hashPluginFiles(dir);
  const entry = { id: 'test.listed-probe', version: '^1.0.0', files };
  const denied = await host(t, [{ from: dir }], { allowList: [entry], policySerial: 4 });
  t.regex(
    denied.info('test.listed-probe')?.reason ?? '',
    /asks for network, which the site policy \(serial 4\) does not grant it/,
  );

  const granted = await host(t, [{ from: dir }], { allowList: [{ ...entry, grants: ['network'] }] });
  await granted.host.start();
  t.is(granted.info('test.listed-probe')?.state, 'active');
  t.is(granted.records.find((r) => r.event === EventId.PluginIsolated)?.network, 'granted');

  const inside = await host(t, [{ from: dir }], { allowList: [{ ...entry, inProcess: true }] });
  await inside.host.start();
  t.is(inside.info('test.listed-probe')?.state, 'active');
  t.false(
    inside.records.some((r) => r.event === EventId.PluginIsolated),
    'runs in the agent’s process',
  );
});

test('a request crosses as data: a live policy view as it is now, no directory store nor password without their grants', async (t) => {
  const { host: h, stateRoot } = await host(t, ['isolated-probe']);
  await h.start();
  let section: Record<string, unknown> = { trustWithPassword: false, limits: { maxTokens: 7 } };
  const live = new Proxy(
    {},
    {
      get: (_t, k) => Reflect.get(section, k),
      ownKeys: () => Reflect.ownKeys(section),
      getOwnPropertyDescriptor: (_t, k) => ({
        ...Reflect.getOwnPropertyDescriptor(section, k),
        configurable: true,
      }),
    },
  );
  const probe = (await (
    await h.contribution(Trigger, 'probe')
  )({
    ...request(stateRoot),
    policy: live,
    directory: {
      readStamp: async () => [],
      read: async () => ({ stamp: [], tokens: [], keys: [] }),
      readKeys: async () => ({ stamp: [], keys: [] }),
      write: async () => undefined,
    },
    password: async () => 'the roaming password',
  })) as Probe;
  section = { trustWithPassword: true };
  t.deepEqual(await probe.seen(), {
    user: 'alice',
    policy: { trustWithPassword: false, limits: { maxTokens: 7 } },
    directory: 'undefined',
    password: 'undefined',
  });
});

test('a plugin granted localStore:read reads the certificates through the host, never a key, and not the store’s files', async (t) => {
  const local = new MemoryLocalStore();
  const cert = fakeItem('cert', 'alice', 'certificate bytes', 1_000);
  const key = fakeItem('key', 'alice', 'PRIVATE KEY BYTES', 1_000);
  await local.put(cert);
  await local.put(key);
  const storeFolder = await tempDir(t, 'credroam-store-');
  await writeFile(path.join(storeFolder, 'alice.key'), 'PRIVATE KEY BYTES');
  const { host: h, stateRoot } = await host(t, ['isolated-certs'], {
    grants: { 'test.isolated-certs': ['localStore:read'] },
    services: { localStore: () => local },
  });
  await h.start();
  const certs = (await (
    await h.contribution(Trigger, 'certs')
  )(request(stateRoot))) as unknown as {
    look(folder: string): Promise<{
      services: string[];
      revision: string;
      items: Array<{ kind: string; id: string; content: Uint8Array }>;
      direct: unknown;
    }>;
  };
  const seen = await certs.look(storeFolder);
  t.deepEqual(seen.services, ['certificates']);
  t.is(seen.revision, await local.revision());
  t.deepEqual(seen.items, [{ kind: 'cert', id: cert.id, content: cert.content }]);
  t.is(seen.direct, 'ERR_ACCESS_DENIED');
  t.false(seen.items.some((i) => Buffer.from(i.content).includes('PRIVATE KEY BYTES')));
});

test('a policy refresh that no longer grants what a running isolated plugin asks for stops it and its process', async (t) => {
  const dir = await probeCopy(t, 'test.revoked-probe', ['network']);
  const entry = { id: 'test.revoked-probe', version: '^1.0.0', files: await hashPluginFiles(dir) };
  const {
    host: h,
    info,
    records,
  } = await host(t, [{ from: dir }], {
    allowList: [{ ...entry, grants: ['network'] }],
    policySerial: 1,
  });
  await h.start();
  t.deepEqual(info('test.revoked-probe')?.isolated, { granted: ['network'] });
  const pid = records.find((r) => r.event === EventId.PluginIsolated)?.pid as number;
  t.true(alive(pid));
  t.deepEqual(await h.applyAllowList([entry], 2), ['test.revoked-probe']);
  const revoked = info('test.revoked-probe');
  t.is(revoked?.state, 'failed');
  t.is(revoked?.reason, 'asks for network, which the site policy (serial 2) no longer grants it');
  t.true(
    records.some((r) => r.event === EventId.PluginPermissionNotGranted && r.plugin === 'test.revoked-probe'),
  );
  t.true(await until(() => !alive(pid)), 'its process is gone');
});

test('an isolated plugin imports the plugin API by its package name, installed beside it through a link', async (t) => {
  const root = await tempDir(t);
  const modules = path.join(root, 'node_modules');
  await mkdir(path.join(modules, '@credroam'), { recursive: true });
  await symlink(
    await realpath(fileURLToPath(new URL('../../../', import.meta.url))),
    path.join(modules, '@credroam', 'core'),
  );
  await cp(path.join(fixtures, 'isolated-api-user'), path.join(modules, '@example', 'isolated-api-user'), {
    recursive: true,
  });
  const {
    host: h,
    info,
    records,
    stateRoot,
  } = await host(t, [{ from: '@example/isolated-api-user' }], {
    nodeModules: [modules],
  });
  await h.start();
  t.is(info('test.isolated-api-user')?.state, 'active', info('test.isolated-api-user')?.reason);
  t.deepEqual(info('test.isolated-api-user')?.isolated, { granted: [] });
  t.true(
    records.some(
      (r) => r.message === `built against API ${API_VERSION}` && r.plugin === 'test.isolated-api-user',
    ),
  );
  const user = (await (
    await h.contribution(Trigger, 'api-user')
  )(request(stateRoot))) as unknown as { fail(): Promise<never> };
  const error = (await t.throwsAsync(user.fail())) as CredroamError;
  t.like(error, { code: 'E_PLUGIN', message: 'the badge reader is gone' });
  t.like(error.details, { plugin: 'test.isolated-api-user', pluginCode: 'BADGE_READER_GONE' });
});

test('errors cross the boundary as registry codes (unknown ones as E_PLUGIN), without the plugin’s stack', async (t) => {
  const { host: h, stateRoot } = await host(t, ['isolated-probe']);
  await h.start();
  const probe = (await (await h.contribution(Trigger, 'probe'))(request(stateRoot))) as Probe;
  const registry = await t.throwsAsync(probe.fail('registry'), { instanceOf: CredroamError });
  t.is((registry as CredroamError).code, 'E_CONFIG');
  t.is((registry as CredroamError).details.plugin, 'test.isolated-probe');
  const invented = (await t.throwsAsync(probe.fail('invented'))) as CredroamError;
  t.is(invented.code, 'E_PLUGIN');
  t.is(invented.details.pluginCode, 'E_MADE_UP');
  const plain = (await t.throwsAsync(probe.fail('plain'))) as CredroamError;
  t.is(plain.code, 'E_PLUGIN');
  t.false((plain.stack ?? '').includes('isolated-probe/index.js'), plain.stack);
});

test('a contribution works across the boundary: a sync runs through an isolated directory store, and a lost race is a ConflictError', async (t) => {
  const { host: h, stateRoot } = await host(t, ['isolated-directory']);
  await h.start();
  const factory = await h.contribution(DirectoryStore, 'state-file');
  const directory = await factory(request(stateRoot));
  const first = new MemoryLocalStore();
  await first.put(fakeItem('cert', 'alice', 'v1', 1_000));
  const up = await makeEngine({ directory, local: first }).engine.sync();
  t.is(up.outcome, 'synced');
  t.is(up.counts.uploaded, 1);
  const second = new MemoryLocalStore();
  const down = await makeEngine({ directory, local: second }).engine.sync();
  t.is(down.counts.downloaded, 1);
  t.deepEqual(
    (await second.list()).items.map((i) => i.id),
    (await first.list()).items.map((i) => i.id),
  );
  await t.throwsAsync(directory.write({ stamp: { remove: [new Uint8Array([1, 2, 3])], add: [] } }), {
    instanceOf: ConflictError,
  });
});

test('a process that keeps crashing is restarted with a doubling delay, then the plugin is failed; the rest go on', async (t) => {
  const { host: h, info, records } = await host(t, ['isolated-crash', 'disposal']);
  await h.start();
  t.true(await until(() => info('test.isolated-crash')?.state === 'failed'));
  const lost = records.filter((r) => r.event === EventId.PluginProcessLost);
  t.deepEqual(
    lost.map((r) => r.delayMs),
    [20, 40, 80],
  );
  t.regex(lost[0]?.message ?? '', /exited with code 7/);
  const gaveUp = records.find((r) => r.event === EventId.PluginProcessGaveUp);
  t.regex(gaveUp?.message ?? '', /after 3 restarts: given up/);
  t.is(info('test.disposal')?.state, 'active');
  await t.throwsAsync(h.contribution(Trigger, 'crashy'), { message: /unavailable/ });
});

test('a process that crashes is started again, and its contributions work after the restart', async (t) => {
  const {
    host: h,
    info,
    records,
    stateRoot,
  } = await host(t, [{ from: './isolated-crash', settings: { crashes: 2 } }]);
  await h.start();
  t.true(await until(() => records.filter((r) => r.event === EventId.PluginProcessLost).length === 2));
  const crashy = (await (
    await h.contribution(Trigger, 'crashy')
  )(request(stateRoot))) as unknown as {
    starts(): Promise<number>;
  };
  t.is(await crashy.starts(), 3);
  t.is(info('test.isolated-crash')?.state, 'active');
});

test('a process that stops answering is killed and started again', async (t) => {
  const { host: h, info, records, stateRoot } = await host(t, ['isolated-probe']);
  await h.start();
  const firstPid = records.find((r) => r.event === EventId.PluginIsolated)?.pid as number;
  const probe = (await (await h.contribution(Trigger, 'probe'))(request(stateRoot))) as Probe;
  const spinning = probe.spin();
  await t.throwsAsync(spinning, { instanceOf: CredroamError, message: /was killed/ });
  t.regex(records.find((r) => r.event === EventId.PluginProcessLost)?.message ?? '', /stopped answering/);
  t.true(await until(() => !alive(firstPid)));
  t.true(await until(() => records.filter((r) => r.event === EventId.PluginIsolated).length === 2));
  t.is(info('test.isolated-probe')?.state, 'active');
  const again = (await (await h.contribution(Trigger, 'probe'))(request(stateRoot))) as Probe;
  const fired: TriggerEvent[] = [];
  await again.start((e) => fired.push(e));
  t.true(await until(() => fired.length === 1));
});

test('a process that hangs in activate is killed at the time box; the plugin is failed and the rest go on', async (t) => {
  // A time box long enough for a loaded machine to start the process (it writes its pid first),
  // and pings patient enough not to kill it before the time box does.
  const {
    host: h,
    info,
    stateRoot,
  } = await host(t, ['isolated-hang', 'disposal'], {
    activateTimeoutMs: 4_000,
    isolation: { ...ISOLATION, pingTimeoutMs: 30_000 },
  });
  await h.start();
  const hang = info('test.isolated-hang');
  t.is(hang?.state, 'failed');
  t.regex(hang?.reason ?? '', /did not finish within 4000 ms/);
  const pid = Number(await readFile(path.join(stateRoot, 'test.isolated-hang', 'pid'), 'utf8'));
  t.true(pid > 0);
  t.true(await until(() => !alive(pid)), 'the hung process is gone');
  t.is(info('test.disposal')?.state, 'active');
});

/** Starts fixtures/isolated-host.mjs (as `prefix` says) and reads the line it prints. */
async function separateHost(t: ExecutionContext, prefix: string[], args: string[]) {
  const [command, ...rest] = [...prefix, process.execPath, hostScript, ...args];
  const child = spawn(command!, rest, { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const lines = createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the host exited with ${code}`)));
  });
  return {
    child,
    line: JSON.parse(first) as {
      pid?: number;
      network: string;
      hostNetns: string;
      pluginNetns: string;
      socket?: { ok: boolean; code?: string };
      state: string;
      reason?: string;
      events: number[];
    },
  };
}

/** Whether `prefix` (a user, a namespace) can make a user and network namespace of its own. */
function userNamespacesWork(prefix: readonly string[]): boolean {
  const [command, ...args] = [...prefix, '/usr/bin/unshare', '--user', '--map-root-user', '--net', 'true'];
  return spawnSync(command!, args, { stdio: 'ignore' }).status === 0;
}

/** What an endpoint where no network namespace can be made does: refuses the plugin, starts nothing. */
function refusedForNoNamespace(t: ExecutionContext, line: Awaited<ReturnType<typeof separateHost>>['line']) {
  t.is(line.state, 'failed');
  t.regex(
    line.reason ?? '',
    /cannot run out of process: the plugin's network cannot be cut off: no network namespace can be made here/,
  );
  t.deepEqual(line.events, [EventId.PluginSandboxUnavailable]);
  t.is(line.pid, undefined, 'no process was started for it');
}

const AS_NOBODY = ['/usr/bin/setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

test('an agent that is not root cuts its plugins off the network too (an unprivileged user namespace)', async (t) => {
  // As root (CI, this machine), the host runs as nobody; as anyone else, as that user.
  const root = process.getuid?.() === 0;
  const stateRoot = await mkdtemp('/tmp/credroam-unprivileged-');
  t.teardown(() => rm(stateRoot, { recursive: true, force: true }));
  if (root) await chown(stateRoot, 65534, 65534);
  const net = await listener(t);
  const prefix = root ? AS_NOBODY : [];
  const { line } = await separateHost(t, prefix, [stateRoot, String(net.port)]);
  if (!userNamespacesWork(prefix)) {
    // A kernel or a chroot (the clean-root check) that gives this user no user namespace: what
    // such an endpoint does is refuse the plugin, never run it with the network.
    t.log('no unprivileged user namespace here: the refusal is what is checked');
    refusedForNoNamespace(t, line);
    t.is(net.connections(), 0);
    return;
  }
  t.is(line.network, 'netns');
  t.not(line.pluginNetns, line.hostNetns, 'the plugin has a network namespace of its own');
  t.deepEqual(line.socket, { ok: false, code: 'ENETUNREACH' });
  t.is(net.connections(), 0);
  const uid = (await readFile(`/proc/${line.pid}/status`, 'utf8')).match(/^Uid:\s+(\d+)/m)?.[1];
  t.is(uid, root ? '65534' : String(process.getuid?.()));
});

test('where no network namespace can be made, a plugin without network is refused (2022), never run with the network', async (t) => {
  // A user namespace of the test's own in which no further namespace may be made (its limits 0);
  // where this user cannot make one at all (a chroot), nobody, who then cannot make any either.
  const limits =
    'echo 0 > /proc/sys/user/max_net_namespaces && echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"';
  const own = ['/usr/bin/unshare', '--user', '--map-root-user', '--', '/bin/sh', '-c', limits, 'sh'];
  const fallback = process.getuid?.() === 0 && !userNamespacesWork([]);
  const dir = fallback ? await mkdtemp('/tmp/credroam-no-namespace-') : await tempDir(t);
  if (fallback) {
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    await chown(dir, 65534, 65534);
  }
  const { line } = await separateHost(t, fallback ? AS_NOBODY : own, [dir, '']);
  refusedForNoNamespace(t, line);
});

test('deactivation: a deactivate that never ends is cut off at its time box and the process killed; one that ends lets it go', async (t) => {
  const {
    host: h,
    info,
    records,
  } = await host(t, ['slow-deactivate', 'isolated-probe'], { deactivateTimeoutMs: 500 });
  await h.start();
  const pids = new Map(
    records.filter((r) => r.event === EventId.PluginIsolated).map((r) => [r.plugin, r.pid as number]),
  );
  t.is(pids.size, 2);
  await h.dispose();
  const cut = records.find((r) => r.event === EventId.PluginDeactivationFailed);
  t.is(cut?.plugin, 'test.slow-deactivate');
  t.regex(cut?.message ?? '', /did not finish within 500 ms/);
  t.deepEqual(
    records
      .filter((r) => r.event === EventId.PluginDeactivated)
      .map((r) => r.plugin)
      .sort(),
    ['test.isolated-probe', 'test.slow-deactivate'],
  );
  for (const pid of pids.values()) t.false(alive(pid), 'its process is gone when dispose() returns');
  t.is(info('test.isolated-probe')?.state, 'inactive');
});

test('a plugin’s process never outlives its host: SIGKILL to the host ends it', async (t) => {
  const { child, line } = await separateHost(t, [], [await tempDir(t)]);
  const pid = line.pid ?? 0;
  t.true(pid > 0 && alive(pid));
  child.kill('SIGKILL');
  t.true(await until(() => !alive(pid)), 'the plugin process exited with its host');
});

test('a plugin stuck in a busy loop dies with its host too (the parent-death signal)', async (t) => {
  const { child, line } = await separateHost(t, [], [await tempDir(t), '', 'spin']);
  const pid = line.pid ?? 0;
  t.true(pid > 0 && alive(pid));
  child.kill('SIGKILL');
  t.true(await until(() => !alive(pid)), 'the spinning plugin process exited with its host');
});
