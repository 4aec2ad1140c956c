import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ADMIN_DN, ADMIN_PASSWORD, type Slapd, startProviders, userDn } from '@credroam/plugin-ldap/testing';
import test from 'ava';
import { credroam, opensslP12, runProgram, tempDir } from '../support.js';

// Decision 028, on a real slapd and a real agent: a store change after the agent's own sync reads
// the stamp, not every value; a value a writer removed behind the stamp's back costs nothing.

let server: Slapd;
let stop: () => Promise<void>;
const UID = 'ivan';

test.before(async () => {
  const started = await startProviders(1, { users: [UID] });
  server = started.servers[0]!;
  stop = started.stop;
});
test.after.always(async () => {
  await stop?.();
});

async function endpoints(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t);
  await writeFile(path.join(dir, 'pw'), `${UID} password\n`);
  await writeFile(path.join(dir, 'p12pw'), 'p12 secret');
  await writeFile(
    path.join(dir, 'policy.json'),
    JSON.stringify({
      protection: { kdf: { name: 'scrypt', N: 16384, r: 8, p: 1 } },
      directory: { trustWithPassword: true },
    }),
  );
  for (const e of ['a', 'b']) {
    const r = await credroam([
      ...['init', '--config', path.join(dir, `${e}.json`), '--directory', server.ldapsUrl],
      ...['--ca-file', server.tls.ca, '--user-dn', userDn(UID), '--bind', 'simple'],
      ...['--home', path.join(dir, e), '--user', UID, '--policy', path.join(dir, 'policy.json')],
    ]);
    if (r.code !== 0) throw new Error(r.stderr);
  }
  const on = (e: 'a' | 'b') => (args: readonly string[]) =>
    credroam(['--config', path.join(dir, `${e}.json`), ...args], { cwd: dir });
  return { dir, a: on('a'), b: on('b'), pw: ['--password-file', path.join(dir, 'pw')] as const };
}

/** What slapd logged since `from` (a length of its log), split in lines. */
async function logSince(from: number): Promise<string[]> {
  return (await readFile(server.log, 'utf8')).slice(from).split('\n');
}
const logLength = async () => (await readFile(server.log, 'utf8')).length;
const modifies = (lines: readonly string[]) => lines.filter((l) => l.includes(`MOD dn="${userDn(UID)}"`));

