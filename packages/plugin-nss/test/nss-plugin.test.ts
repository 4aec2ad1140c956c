import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { LocalStore, parseManifest } from '@credroam/core';
import test from 'ava';
import {
  activate,
  cleanNickname,
  defaultDatabase,
  NSS_SETTINGS_SCHEMA,
  NssStore,
  parseSettings,
  stateDirFor,
} from '../src/index.js';
import { pkcs12Codec, tempDir } from './support.js';

test('the manifest is valid: the nss local store, depending on the pkcs12 plugin (its PKCS#12 reader and writer)', async (t) => {
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'));
  const parsed = parseManifest(pkg, 'x');
  t.true(parsed.ok, JSON.stringify(parsed));
  if (!parsed.ok) return;
  t.is(parsed.manifest.id, 'credroam.nss');
  t.deepEqual(parsed.manifest.dependencies, ['credroam.pkcs12']);
  t.deepEqual(
    parsed.manifest.contributes.localStores?.map((c) => c.id),
    ['nss'],
  );
});

test('settings: Chromium’s database by default (~/.local/share/pki/nssdb when it exists, else ~/.pki/nssdb); ~ expanded; unknown keys refused', async (t) => {
  const home = await tempDir(t);
  t.is(defaultDatabase(home), path.join(home, '.pki', 'nssdb'));
  t.is(parseSettings({}, home).database, path.join(home, '.pki', 'nssdb'));
  await mkdir(path.join(home, '.local', 'share', 'pki', 'nssdb'), { recursive: true });
  t.is(parseSettings({}, home).database, path.join(home, '.local', 'share', 'pki', 'nssdb'));
  t.deepEqual(parseSettings({ database: '~/profile', passwordFile: '~/.nsspw' }, home), {
    database: path.join(home, 'profile'),
    passwordFile: path.join(home, '.nsspw'),
    create: true,
  });
  t.throws(() => parseSettings({ database: 3 }, home), { code: 'E_CONFIG', message: /database/ } as never);
  t.throws(() => parseSettings({ password: 'x' }, home), { code: 'E_CONFIG' } as never);
  t.not(stateDirFor(home, '/a'), stateDirFor(home, '/b'));
  t.true(stateDirFor(home, '/a').startsWith(path.join(home, 'nss')));
});

test('activate contributes the nss store, built on the pkcs12 plugin’s API, with its state under the endpoint home', async (t) => {
  const home = await tempDir(t);
  const factories = new Map<symbol, (request: unknown) => unknown>();
  const asked: string[] = [];
  activate({
    dependency: (id: string) => {
      asked.push(id);
      return pkcs12Codec();
    },
    contribute: (point: symbol, id: string, factory: (request: unknown) => unknown) => {
      t.is(id, 'nss');
      factories.set(point, factory);
      return { dispose: () => undefined };
    },
    logger: undefined,
  } as never);
  t.deepEqual(asked, ['credroam.pkcs12']);
  const store = factories.get(LocalStore)!({
    user: 'alice',
    settings: { database: path.join(home, 'db') },
    home,
    policy: {},
  }) as NssStore;
  t.true(store instanceof NssStore);
  t.is(store.database, path.join(home, 'db'));
  t.is(store.stateDir, stateDirFor(home, path.join(home, 'db')));
  t.deepEqual(await store.list(), { items: [], unreadable: [] });
});

test('nicknames: no ":" (a token separator), no control or format characters, spaces collapsed, bounded', (t) => {
  t.is(cleanNickname('Token: VPN'), 'Token_ VPN');
  t.is(cleanNickname('a\u0000b\u200ec\nd'), 'abcd');
  t.is(cleanNickname('  x   y  '), 'x y');
  t.is([...cleanNickname('é'.repeat(100))].length, 64);
  t.is(cleanNickname('\u0007'), 'credroam');
});

test("the manifest declares the nss store's settings schema, the one parseSettings checks", async (t) => {
  const manifest = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'));
  t.deepEqual(
    manifest.credroam.contributes.localStores[0].configuration,
    JSON.parse(JSON.stringify(NSS_SETTINGS_SCHEMA)),
  );
});
