import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkInjection, EventLog } from '@credroam/core';
import test from 'ava';
import { loadConfig } from '../src/config.js';
import { openSession } from '../src/session.js';
import { INJECTED_CLASSES } from '../src/session-engine.js';
import { tempDir } from './support.js';

test('every class the composition root builds through the container has every constructor parameter resolvable', async (t) => {
  const dir = await tempDir(t);
  await mkdir(path.join(dir, 'directory'));
  const { writeFile } = await import('node:fs/promises');
  const config = path.join(dir, 'agent.json');
  await writeFile(
    config,
    JSON.stringify({
      user: 'alice',
      home: path.join(dir, 'home'),
      directory: { use: 'folder', settings: { url: pathToFileURL(path.join(dir, 'directory')).href } },
    }),
  );
  const session = await openSession(await loadConfig(config, {}), new EventLog({ write: () => undefined }));
  t.teardown(() => session.dispose());
  t.deepEqual(checkInjection(session.container, [...INJECTED_CLASSES]), []);
  t.truthy(session.engine);
});

// Serial: no other session in this process may start or end meanwhile (that would hide what is checked).
test.serial('two sessions in one process: disposing one leaves the other’s keys open', async (t) => {
  const dir = await tempDir(t);
  await mkdir(path.join(dir, 'directory'));
  const { writeFile } = await import('node:fs/promises');
  await writeFile(
    path.join(dir, 'policy.json'),
    JSON.stringify({ protection: { kdf: { name: 'scrypt', N: 16384, r: 8, p: 1 } } }),
  );
  const open = async (name: string) => {
    const config = path.join(dir, `${name}.json`);
    await writeFile(
      config,
      JSON.stringify({
        user: name,
        home: path.join(dir, name),
        policy: path.join(dir, 'policy.json'),
        directory: { use: 'folder', settings: { url: pathToFileURL(path.join(dir, 'directory')).href } },
      }),
    );
    const session = await openSession(await loadConfig(config, {}), new EventLog({ write: () => undefined }));
    await session.protector.unlock?.({ password: `${name} roaming password` });
    return session;
  };
  const alice = await open('alice');
  t.teardown(() => alice.dispose());
  const bob = await open('bob');
  t.true(alice.protector.unlocked && bob.protector.unlocked);
  await bob.dispose();
  t.true(alice.protector.unlocked, 'alice’s keys stay open when bob’s session ends');
});
