// Attacks on plugin isolation (issue 13) by the plugin itself: what a hostile third-party plugin in
// its own process tries against the host. Each test names the attack it refuses.
import { spawn } from 'node:child_process';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { EventId, EventLog, type LogRecord, PluginHost, Trigger } from '../../src/index.js';
import { tempDir } from '../support/temp.js';

const distIndex = fileURLToPath(new URL('../../src/index.js', import.meta.url));

/** A hostile plugin: a trigger `evil` whose methods are the attacks. */
const HOSTILE = `
import fs from 'node:fs';
class Evil {
  async start() { return { dispose: () => undefined }; }
  /** Writes bytes that are no message to every descriptor it has: the channel to the host among them. */
  garble() {
    const frame = Buffer.alloc(16, 0xff);
    frame.writeUInt32BE(12, 0);
    for (let fd = 0; fd < 16; fd++) {
      try { fs.writeSync(fd, frame); } catch {}
    }
    return 'written';
  }
  /** Reads a file by a path under its own package folder. */
  read(file) {
    try { return fs.readFileSync(file, 'utf8'); } catch (e) { return 'refused: ' + String(e.code); }
  }
  /** Floods the host with log lines. */
  flood(n) {
    for (let i = 0; i < n; i++) this.logger.info('flood ' + i);
    return n;
  }
  /** Sends log lines whose fields try to pass for other records. */
  forge(fields) {
    this.logger.info('from the plugin', fields);
    return 'logged';
  }
}
export function activate(context) {
  context.contribute(Symbol.for('credroam.Trigger'), 'evil', () => Object.assign(new Evil(), { logger: context.logger }));
}
`;

async function hostilePlugin(t: ExecutionContext, extra: Record<string, unknown> = {}): Promise<string> {
  const dir = path.join(await tempDir(t), 'hostile');
  await mkdir(dir);
  await writeFile(path.join(dir, 'index.js'), HOSTILE);
  await writeFile(
    path.join(dir, 'package.json'),
    JSON.stringify({
      name: 'fixture-hostile',
      version: '1.0.0',
      type: 'module',
      ...extra,
      credroam: {
        id: 'test.hostile',
        engines: { credroam: '*' },
        main: 'index.js',
        activationEvents: ['onStartup'],
        contributes: { triggers: [{ id: 'evil' }] },
      },
    }),
  );
  return dir;
}

const ISOLATION = {
  restarts: 1,
  restartDelayMs: 20,
  maxRestartDelayMs: 100,
  pingIntervalMs: 200,
  pingTimeoutMs: 2_000,
};

async function inProcessHost(t: ExecutionContext, dir: string) {
  const records: LogRecord[] = [];
  const log = new EventLog({ write: () => undefined });
  log.subscribe((r) => records.push(r));
  const stateRoot = await tempDir(t);
  const h = new PluginHost({ log, stateRoot, isolation: ISOLATION });
  t.teardown(() => h.dispose());
  await h.load([{ from: dir }]);
  await h.start();
  const info = () => h.list().find((p) => p.id === 'test.hostile');
  return { host: h, records, info, stateRoot };
}

const request = (home: string) => ({ user: 'alice', settings: {}, home, policy: {} });

interface Evil {
  garble(): Promise<string>;
  read(file: string): Promise<string>;
  forge(fields: Record<string, unknown>): Promise<string>;
  flood(n: number): Promise<number>;
}

test('attack: a plugin writing bytes that are no message to its channel does not bring the host down', async (t) => {
  const dir = await hostilePlugin(t);
  const stateRoot = await tempDir(t);
  const script = path.join(await tempDir(t), 'host.mjs');
  await writeFile(
    script,
    `import { EventLog, PluginHost, Trigger } from ${JSON.stringify(distIndex)};
const log = new EventLog({ write: () => undefined });
const lost = [];
log.subscribe((r) => { if (r.plugin === 'test.hostile' && r.level !== 'debug') lost.push(r.event); });
const host = new PluginHost({ log, stateRoot: ${JSON.stringify(stateRoot)}, isolation: ${JSON.stringify(ISOLATION)} });
await host.load([{ from: ${JSON.stringify(dir)} }]);
await host.start();
const evil = await (await host.contribution(Trigger, 'evil'))({ user: 'alice', settings: {}, home: ${JSON.stringify(stateRoot)}, policy: {} });
const answer = await Promise.race([evil.garble().then(String, (e) => 'failed: ' + e.code), new Promise((r) => setTimeout(() => r('no answer'), 3000))]);
await new Promise((r) => setTimeout(r, 500));
process.stdout.write(JSON.stringify({ alive: true, answer, events: lost }) + '\\n');
await host.dispose();
`,
  );
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += String(d);
  });
  const lines = createInterface({ input: child.stdout! });
  const outcome = await new Promise<string>((resolve) => {
    lines.once('line', resolve);
    child.once('exit', (code, signal) => resolve(`host exited (${code ?? signal}): ${stderr.slice(0, 400)}`));
  });
  t.notRegex(outcome, /^host exited/, outcome);
  const line = JSON.parse(outcome) as { alive: boolean; answer: string; events: number[] };
  t.true(line.alive);
  t.not(line.answer, 'written', 'a plugin that garbles its channel is cut off, not answered');
  t.true(line.events.includes(EventId.PluginProcessLost), JSON.stringify(line.events));
});

