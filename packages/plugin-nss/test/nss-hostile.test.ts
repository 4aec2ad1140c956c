import { chmod, chown, mkdir, readdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EventId, EventLog, type LogRecord } from '@credroam/core';
import { HOSTILE_CERTIFICATES, makeHostileCertificate } from '@credroam/core/testing';
import test from 'ava';
import { NssStore, NssTools, type ToolRun } from '../src/index.js';
import {
  certutil,
  credential,
  newDatabase,
  nicknames,
  pk12util,
  pkcs12Codec,
  setup,
  tempDir,
} from './support.js';

/** What NSS's own listing says: kept to show that nothing was deleted. */
const keysOf = async (database: string) =>
  (await certutil(['-K', '-d', `sql:${database}`, '-f', '/dev/null']).catch(() => ''))
    .split('\n')
    .filter((l) => l.startsWith('<')).length;

test('trust-only entries (CA certificates, with or without trust flags, odd ones too) are not credentials: not listed, never touched', async (t) => {
  const { root, store, database } = await setup(t);
  const ca = await credential(root, 'Some Root CA', 'ec');
  await certutil([
    '-A',
    '-d',
    `sql:${database}`,
    '-n',
    'Some Root CA',
    '-t',
    'CT,C,C',
    '-i',
    path.join(root, 'Some Root CA.pem'),
  ]);
  const planted = ['Some Root CA'];
  for (const kind of HOSTILE_CERTIFICATES) {
    const made = await makeHostileCertificate(root, kind);
    // NSS refuses some of them itself; those it takes are planted.
    const added = await certutil([
      '-A',
      '-d',
      `sql:${database}`,
      '-n',
      `odd ${kind}`,
      '-t',
      ',,',
      '-i',
      made.der,
    ]).then(
      () => true,
      () => false,
    );
    if (added) planted.push(`odd ${kind}`);
  }
  t.true(planted.length >= 2);
  t.deepEqual(await store.list(), { items: [], unreadable: [] }, `not ${ca.cert.id}`);
  const c = await credential(root, 'alice', 'rsa');
  await store.put(c.cert);
  await store.put(c.key);
  await store.list();
  await store.remove('cert', c.cert.id, { keepUntil: Date.now() + 1000 });
  await store.remove('key', c.key.id, { keepUntil: Date.now() + 1000 });
  t.deepEqual((await nicknames(database)).sort(), planted.sort());
  t.regex(await certutil(['-L', '-d', `sql:${database}`]), /Some Root CA\s+CT,C,C/);
});

test('a key without its certificate is reported with its id (told by certutil -R), left alone, and not removed without a copy', async (t) => {
  const { root, store, database } = await setup(t);
  const c = await credential(root, 'orphan', 'ec');
  await pk12util(['-i', c.p12, '-d', `sql:${database}`, '-w', c.pass, '-k', '/dev/null']);
  await certutil(['-D', '-d', `sql:${database}`, '-n', 'orphan']);
  const { items, unreadable } = await store.list();
  t.deepEqual(items, []);
  t.is(unreadable.length, 1);
  t.like(unreadable[0], { kind: 'key', id: c.key.id });
  t.regex(unreadable[0]!.reason, /without its certificate/);
  await t.throwsAsync(store.remove('key', c.key.id, { keepUntil: Date.now() + 1000 }), {
    message: /cannot export a copy/,
  });
  t.is(await keysOf(database), 1, 'the key is still there');
});

test('two certificates with one nickname (one subject, imported twice): both listed with their keys; removing one leaves the other whole', async (t) => {
  const { root, store, database } = await setup(t);
  const a = await credential(root, 'twin-a', 'rsa', { subject: '/CN=twin', friendlyName: 'Twin' });
  const b = await credential(root, 'twin-b', 'ec', { subject: '/CN=twin', friendlyName: 'Twin' });
  for (const c of [a, b])
    await pk12util(['-i', c.p12, '-d', `sql:${database}`, '-w', c.pass, '-k', '/dev/null']);
  t.deepEqual(await nicknames(database), ['Twin', 'Twin']);
  const { items, unreadable } = await store.list();
  t.deepEqual(unreadable, []);
  const ids = (kind: string) =>
    items
      .filter((i) => i.kind === kind)
      .map((i) => i.id)
      .sort();
  t.deepEqual(ids('cert'), [a.cert.id, b.cert.id].sort());
  t.deepEqual(ids('key'), [a.key.id, b.key.id].sort());
  // certutil -D deletes one of the two, not a chosen one: the store puts back the other.
  await store.remove('cert', b.cert.id, { keepUntil: Date.now() + 60_000 });
  await store.remove('key', b.key.id, { keepUntil: Date.now() + 60_000 });
  const after = await store.list();
  t.deepEqual(after.unreadable, []);
  t.deepEqual(
    after.items
      .filter((i) => i.kind !== 'attrs')
      .map((i) => `${i.kind}:${i.id}`)
      .sort(),
    [`cert:${a.cert.id}`, `key:${a.key.id}`].sort(),
  );
  t.deepEqual(await nicknames(database), ['Twin']);
});

