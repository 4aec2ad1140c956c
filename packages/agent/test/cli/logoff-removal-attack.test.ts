import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { opensslP12, twoEndpoints } from '../support.js';

interface ListJson {
  credentials: Array<{ sha256: string; hasKey: boolean }>;
}

test('removeOnLogoff: a directory writer who deleted the credential’s values and left the stamp as it was does not make the logoff remove the last copy', async (t) => {
  const w = await twoEndpoints(t);
  const policy = JSON.parse(await readFile(path.join(w.dir, 'policy.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  await writeFile(
    path.join(w.dir, 'policy.json'),
    JSON.stringify({ ...policy, roaming: { removeOnLogoff: true } }),
  );
  const cred = await opensslP12(w.dir);
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  t.is((await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);
  t.like(JSON.parse((await w.a(['sync', ...w.pw, '--json'])).stdout), { counts: { uploaded: 2 } });
  // The writer: every token value gone, the wrapped keys and the stamp left as they were.
  const file = path.join(w.dir, 'directory', 'alice', 'values');
  const values = JSON.parse(await readFile(file, 'utf8')) as { tokens: string[]; keys: string[] };
  t.is(values.tokens.length, 2);
  await writeFile(file, JSON.stringify({ ...values, tokens: [] }));

  const off = await w.a(['logoff', ...w.pw]);
  t.is(off.code, 0, off.stderr);
  // Whatever the logoff did, the credential is not lost: on A after the next logon, and on B.
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  const onA = JSON.parse((await w.a(['list', '--json'])).stdout) as ListJson;
  t.deepEqual(
    onA.credentials.map((c) => [c.sha256, c.hasKey]),
    [[cred.fingerprint, true]],
  );
  t.is((await w.b(['logon', ...w.pw])).code, 0);
  const onB = JSON.parse((await w.b(['list', '--json'])).stdout) as ListJson;
  t.deepEqual(
    onB.credentials.map((c) => [c.sha256, c.hasKey]),
    [[cred.fingerprint, true]],
  );
});