test('attack: a link in the plugin package (outside its hashed files) does not let it read what the link points to', async (t) => {
  const secrets = await tempDir(t, 'credroam-keys-');
  await writeFile(path.join(secrets, 'alice.key'), 'PRIVATE KEY BYTES');
  const dir = await hostilePlugin(t, { files: ['index.js'] });
  await mkdir(path.join(dir, 'node_modules'));
  await symlink(secrets, path.join(dir, 'node_modules', 'leak'));
  const { host: h, info, stateRoot, records } = await inProcessHost(t, dir);
  const state = info()?.state;
  if (state === 'active') {
    const evil = (await (await h.contribution(Trigger, 'evil'))(request(stateRoot))) as unknown as Evil;
    const read = await evil.read(path.join(dir, 'node_modules', 'leak', 'alice.key'));
    t.not(read, 'PRIVATE KEY BYTES', 'the plugin read the key through a link in its package');
  } else {
    t.is(state, 'failed');
    t.regex(info()?.reason ?? '', /link/);
    t.true(records.some((r) => r.event === EventId.PluginSandboxUnavailable && r.plugin === 'test.hostile'));
  }
  t.is(await readFile(path.join(secrets, 'alice.key'), 'utf8'), 'PRIVATE KEY BYTES');
});

test('attack: an isolated plugin’s log fields cannot pass for another event, level, message or time', async (t) => {
  const dir = await hostilePlugin(t);
  const { host: h, info, stateRoot, records } = await inProcessHost(t, dir);
  t.is(info()?.state, 'active', info()?.reason);
  const evil = (await (await h.contribution(Trigger, 'evil'))(request(stateRoot))) as unknown as Evil;
  await evil.forge({
    event: EventId.SyncSucceeded,
    level: 'error',
    message: 'a forged line',
    time: '1999-01-01T00:00:00.000Z',
    plugin: 'credroam.core',
    pluginEvent: 7,
    ['__proto__']: { polluted: true },
    note: 'kept',
  });
  const lines = records.filter((r) => r.plugin === 'test.hostile' && r.event === EventId.PluginLog);
  const line = lines.find((r) => r.note === 'kept');
  t.truthy(line, JSON.stringify(lines));
  t.is(line?.message, 'from the plugin');
  t.is(line?.level, 'info');
  t.not(line?.time, '1999-01-01T00:00:00.000Z');
  t.false(records.some((r) => r.message === 'a forged line'));
  t.false(records.some((r) => r.event === EventId.SyncSucceeded));
  t.is(({} as Record<string, unknown>).polluted, undefined);
  t.is(Object.getPrototypeOf(line), Object.prototype);
});

test('attack: a plugin flooding the host with log lines is cut to a bounded number, and the drop is said once', async (t) => {
  const dir = await hostilePlugin(t);
  const { host: h, info, stateRoot, records } = await inProcessHost(t, dir);
  t.is(info()?.state, 'active', info()?.reason);
  const evil = (await (await h.contribution(Trigger, 'evil'))(request(stateRoot))) as unknown as Evil;
  // Five times the bound: enough to prove the cut, few enough not to starve a loaded machine's ping.
  t.is(await evil.flood(5_000), 5_000);
  // The lines crossed before the answer (one channel, in order).
  const flood = records.filter((r) => r.plugin === 'test.hostile' && String(r.message).startsWith('flood '));
  t.true(flood.length > 0);
  t.true(flood.length <= 1_000, `${flood.length} lines reached the log`);
  const dropped = records.filter((r) => r.plugin === 'test.hostile' && r.event === EventId.PluginLogDropped);
  t.is(dropped.length, 1);
  t.is(info()?.state, 'active', 'the plugin goes on');
});
