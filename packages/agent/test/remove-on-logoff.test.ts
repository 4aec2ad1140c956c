import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EventLog } from '@credroam/core';
import test, { type ExecutionContext } from 'ava';
import { loadConfig } from '../src/config.js';
import { openSession, removeSafelyRoamed, syncStatePath } from '../src/session.js';
import { opensslP12, twoEndpoints } from './support.js';

interface ListJson {
  readonly credentials: readonly { readonly sha256: string }[];
}

/**
 * Endpoint A with one credential roamed (logon, import, sync); `session` opens A's session (closed
 * at teardown), `listed` gives the certificates A lists.
 */
async function roamedOnA(t: ExecutionContext) {
  const w = await twoEndpoints(t, {});
  const roamed = await opensslP12(w.dir, 'roamed');
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  t.is((await w.a(['import', roamed.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);
  t.is((await w.a(['sync', ...w.pw])).code, 0);
  const config = await loadConfig(path.join(w.dir, 'a.json'), {});
  const session = async () => {
    const s = await openSession(config, new EventLog({ write: () => undefined }));
    t.teardown(() => s.dispose());
    return s;
  };
  const listed = async () =>
    (JSON.parse((await w.a(['list', '--json'])).stdout) as ListJson).credentials.map((c) => c.sha256);
  return { w, roamed, config, session, listed };
}

test('removeOnLogoff removes nothing while the sync state holds a write in doubt: the base may not be what the directory holds', async (t) => {
  const { roamed, config, session, listed } = await roamedOnA(t);
  const stateFile = syncStatePath(config);
  const saved = JSON.parse(await readFile(stateFile, 'utf8')) as { base: Record<string, unknown> };
  // A sync that died after its directory write leaves what it wrote as `pending`.
  await writeFile(stateFile, JSON.stringify({ ...saved, pending: saved.base }));

  const s = await session();
  t.is(await removeSafelyRoamed(s, { skipped: [] }), 0);
  t.deepEqual(await listed(), [roamed.fingerprint]);
  // The same state without the write in doubt: the roamed credential goes.
  await writeFile(stateFile, JSON.stringify(saved));
  t.true((await removeSafelyRoamed(s, { skipped: [] })) > 0);
});

test('removeOnLogoff removes nothing the directory no longer holds, even where the final sync saw it there (a writer deleted it in between)', async (t) => {
  const { w, roamed, session, listed } = await roamedOnA(t);
  // The writer, after the final sync: every token value gone, the stamp left as it was.
  const file = path.join(w.dir, 'directory', 'alice', 'values');
  const values = JSON.parse(await readFile(file, 'utf8')) as { tokens: string[] };
  await writeFile(file, JSON.stringify({ ...values, tokens: [] }));

  const s = await session();
  t.is(await removeSafelyRoamed(s, { skipped: [] }), 0);
  t.deepEqual(await listed(), [roamed.fingerprint]);
  // Its values back (as the next sync would put them): the roamed credential goes.
  await writeFile(file, JSON.stringify(values));
  t.true((await removeSafelyRoamed(s, { skipped: [] })) > 0);
});