test('a nickname with a line break in it: reported, nothing deleted, the other credentials list', async (t) => {
  const { root, store, database } = await setup(t);
  const evil = await credential(root, 'evil', 'ec', { friendlyName: 'evil\nname  u,u,u' });
  const good = await credential(root, 'good', 'ec');
  for (const c of [evil, good])
    await pk12util(['-i', c.p12, '-d', `sql:${database}`, '-w', c.pass, '-k', '/dev/null']);
  const { items, unreadable } = await store.list();
  t.true(items.some((i) => i.kind === 'cert' && i.id === good.cert.id));
  t.true(items.some((i) => i.kind === 'key' && i.id === good.key.id));
  t.false(items.some((i) => i.id === evil.cert.id));
  t.true(unreadable.length > 0, 'the odd entry is reported');
  t.true(
    unreadable.some((u) => u.id === undefined && u.name.includes('evil')),
    'the line certutil prints',
  );
  t.true(
    unreadable.some((u) => u.kind === 'key' && u.id === evil.key.id),
    'its key, by id: left alone',
  );
  t.is(await keysOf(database), 2, 'nothing deleted');
});

test('a database with a password: works with passwordFile; without it, or with a wrong one, a clear error and nothing written', async (t) => {
  const withPw = await setup(t, { password: 'db-secret-42' });
  const c = await credential(withPw.root, 'pw', 'rsa');
  await withPw.store.put(c.cert);
  await withPw.store.put(c.key);
  const { items } = await withPw.store.list();
  t.deepEqual(items.map((i) => i.kind).sort(), ['cert', 'key']);
  const keepUntil = Date.now() + 60_000;
  await withPw.store.remove('key', c.key.id, { keepUntil });
  // The copy kept of a key is encrypted under the database password, as the database holds it.
  const kept = await readFile(path.join(withPw.stateDir, 'removed', `${keepUntil}-key-${c.key.id}.p8`));
  t.false(kept.includes(Buffer.from(c.key.content).subarray(-32)));

  for (const variant of ['none', 'wrong'] as const) {
    const s = await setup(t, { password: 'db-secret-42', givePassword: false });
    let store = s.store;
    if (variant === 'wrong') {
      await writeFile(path.join(s.root, 'wrong.pass'), 'not-it\n', { mode: 0o600 });
      store = new NssStore({
        database: s.database,
        stateDir: s.stateDir,
        pkcs12: pkcs12Codec(),
        passwordFile: path.join(s.root, 'wrong.pass'),
      });
    }
    const x = await credential(s.root, 'x', 'ec');
    await pk12util([
      '-i',
      x.p12,
      '-d',
      `sql:${s.database}`,
      '-w',
      x.pass,
      '-k',
      path.join(s.root, 'db.pass'),
    ]);
    const error = await t.throwsAsync(store.list(), { code: 'E_NSS_PASSWORD' } as never);
    t.regex(
      error!.message,
      variant === 'none' ? /has a password.*passwordFile/ : /wrong\.pass does not open/,
    );
    t.false(error!.message.includes('db-secret-42'));
    const y = await credential(s.root, 'y', 'ec');
    await store.put(y.cert);
    await t.throwsAsync(store.put(y.key), { code: 'E_NSS_PASSWORD' } as never);
    t.is(await keysOf(s.database), 0, 'no key listed without the password; nothing written');
  }
});

