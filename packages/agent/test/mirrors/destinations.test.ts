import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { encodeCredentialAttributes } from '@credroam/core';
import test, { type ExecutionContext } from 'ava';
import { destinationId, resolveMirrors } from '../../src/mirrors/destinations.js';
import { readableName } from '../../src/mirrors/file-folder.js';
import { discoverProfiles, parseIni } from '../../src/mirrors/profiles.js';

async function home(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'credroam-destinations-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('profiles.ini: each [Profile*] Path, relative to the ini when IsRelative=1, absolute when 0; installs.ini’s Default; missing folders skipped; each folder once', async (t) => {
  const h = await home(t);
  const root = path.join(h, '.mozilla', 'firefox');
  await mkdir(path.join(root, 'a.default-esr'), { recursive: true });
  await mkdir(path.join(root, 'b.other'), { recursive: true });
  await mkdir(path.join(h, 'abs-profile'), { recursive: true });
  await writeFile(
    path.join(root, 'profiles.ini'),
    [
      '[General]',
      'StartWithLastProfile=1',
      '[Profile0]',
      'Name=default-esr',
      'IsRelative=1',
      'Path=a.default-esr',
      '[Profile1]',
      'Name=absolute',
      'IsRelative=0',
      `Path=${path.join(h, 'abs-profile')}`,
      '[Profile2]',
      'Name=gone',
      'IsRelative=1',
      'Path=never.made',
      '[Install4F96D1932A9F858E]',
      'Default=a.default-esr',
    ].join('\r\n'),
  );
  await writeFile(path.join(root, 'installs.ini'), '[ABCDEF]\nDefault=b.other\nLocked=1\n');
  t.deepEqual(
    discoverProfiles(h, 'firefox').map((p) => [p.name, p.folder]),
    [
      ['default-esr', path.join(root, 'a.default-esr')],
      ['absolute', path.join(h, 'abs-profile')],
      ['b.other', path.join(root, 'b.other')],
    ],
  );
  t.deepEqual(discoverProfiles(h, 'thunderbird'), [], 'no ~/.thunderbird: none');
  await mkdir(path.join(h, '.thunderbird', 'm1.default-release'), { recursive: true });
  await writeFile(
    path.join(h, '.thunderbird', 'profiles.ini'),
    '[Profile0]\nName=default-release\nIsRelative=1\nPath=m1.default-release\nDefault=1\n',
  );
  t.deepEqual(discoverProfiles(h, 'thunderbird'), [
    {
      app: 'thunderbird',
      name: 'default-release',
      folder: path.join(h, '.thunderbird', 'm1.default-release'),
    },
  ]);
  t.deepEqual(resolveMirrors([{ use: 'thunderbird', settings: {} }], { home: h }).map(destinationId), [
    `nss:${path.join(h, '.thunderbird', 'm1.default-release')}`,
  ]);
});

test('an INI parser that keeps sections and keys, and ignores comments and stray lines', (t) => {
  const ini = parseIni('; comment\nstray=1\n[A]\nk = v=w\n# c\n[B]\n');
  t.deepEqual([...ini.keys()], ['A', 'B']);
  t.is(ini.get('A')?.get('k'), 'v=w');
});

test('Chromium’s database: ~/.local/share/pki/nssdb when it exists, else ~/.pki/nssdb; the primary’s own database is no mirror; each destination once', async (t) => {
  const h = await home(t);
  const mirrors = [
    { use: 'chromium', settings: {} },
    { use: 'nss', settings: { database: '~/.pki/nssdb' } },
    { use: 'pem-folder', settings: { path: '~/certs' } },
  ];
  t.deepEqual(resolveMirrors(mirrors, { home: h }).map(destinationId), [
    `nss:${path.join(h, '.pki', 'nssdb')}`,
    `files:${path.join(h, 'certs')}`,
  ]);
  await mkdir(path.join(h, '.local', 'share', 'pki', 'nssdb'), { recursive: true });
  t.deepEqual(
    resolveMirrors(mirrors, { home: h, primaryDatabase: path.join(h, '.pki', 'nssdb') }).map(destinationId),
    [`nss:${path.join(h, '.local', 'share', 'pki', 'nssdb')}`, `files:${path.join(h, 'certs')}`],
  );
});

test('a file name’s readable part keeps letters, digits, dot, dash and underscore of the friendly name', (t) => {
  const attrs = (friendlyName: string) =>
    encodeCredentialAttributes({ cert: '0'.repeat(64), friendlyName, chain: [] });
  t.is(readableName(new Uint8Array(), attrs('Roaming VPN (work)')), 'Roaming-VPN-work');
  t.is(readableName(new Uint8Array(), attrs('../../etc/passwd')), 'etc-passwd');
  t.is(readableName(new Uint8Array(), attrs('Ümlaut café')), 'Umlaut-cafe');
  t.is(readableName(new Uint8Array(), attrs('///')), 'credential');
});

test('attack: a profiles.ini that is a FIFO (or a huge file) does not hang or swamp the agent; the installs.ini beside it is still read', async (t) => {
  const h = await home(t);
  const root = path.join(h, '.mozilla', 'firefox');
  await mkdir(path.join(root, 'kept.default'), { recursive: true });
  execFileSync('mkfifo', [path.join(root, 'profiles.ini')]);
  await writeFile(path.join(root, 'installs.ini'), '[ABC]\nDefault=kept.default\n');
  const th = path.join(h, '.thunderbird');
  await mkdir(path.join(th, 'big.default'), { recursive: true });
  await writeFile(
    path.join(th, 'profiles.ini'),
    `[Profile0]\nPath=big.default\n${'; padding\n'.repeat(300_000)}`,
  );
  const module = new URL('../../src/mirrors/profiles.js', import.meta.url).href;
  const run = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { discoverProfiles } = await import(${JSON.stringify(module)});
       const h = ${JSON.stringify(h)};
       console.log(JSON.stringify([discoverProfiles(h, 'firefox'), discoverProfiles(h, 'thunderbird')]));`,
    ],
    { timeout: 10_000, encoding: 'utf8', killSignal: 'SIGKILL' },
  );
  t.is(run.signal, null, 'discovery finished (a FIFO read would block it for ever)');
  const [firefox, thunderbird] = JSON.parse(run.stdout) as Array<Array<{ folder: string }>>;
  t.deepEqual(
    firefox!.map((p) => p.folder),
    [path.join(root, 'kept.default')],
  );
  t.deepEqual(thunderbird, [], 'a profiles.ini over the bound is not read');
});
