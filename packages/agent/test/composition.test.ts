import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkInjection, EventLog } from '@credroam/core';
import test from 'ava';
import { loadConfig } from '../src/config.js';
import { INJECTED_CLASSES, openSession } from '../src/session.js';
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