test('no password is ever in an argument list: the tools read them from owner-only files, removed after each run', async (t) => {
  const s = await setup(t, { password: 'db-secret-42' });
  const c = await credential(s.root, 'argv', 'rsa');
  await s.store.put(c.cert);
  await s.store.put(c.key);
  // A second process (nothing cached): it exports the key with pk12util -o.
  const fresh = new NssStore({
    database: s.database,
    stateDir: s.stateDir,
    pkcs12: pkcs12Codec(),
    passwordFile: path.join(s.root, 'db.pass'),
    tools: new NssTools({ onSpawn: (r) => s.runs.push(r) }),
  });
  t.is((await fresh.list()).items.length, 2);
  await s.store.remove('cert', c.cert.id, { keepUntil: Date.now() + 60_000 });
  await s.store.remove('key', c.key.id, { keepUntil: Date.now() + 60_000 });
  t.true(s.runs.some((r) => r.tool === 'pk12util' && r.args.includes('-i')));
  t.true(s.runs.some((r) => r.tool === 'pk12util' && r.args.includes('-o')));
  for (const r of s.runs) {
    t.false(
      r.args.some((a) => a.includes('db-secret-42')),
      `${r.tool} ${r.args.join(' ')}`,
    );
    t.false(r.args.includes('-K') && r.tool === 'pk12util');
    t.false(r.args.includes('-W'));
    for (const flag of ['-f', '-k', '-w']) {
      const i = r.args.indexOf(flag);
      if (i < 0 || (r.tool === 'certutil' && flag === '-k')) continue;
      t.true(r.args[i + 1]!.startsWith(`${s.stateDir}/.tmp-`), `${flag} ${r.args[i + 1]}`);
    }
  }
  t.false(
    (await readdir(s.stateDir)).some((n) => n.startsWith('.tmp-')),
    'the password files are gone',
  );
});

test('two put()s at once, from two stores on one database (two processes), both land', async (t) => {
  const s = await setup(t);
  const other = new NssStore({ database: s.database, stateDir: s.stateDir, pkcs12: pkcs12Codec() });
  const a = await credential(s.root, 'concurrent-a', 'ec');
  const b = await credential(s.root, 'concurrent-b', 'rsa');
  await Promise.all([
    (async () => {
      await s.store.put(a.cert);
      await s.store.put(a.key);
    })(),
    (async () => {
      await other.put(b.cert);
      await other.put(b.key);
    })(),
  ]);
  const { items, unreadable } = await s.store.list();
  t.deepEqual(unreadable, []);
  t.deepEqual(
    items.map((i) => `${i.kind}:${i.id}`).sort(),
    [`cert:${a.cert.id}`, `key:${a.key.id}`, `cert:${b.cert.id}`, `key:${b.key.id}`].sort(),
  );
});

test('a link where the database or its files should be is refused (E_NSS_DATABASE), nothing written through it', async (t) => {
  const root = await tempDir(t);
  const real = await newDatabase(root);
  await symlink(real, path.join(root, 'linked'));
  const runs: ToolRun[] = [];
  const tools = new NssTools({ onSpawn: (r) => runs.push(r) });
  const viaLink = new NssStore({
    database: path.join(root, 'linked'),
    stateDir: path.join(root, 's1'),
    pkcs12: pkcs12Codec(),
    tools,
  });
  await t.throwsAsync(viaLink.list(), { code: 'E_NSS_DATABASE', message: /is a link/ } as never);
  const c = await credential(root, 'l', 'ec');
  await t.throwsAsync(viaLink.put(c.cert), { code: 'E_NSS_DATABASE' } as never);
  const inner = path.join(root, 'inner');
  await mkdir(inner);
  const db2 = await newDatabase(inner);
  await rename(path.join(db2, 'cert9.db'), path.join(root, 'cert9.db.elsewhere'));
  await symlink(path.join(root, 'cert9.db.elsewhere'), path.join(db2, 'cert9.db'));
  const fileLink = new NssStore({
    database: db2,
    stateDir: path.join(root, 's2'),
    pkcs12: pkcs12Codec(),
    tools,
  });
  await t.throwsAsync(fileLink.put(c.cert), {
    code: 'E_NSS_DATABASE',
    message: /cert9\.db is not a regular file/,
  } as never);
  t.deepEqual(runs, [], 'no tool ran on either');
});

test('no database where the settings say: an empty one is made (as Chromium makes it); with create: false, a clear error', async (t) => {
  const root = await tempDir(t);
  const database = path.join(root, 'fresh', 'nssdb');
  const store = new NssStore({ database, stateDir: path.join(root, 's'), pkcs12: pkcs12Codec() });
  t.deepEqual(await store.list(), { items: [], unreadable: [] });
  t.true((await readdir(database)).includes('cert9.db'));
  const none = new NssStore({
    database: path.join(root, 'none'),
    stateDir: path.join(root, 's3'),
    pkcs12: pkcs12Codec(),
    create: false,
  });
  await t.throwsAsync(none.list(), { code: 'E_NSS_DATABASE', message: /no NSS database/ } as never);
});

