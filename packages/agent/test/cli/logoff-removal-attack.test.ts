import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { opensslP12, setRoamingPolicy, twoEndpoints } from '../support.js';

interface ListJson {
  credentials: Array<{ sha256: string; hasKey: boolean }>;
}

test('removeOnLogoff: a directory writer who deleted the credential’s values and left the stamp as it was does not make the logoff remove the last copy', async (t) => {
  const w = await twoEndpoints(t);
  await setRoamingPolicy(w.dir, { removeOnLogoff: true });
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

test('removeOnLogoff: a writer who deletes a credential’s value and floods the directory past twice maxTokens, its own copy unread last, does not make the logoff remove the last copy', async (t) => {
  const w = await twoEndpoints(t);
  // maxTokens 2: at most 4 values are read.
  await setRoamingPolicy(w.dir, { removeOnLogoff: true, maxTokens: 2 });
  const cred = await opensslP12(w.dir);
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  t.is((await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);
  t.like(JSON.parse((await w.a(['sync', ...w.pw, '--json'])).stdout), { counts: { uploaded: 2 } });
  const file = path.join(w.dir, 'directory', 'alice', 'values');
  const values = JSON.parse(await readFile(file, 'utf8')) as { tokens: string[] };
  t.is(values.tokens.length, 2);
  const { decodeHeader } = await import('@credroam/core/engine');
  const kindOf = (v: string) => {
    const d = decodeHeader(Buffer.from(v, 'base64'), 1 << 20);
    return d.ok ? d.header.kind : undefined;
  };
  const cert = values.tokens.find((v) => kindOf(v) === 'cert')!;
  const key = values.tokens.find((v) => kindOf(v) === 'key')!;
  // Copies whose header names the user's own tokens, their sealed part altered (no key needed).
  const altered = (v: string, i: number) => {
    const bytes = Buffer.from(v, 'base64');
    bytes[bytes.length - 1 - i] = bytes[bytes.length - 1 - i]! ^ 0xff;
    return bytes.toString('base64');
  };
  // The certificate's value deleted; three altered key values, then an altered certificate value,
  // which is past the 4 read: the certificate is left as it is by the sync, its base untouched.
  await writeFile(
    file,
    JSON.stringify({
      ...values,
      tokens: [key, altered(key, 0), altered(key, 1), altered(key, 2), altered(cert, 0)],
    }),
  );

  await w.a(['logoff', ...w.pw]);
  // Whatever the logoff did, the credential is not lost: on A after the next logon.
  await writeFile(file, JSON.stringify({ ...values, tokens: [key] }));
  await w.a(['logon', ...w.pw]);
  const onA = JSON.parse((await w.a(['list', '--json'])).stdout) as ListJson;
  t.deepEqual(
    onA.credentials.map((c) => [c.sha256, c.hasKey]),
    [[cred.fingerprint, true]],
  );
});
