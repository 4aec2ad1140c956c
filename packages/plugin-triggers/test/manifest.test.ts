import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventLog, PluginHost, Trigger } from '@credroam/core';
import test, { type ExecutionContext } from 'ava';

const pkg = fileURLToPath(new URL('../../', import.meta.url));

async function host(t: ExecutionContext) {
  const stateRoot = await mkdtemp(path.join(os.tmpdir(), 'credroam-triggers-manifest-'));
  t.teardown(() => rm(stateRoot, { recursive: true, force: true }));
  const h = new PluginHost({ stateRoot, log: new EventLog({ write: () => undefined }) });
  t.teardown(() => h.dispose());
  await h.load([{ from: pkg }]);
  return { h, stateRoot };
}

test("each trigger's settings are checked by the host against its manifest entry's schema", async (t) => {
  const { h, stateRoot } = await host(t);
  const request = { user: 'alice', home: stateRoot, policy: {} };
  const watcher = await h.contribution(Trigger, 'store-watcher');
  await t.throwsAsync(async () => watcher({ ...request, settings: { debounceMs: 60_001 } }), {
    code: 'E_CONFIG',
    message:
      "invalid settings for Trigger 'store-watcher' (plugin 'credroam.triggers'): /settings/debounceMs: must be <= 60000",
  } as never);
  const session = await h.contribution(Trigger, 'session');
  await t.throwsAsync(async () => session({ ...request, settings: { sessionId: 3 } }), {
    code: 'E_CONFIG',
    message: /Trigger 'session'.*\/settings\/sessionId: must be string/,
  } as never);
  const refresh = await h.contribution(Trigger, 'policy-refresh');
  await t.throwsAsync(async () => refresh({ ...request, settings: { intervalMinutes: 5 } }), {
    code: 'E_CONFIG',
    message: /\/settings: must NOT have additional properties 'intervalMinutes'/,
  } as never);
});

test('settings that pass reach the trigger: the store watcher watches the path it is given', async (t) => {
  const { h, stateRoot } = await host(t);
  const store = path.join(stateRoot, 'watched');
  await mkdir(store);
  const watcher = await (await h.contribution(Trigger, 'store-watcher'))({
    user: 'alice',
    home: stateRoot,
    policy: {},
    settings: { path: store },
  });
  let fire: (name: string) => void = () => undefined;
  const fired = new Promise<string>((resolve) => {
    fire = resolve;
  });
  const stop = await watcher.start((event) => fire(event.name));
  t.teardown(() => stop.dispose());
  await writeFile(path.join(store, 'x.der'), 'x');
  t.is(await fired, 'storeChanged');
});
