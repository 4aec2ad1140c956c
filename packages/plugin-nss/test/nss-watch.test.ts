import type { TriggerEvent } from '@credroam/core';
import { StoreWatcher } from '@credroam/plugin-triggers';
import test from 'ava';
import { certutil, credential, pk12util, setup } from './support.js';

/**
 * The built-in store watcher, pointed at the NSS database (its `path` setting, or the store's
 * `watchPaths()`), sees what a browser does there: an import and a deletion.
 */
test('the store watcher on the database folder fires when a browser imports a credential (pk12util -i) and when it deletes one', async (t) => {
  const { root, store, database } = await setup(t);
  t.deepEqual(store.watchPaths()[0], database);
  await store.list(); // the database exists, as a browser's does
  const fired: TriggerEvent[] = [];
  let wake: (() => void) | undefined;
  const next = () =>
    new Promise<void>((resolve) => {
      wake = resolve;
    });
  const watcher = await new StoreWatcher({ path: store.watchPaths()[0]!, debounceMs: 50 }).start((e) => {
    fired.push(e);
    wake?.();
  });
  t.teardown(() => watcher.dispose());
  const c = await credential(root, 'watched', 'ec', { friendlyName: 'Watched' });
  const r0 = await store.revision();

  let event = next();
  await pk12util(['-i', c.p12, '-d', `sql:${database}`, '-w', c.pass, '-k', '/dev/null']);
  await event;
  t.is(fired.at(-1)?.name, 'storeChanged');
  const r1 = await store.revision();
  t.not(r1, r0);
  t.true((await store.list()).items.some((i) => i.id === c.cert.id));
  t.is(await store.revision(), r1, 'listing (certutil -L, -K, -R; pk12util -o) changes nothing NSS keeps');

  event = next();
  await certutil(['-F', '-d', `sql:${database}`, '-n', 'Watched', '-f', '/dev/null']);
  await event;
  t.not(await store.revision(), r1);
  t.false((await store.list()).items.some((i) => i.id === c.cert.id));
});