/** Polls until `check` holds (at most 20 s). */
async function until(check: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** The certificates an endpoint lists. */
async function listed(run: (args: readonly string[]) => ReturnType<typeof credroam>): Promise<string[]> {
  const r = await run(['list', '--json']);
  return (JSON.parse(r.stdout) as { credentials: Array<{ sha256: string }> }).credentials.map(
    (c) => c.sha256,
  );
}

test("an agent's store change after its own sync reads only the stamp; a value removed behind the stamp makes the removal that needs it conflict, read in full, and land, with nothing else lost", async (t) => {
  const w = await endpoints(t);
  t.is((await w.a(['logon', '--start-agent', ...w.pw])).code, 0);
  const first = await opensslP12(w.dir, 'first');
  const second = await opensslP12(w.dir, 'second');

  // The agent uploads the first credential (its memory then holds what it wrote).
  let from = await logLength();
  t.is((await w.a(['import', first.file, '--passin', 'file:p12pw'])).code, 0);
  t.true(await until(async () => modifies(await logSince(from)).length > 0), 'the agent wrote');
  await new Promise((r) => setTimeout(r, 1500)); // any settling sync of the agent's is done

  // The second: the agent's searches read the stamp only, and its write lands.
  from = await logLength();
  t.is((await w.a(['import', second.file, '--passin', 'file:p12pw'])).code, 0);
  t.true(await until(async () => modifies(await logSince(from)).length > 0), 'the agent wrote');
  await new Promise((r) => setTimeout(r, 1500));
  const attrs = (await logSince(from)).filter((l) => / SRCH attr=/.test(l));
  t.true(attrs.length > 0, 'the agent searched');
  t.deepEqual(
    attrs.filter((l) => l.includes('credroamToken')),
    [],
    'no search of every value',
  );
  t.is((await w.b(['sync', ...w.pw])).code, 0);
  t.deepEqual((await listed(w.b)).sort(), [first.fingerprint, second.fingerprint].sort());

  // A writer with write access to the entry (the directory's administrator, with OpenLDAP's own
  // tools) removes the first certificate's value, leaving the stamp as it was.
  const tools = path.join(w.dir, 'tools');
  await mkdir(tools);
  await writeFile(path.join(tools, 'pw'), ADMIN_PASSWORD, { mode: 0o600 });
  const ldap = (tool: string, args: readonly string[]) =>
    runProgram(tool, ['-H', server.ldapsUrl, '-x', '-D', ADMIN_DN, '-y', path.join(tools, 'pw'), ...args], {
      env: { LDAPTLS_CACERT: server.tls.ca },
    });
  const dump = await ldap('ldapsearch', [
    '-tt',
    '-T',
    tools,
    '-b',
    userDn(UID),
    '-s',
    'base',
    'credroamToken',
  ]);
  t.is(dump.code, 0, dump.stderr);
  let value: string | undefined;
  for (const name of await readdir(tools)) {
    const bytes = await readFile(path.join(tools, name));
    if (name.startsWith('ldapsearch-') && bytes.subarray(14, 46).toString('hex') === first.fingerprint)
      value = path.join(tools, name);
  }
  t.truthy(value, "the first certificate's value is on the entry");
  await writeFile(
    path.join(tools, 'remove.ldif'),
    `dn: ${userDn(UID)}\nchangetype: modify\ndelete: credroamToken\ncredroamToken:< file://${value}\n-\n`,
  );
  const modified = await ldap('ldapmodify', ['-f', path.join(tools, 'remove.ldif')]);
  t.is(modified.code, 0, modified.stderr);

  // a removes the first credential: its tombstone replaces a value the agent remembers and the
  // entry lacks. The write conflicts, the agent reads in full, and the tombstone lands.
  from = await logLength();
  const removed = await w.a(['remove', first.fingerprint]);
  t.is(removed.code, 0, removed.stderr);
  // slapd refused the modify planned against the memory (noSuchAttribute, 16), then the agent read
  // every value and its next modify landed: waited for as a whole (the retry may come late on a
  // busy machine), then each step checked in order.
  // In operation order (slapd's threads may log an operation's result after the next one starts).
  const op = (l: string) => Number(/ op=(\d+) /.exec(l)?.[1] ?? -1);
  const steps = (after: readonly string[]) => {
    const refused = op(after.find((l) => /RESULT tag=103 err=16 /.test(l)) ?? '');
    const fullRead = op(
      after.find((l) => refused >= 0 && op(l) > refused && / SRCH attr=.*credroamToken/.test(l)) ?? '',
    );
    const landed = op(
      after.find((l) => fullRead >= 0 && op(l) > fullRead && /RESULT tag=103 err=0 /.test(l)) ?? '',
    );
    return { refused, fullRead, landed };
  };
  await until(async () => steps(await logSince(from)).landed >= 0);
  const after = await logSince(from);
  const { refused, fullRead, landed } = steps(after);
  const seen = after.filter((l) => / SRCH attr=|RESULT tag=10[13] |MOD dn=/.test(l)).join('\n');
  t.true(refused >= 0, `the remembered write conflicted:\n${seen}`);
  t.true(fullRead > refused, `then the agent read in full:\n${seen}`);
  t.true(landed > fullRead, `and its write landed:\n${seen}`);
  t.is((await w.b(['sync', ...w.pw])).code, 0);
  t.deepEqual(await listed(w.b), [second.fingerprint], 'b removed the first, kept the second');
  t.deepEqual(await listed(w.a), [second.fingerprint]);
});
