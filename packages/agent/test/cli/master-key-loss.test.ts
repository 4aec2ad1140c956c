import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { openssl, opensslP12, twoEndpoints } from '../support.js';

interface ListJson {
  credentials: Array<{ sha256: string; hasKey: boolean; key: string; keyProblem?: string }>;
}

/** The folder directory's file of alice's values, as a writer without her keys would edit it. */
async function editDirectory(dir: string, edit: (values: { tokens: string[]; keys: string[] }) => void) {
  const file = path.join(dir, 'directory', 'alice', 'values');
  const values = JSON.parse(await readFile(file, 'utf8')) as { tokens: string[]; keys: string[] };
  edit(values);
  await writeFile(file, JSON.stringify(values));
  await writeFile(
    path.join(dir, 'directory', 'alice', 'stamp'),
    JSON.stringify([randomBytes(16).toString('base64')]),
  );
}

for (const [name, edit] of [
  ['deleted', (v: { keys: string[] }) => v.keys.splice(0)],
  [
    'garbled',
    (v: { keys: string[] }) => v.keys.splice(0, v.keys.length, randomBytes(300).toString('base64')),
  ],
] as const) {
  test(`wrapped master keys ${name} in the directory: no endpoint loses a private key; the key is put back`, async (t) => {
    const w = await twoEndpoints(t);
    const cred = await opensslP12(w.dir);
    t.is((await w.a(['logon', ...w.pw])).code, 0);
    t.is((await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);
    t.is((await w.a(['sync', ...w.pw])).code, 0);
    t.is((await w.b(['logon', ...w.pw])).code, 0);
    const keysBefore = JSON.parse(
      await readFile(path.join(w.dir, 'directory', 'alice', 'values'), 'utf8'),
    ).keys;

    await editDirectory(w.dir, edit);

    for (const e of [w.b, w.a]) {
      const sync = await e(['logon', ...w.pw, '--json']);
      t.is(sync.code, 0, sync.stderr);
      // The first endpoint to log on puts its copy back, and says so in an event of its own.
      if (e === w.b) t.regex(sync.stderr, /"event":1020/);
      else t.notRegex(sync.stderr, /"event":1020/);
      const list = JSON.parse((await e(['list', ...w.pw, '--json'])).stdout) as ListJson;
      t.like(list.credentials[0], { sha256: cred.fingerprint, hasKey: true, key: 'opens' });
      const out = `out-${randomBytes(3).toString('hex')}.p12`;
      const exported = await e([
        'export',
        cred.fingerprint,
        '--out',
        out,
        '--passout',
        'file:p12pw',
        ...w.pw,
      ]);
      t.is(exported.code, 0, exported.stderr);
      t.regex(
        await openssl(['pkcs12', '-in', out, '-passin', 'file:p12pw', '-nocerts', '-nodes'], w.dir),
        /BEGIN PRIVATE KEY/,
      );
    }
    const keysAfter = (
      JSON.parse(await readFile(path.join(w.dir, 'directory', 'alice', 'values'), 'utf8')).keys as string[]
    ).filter((k) => keysBefore.includes(k));
    t.is(keysAfter.length, 1, 'the very wrapped key that was lost is back, and no other was made');
  });
}

test('a private key that cannot be opened: list says so (exit 3) and export refuses (exit 1), writing nothing', async (t) => {
  const w = await twoEndpoints(t);
  const cred = await opensslP12(w.dir);
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  t.is((await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);
  const keys = path.join(w.dir, 'a', 'store', 'keys');
  const [file] = await readdir(keys);
  await writeFile(path.join(keys, file!), randomBytes(200), { mode: 0o600 });
  const list = await w.a(['list', ...w.pw, '--json']);
  t.is(list.code, 3, list.stderr);
  t.like((JSON.parse(list.stdout) as ListJson).credentials[0], { hasKey: true, key: 'unreadable' });
  const exported = await w.a([
    'export',
    cred.fingerprint,
    '--out',
    'x.p12',
    '--passout',
    'file:p12pw',
    ...w.pw,
  ]);
  t.is(exported.code, 1);
  t.regex(exported.stderr, /E_KEY_UNREADABLE|cannot be opened/);
  t.false((await readdir(w.dir)).includes('x.p12'));
});