test('transfer files a killed run left behind (a PKCS#12, a password) are removed by the next operation (3001); a removal cut short is finished (3000)', async (t) => {
  const s = await setup(t);
  const events: LogRecord[] = [];
  const logger = new EventLog({ write: () => undefined });
  logger.subscribe((r) => events.push(r));
  const store = new NssStore({ database: s.database, stateDir: s.stateDir, pkcs12: pkcs12Codec(), logger });
  await store.list();
  const left = path.join(s.stateDir, '.tmp-killed');
  await mkdir(left, { mode: 0o700 });
  await writeFile(path.join(left, 'p12'), 'transfer-password', { mode: 0o600 });
  // A run killed between taking out the certificates of one nickname and putting the others back.
  const c = await credential(s.root, 'taken-out', 'ec');
  await writeFile(
    path.join(s.stateDir, 'journal.json'),
    JSON.stringify({
      nickname: 'Taken out',
      certs: [{ der: Buffer.from(c.cert.content).toString('base64'), trust: 'u,u,u' }],
    }),
    { mode: 0o600 },
  );
  await store.list();
  t.false((await readdir(s.stateDir)).includes('.tmp-killed'));
  t.false((await readdir(s.stateDir)).includes('journal.json'));
  t.deepEqual(await nicknames(s.database), ['Taken out']);
  t.true(events.some((e) => e.event === EventId.NssTransferFilesRemoved && e.path === left));
  t.true(events.some((e) => e.event === EventId.NssRemovalFinished));
  t.false(events.some((e) => JSON.stringify(e).includes('transfer-password')));
});

test('a legacy database (cert8.db, no cert9.db) is not hidden behind a new one: a clear error, nothing made', async (t) => {
  const root = await tempDir(t);
  const database = path.join(root, 'old-profile');
  await mkdir(database);
  await writeFile(path.join(database, 'cert8.db'), 'legacy');
  const store = new NssStore({ database, stateDir: path.join(root, 's'), pkcs12: pkcs12Codec() });
  await t.throwsAsync(store.list(), { code: 'E_NSS_DATABASE', message: /legacy NSS database/ } as never);
  t.deepEqual(await readdir(database), ['cert8.db']);
});

test('attack: a database another user owns or can write, or whose key4.db others can read, is refused (E_NSS_DATABASE): no key lands where another user reaches it', async (t) => {
  const root = await tempDir(t);
  const c = await credential(root, 'shared', 'ec');
  const cases: Array<[string, (db: string) => Promise<void>, RegExp]> = [
    ['folder writable by all', (db) => chmod(db, 0o777), /written by other users/],
    ['key4.db readable by all', (db) => chmod(path.join(db, 'key4.db'), 0o644), /read by other users/],
    ['cert9.db writable by group', (db) => chmod(path.join(db, 'cert9.db'), 0o620), /written by other users/],
  ];
  if (process.getuid?.() === 0) {
    cases.push(['folder owned by another user', (db) => chown(db, 65534, 65534), /owned by uid 65534/]);
    cases.push([
      'key4.db owned by another user',
      (db) => chown(path.join(db, 'key4.db'), 65534, 65534),
      /owned by uid 65534/,
    ]);
  }
  for (const [i, [what, spoil, reason]] of cases.entries()) {
    const dir = path.join(root, `case${i}`);
    await mkdir(dir);
    const database = await newDatabase(dir);
    await spoil(database);
    const runs: ToolRun[] = [];
    const store = new NssStore({
      database,
      stateDir: path.join(dir, 'state'),
      pkcs12: pkcs12Codec(),
      tools: new NssTools({ onSpawn: (r) => runs.push(r) }),
    });
    await t.throwsAsync(store.put(c.cert), { code: 'E_NSS_DATABASE', message: reason } as never, what);
    await t.throwsAsync(store.put(c.key), { code: 'E_NSS_DATABASE' } as never, what);
    t.deepEqual(runs, [], `${what}: no tool ran`);
    t.deepEqual(await nicknames(database), [], `${what}: nothing written`);
  }
});
