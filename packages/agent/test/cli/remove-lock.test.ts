import { access } from 'node:fs/promises';
import path from 'node:path';
import { FileUserLock } from '@credroam/core';
import test from 'ava';
import { opensslP12, twoEndpoints } from '../support.js';

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

test('remove waits for a sync of another process (it holds the user lock): a download or a key sealed again cannot put the credential back after it', async (t) => {
  const w = await twoEndpoints(t);
  const cred = await opensslP12(w.dir);
  const imported = await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw]);
  t.is(imported.code, 0, imported.stderr);
  const certFile = path.join(w.dir, 'a', 'store', 'certs', `${cred.fingerprint}.der`);
  t.true(await exists(certFile));
  let removing: ReturnType<typeof w.a> | undefined;
  await new FileUserLock(path.join(w.dir, 'a', 'state')).run(async () => {
    // As the agent's sync holds it: remove starts, and must not touch the store meanwhile.
    removing = w.a(['remove', cred.fingerprint]);
    await new Promise((r) => setTimeout(r, 2000));
    t.true(await exists(certFile), 'nothing removed while the lock was held');
  });
  const removed = await removing!;
  t.is(removed.code, 0, removed.stderr);
  t.false(await exists(certFile));
});
