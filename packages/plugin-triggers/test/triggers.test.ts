import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { PolicyRefresh, SessionEvents, StoreWatcher, sessionPathFor } from '../src/index.js';
import { collector, dbusSend, privateBus, tempDir } from './support.js';

test('a change in the store fires storeChanged; a burst coalesces into one event', async (t) => {
  const dir = await tempDir(t);
  await mkdir(path.join(dir, 'certs'));
  const c = collector();
  const stop = await new StoreWatcher({ path: dir, debounceMs: 400 }).start(c.fire);
  t.teardown(() => stop.dispose());
  await writeFile(path.join(dir, 'certs', 'a.der'), 'x');
  await c.until(1);
  t.deepEqual(c.events, ['storeChanged']);
  await Promise.all(
    Array.from({ length: 20 }, (_, i) => writeFile(path.join(dir, 'certs', `burst-${i}.der`), 'y')),
  );
  await c.until(2);
  await new Promise((r) => setTimeout(r, 800));
  t.deepEqual(c.events, ['storeChanged', 'storeChanged'], 'twenty files, one event');
});

test('temporary dot-files (atomic writes in progress) do not fire', async (t) => {
  const dir = await tempDir(t);
  const c = collector();
  const stop = await new StoreWatcher({ path: dir, debounceMs: 50 }).start(c.fire);
  t.teardown(() => stop.dispose());
  await writeFile(path.join(dir, '.x.tmp'), 'tmp');
  await new Promise((r) => setTimeout(r, 400));
  t.deepEqual(c.events, []);
});

test('a mode made owner-only (the store repairing a copied file) does not fire; unreadable and readable again, a rewrite, a rename and a removal do', async (t) => {
  const dir = await tempDir(t);
  await mkdir(path.join(dir, 'certs'));
  const c = collector();
  const stop = await new StoreWatcher({ path: dir, debounceMs: 50 }).start(c.fire);
  t.teardown(() => stop.dispose());
  const file = path.join(dir, 'certs', 'copied.der');
  await writeFile(file, 'x', { mode: 0o644 });
  await c.until(1);
  await chmod(file, 0o600);
  await chmod(path.join(dir, 'certs'), 0o700);
  await new Promise((r) => setTimeout(r, 300));
  t.is(c.events.length, 1, 'attributes only: nothing the store holds changed');
  await chmod(file, 0o000);
  await c.until(2, 5000);
  await chmod(file, 0o600);
  await c.until(3, 5000);
  t.is(c.events.length, 3, 'unreadable, then readable again: each a change of what the store can read');
  await writeFile(file, 'xy');
  await c.until(4);
  await writeFile(path.join(dir, 'certs', '.tmp'), 'z');
  await rename(path.join(dir, 'certs', '.tmp'), file); // an atomic write: same size, new inode
  await c.until(5);
  await rm(file);
  await c.until(6);
  t.is(c.events.length, 6);
});

test('a folder made after the start is watched: the store itself, and a subfolder of it', async (t) => {
  const home = await tempDir(t);
  const store = path.join(home, 'store');
  const c = collector();
  const stop = await new StoreWatcher({ path: store, debounceMs: 50 }).start(c.fire);
  t.teardown(() => stop.dispose());
  await mkdir(store);
  await c.until(1);
  await mkdir(path.join(store, 'certs'));
  await c.until(2);
  await new Promise((r) => setTimeout(r, 100));
  await writeFile(path.join(store, 'certs', 'a.der'), 'x');
  await c.until(3);
  // Removed and made again: the new folder is watched.
  await rm(path.join(store, 'certs'), { recursive: true });
  await c.until(4);
  await mkdir(path.join(store, 'certs'));
  await c.until(5);
  await new Promise((r) => setTimeout(r, 100));
  await writeFile(path.join(store, 'certs', 'b.der'), 'x');
  await c.until(6);
  t.pass();
});

test('logind signals sent by dbus-send on a private bus become lock, unlock, logon, logoff and resume', async (t) => {
  const dir = await tempDir(t);
  const address = await privateBus(t, dir);
  const mine = sessionPathFor('3');
  t.is(mine, '/org/freedesktop/login1/session/_33');
  const c = collector();
  const stop = await new SessionEvents({ busAddress: address, sessionPath: mine }).start(c.fire);
  t.teardown(() => stop.dispose());
  await dbusSend(address, mine, 'org.freedesktop.login1.Session.Lock');
  await dbusSend(address, '/org/freedesktop/login1/session/_37', 'org.freedesktop.login1.Session.Lock'); // another session
  await dbusSend(address, mine, 'org.freedesktop.login1.Session.Unlock');
  await dbusSend(
    address,
    '/org/freedesktop/login1',
    'org.freedesktop.login1.Manager.SessionNew',
    'string:3',
    `objpath:${mine}`,
  );
  await dbusSend(
    address,
    '/org/freedesktop/login1',
    'org.freedesktop.login1.Manager.PrepareForSleep',
    'boolean:true',
  );
  await dbusSend(
    address,
    '/org/freedesktop/login1',
    'org.freedesktop.login1.Manager.PrepareForSleep',
    'boolean:false',
  );
  await dbusSend(
    address,
    '/org/freedesktop/login1',
    'org.freedesktop.login1.Manager.SessionRemoved',
    'string:3',
    `objpath:${mine}`,
  );
  await c.until(5);
  t.deepEqual(c.events, ['lock', 'unlock', 'logon', 'resume', 'logoff']);
});

test('the policy refresh fires every interval plus a random 0..N minutes', async (t) => {
  t.is(
    new PolicyRefresh({ intervalMinutes: 90, randomMinutes: 30, random: () => 0 }).nextDelay(),
    90 * 60_000,
  );
  t.is(
    new PolicyRefresh({ intervalMinutes: 90, randomMinutes: 30, random: () => 0.999_999 }).nextDelay(),
    Math.round(119.99997 * 60_000),
  );
  const c = collector();
  const stop = await new PolicyRefresh({ intervalMinutes: 0.001, randomMinutes: 0.0005 }).start(c.fire);
  t.teardown(() => stop.dispose());
  await c.until(2);
  t.deepEqual(c.events.slice(0, 2), ['policyRefresh', 'policyRefresh']);
});

test('the policy refresh reads its interval at each scheduling: a refreshed policy changes the next one', (t) => {
  const policy = { refreshIntervalMinutes: 90, refreshRandomMinutes: 30 };
  const trigger = new PolicyRefresh({
    get intervalMinutes() {
      return policy.refreshIntervalMinutes;
    },
    get randomMinutes() {
      return policy.refreshRandomMinutes;
    },
    random: () => 0.5,
  });
  t.is(trigger.nextDelay(), 105 * 60_000);
  policy.refreshIntervalMinutes = 15;
  policy.refreshRandomMinutes = 0;
  t.is(trigger.nextDelay(), 15 * 60_000);
});
