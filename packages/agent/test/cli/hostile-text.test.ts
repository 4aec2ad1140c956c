import { cp, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ldapResult, makeTls, responseTo, startFakeDirectory, userDn } from '@credroam/plugin-ldap/testing';
import test, { type ExecutionContext } from 'ava';
import { credroam, tempDir, twoEndpoints } from '../support.js';

// Text an attacker chooses, shown to the user: no terminal escape, no bidi reordering, no forged line.

/** A control, line-separator or bidi-control character: what a terminal or a log viewer acts on. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const UNPRINTABLE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

test('files another program put in the store, named with terminal escapes, line breaks and bidi controls: list, status and sync name each on its own line, printable', async (t) => {
  const w = await twoEndpoints(t);
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  const store = path.join(w.dir, 'a', 'store');
  await mkdir(path.join(store, 'certs'), { recursive: true });
  await mkdir(path.join(store, 'keys'), { recursive: true });
  // Clear the screen, then a fake line; set the terminal's title; reverse what follows.
  await writeFile(path.join(store, 'certs', 'x\u001b[2J\nOK all fine\u202eevil\u009b31m'), 'junk');
  await writeFile(path.join(store, 'keys', 'k\u001b]0;title\u0007\r\u2028OK'), 'junk');

  const list = await w.a(['list', ...w.pw]);
  const status = await w.a(['status']);
  const sync = await w.a(['sync', ...w.pw]);
  for (const [name, r] of [
    ['list', list],
    ['status', status],
    ['sync', sync],
  ] as const) {
    t.is(r.code, 3, `${name}: ${r.stderr}`);
    t.notRegex(r.stdout, UNPRINTABLE, name);
    t.false(/^OK/m.test(r.stdout), `${name}: no line of its own for text inside a name\n${r.stdout}`);
  }
  t.is(list.stdout.split('\n').filter((l) => l.startsWith('unreadable ')).length, 2, list.stdout);
  t.is(sync.stdout.split('\n').filter((l) => l.includes('skipped local item')).length, 2, sync.stdout);
  const json = JSON.parse((await w.a(['list', '--json', ...w.pw])).stdout) as {
    unreadable: Array<{ name: string; reason: string }>;
  };
  t.is(json.unreadable.length, 2);
  for (const u of json.unreadable) t.notRegex(`${u.name}: ${u.reason}`, UNPRINTABLE);
  // What the event log holds of them: printable too (each a JSON line of its own, as it was).
  for (const line of sync.stderr.trim().split('\n')) {
    const record = JSON.parse(line) as { event: number; message: string; reason?: string };
    if (record.event === 1018) t.notRegex(`${record.message} ${record.reason}`, UNPRINTABLE);
  }
});

/**
 * A directory server that answers every LDAP request over TLS (a certificate the endpoint trusts)
 * with result code 80 (other) and `diagnostic` as its diagnosticMessage: whoever runs the server
 * chooses that text.
 */
async function hostileLdapServer(t: ExecutionContext, dir: string, diagnostic: string) {
  const files = await makeTls(path.join(dir, 'tls'));
  const { url, stop } = await startFakeDirectory(files, (request, socket) => {
    socket.write(ldapResult(request.id, responseTo(request.op), 80, diagnostic));
  });
  t.teardown(stop);
  return { url, ca: files.ca };
}

test('a directory server whose diagnostic message holds terminal escapes, line breaks, bidi controls and 60 000 characters: sync, status and doctor print it printable and bounded', async (t) => {
  const dir = await tempDir(t);
  const diagnostic = `refused\u001b[2J\r\nOK synced\u009b31m\u202eevil${'x'.repeat(60_000)}`;
  const server = await hostileLdapServer(t, dir, diagnostic);
  await writeFile(path.join(dir, 'pw'), 'alice password\n', { mode: 0o600 });
  await writeFile(
    path.join(dir, 'policy.json'),
    JSON.stringify({
      protection: { kdf: { name: 'scrypt', N: 16384, r: 8, p: 1 } },
      directory: { trustWithPassword: true },
    }),
  );
  const config = path.join(dir, 'a.json');
  const init = await credroam([
    'init',
    '--config',
    config,
    '--directory',
    server.url,
    '--ca-file',
    server.ca,
    '--user-dn',
    userDn('alice'),
    '--bind',
    'simple',
    '--home',
    path.join(dir, 'a'),
    '--user',
    'alice',
    '--policy',
    path.join(dir, 'policy.json'),
  ]);
  t.is(init.code, 0, init.stderr);
  const on = (args: readonly string[]) => credroam(['--config', config, ...args], { cwd: dir });
  const pw = ['--password-file', path.join(dir, 'pw')];
  const logon = await on(['logon', ...pw]);
  const sync = await on(['sync', ...pw, '--json']);
  const status = await on(['status']);
  const doctor = await on(['doctor', ...pw]);
  for (const [name, r] of [
    ['logon', logon],
    ['sync', sync],
    ['status', status],
    ['doctor', doctor],
  ] as const) {
    const all = `${r.stdout}${r.stderr}`;
    t.true(all.includes('refused'), `${name}: the server's text is shown\n${all.slice(0, 2000)}`);
    t.notRegex(all, UNPRINTABLE, name);
    t.false(/^OK/m.test(all), `${name}: no line of its own for the server's text`);
    t.true(all.length < 20_000, `${name}: ${all.length} characters`);
  }
});

test('a file someone handed the user, named with terminal escapes, a carriage return and bidi controls: the error that names it is one printable line, on stderr and in --json', async (t) => {
  const w = await twoEndpoints(t);
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  // Set the terminal's title, clear the screen, go back to the start of the line and write over it.
  const name = 'cert\u001b]0;owned\u0007\u001b[2J\rcredroam import: imported 1\u009b31m\u202e21p.p12';
  // Over the 1 MiB import bound: the refusal names the file.
  await writeFile(path.join(w.dir, name), Buffer.alloc(1024 * 1024 + 1));
  const r = await w.a(['import', name, '--json', ...w.pw]);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /^credroam import: .*cert .*larger than 1 MiB.*\[E_[A-Z_]+\]\n$/);
  t.notRegex(r.stderr, UNPRINTABLE);
  const { error } = JSON.parse(r.stdout) as { error: { message: string } };
  t.notRegex(error.message, UNPRINTABLE);
});

test('the state files another program rewrote (the last sync, its error and what it skipped): status prints no terminal escape or bidi control from them', async (t) => {
  const w = await twoEndpoints(t);
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  const escapes = '\u001b]0;owned\u0007\u001b[2J\r\u009b31m\u202e\nOK forged line';
  await writeFile(
    path.join(w.dir, 'a', 'status.json'),
    JSON.stringify({
      lastSync: {
        at: `2026-01-01T00:00:00.000Z${escapes}`,
        outcome: 'failed',
        error: `refused${escapes}`,
        skippedAt: `2026-01-01T00:00:00.000Z${escapes}`,
        skippedItems: [{ where: `local${escapes}`, event: 1018, reason: `certs/x${escapes}` }],
      },
    }),
  );
  const status = await w.a(['status']);
  t.is(status.code, 3, status.stderr);
  t.true(status.stdout.includes('refused'), status.stdout);
  t.notRegex(status.stdout, UNPRINTABLE);
  t.false(/^OK/m.test(status.stdout), status.stdout);
});

test('a plugin whose activation fails with terminal escapes and line breaks in its message: plugins list shows the reason on one printable line', async (t) => {
  const dir = await tempDir(t);
  const plugin = path.join(dir, 'throws');
  await cp(
    fileURLToPath(new URL('../../../../core/test/fixtures/plugins/throws/', import.meta.url)),
    plugin,
    {
      recursive: true,
    },
  );
  await writeFile(
    path.join(plugin, 'index.js'),
    "export function activate() { throw new Error('on fire\\u001b[2J\\r\\u009b31m\\u202e\\nOK credroam.ldap 0.1.0  active'); }\n",
  );
  const config = path.join(dir, 'agent.json');
  await writeFile(config, JSON.stringify({ plugins: [{ from: plugin }] }));
  const result = await credroam(['--config', config, 'plugins', 'list'], { env: { XDG_DATA_HOME: dir } });
  t.is(result.code, 3, result.stderr);
  t.regex(result.stdout, /test\.throws 1\.0\.0 {2}failed\n {2}reason: activation failed: on fire .*active\n/);
  t.notRegex(result.stdout, UNPRINTABLE);
  t.false(/^OK/m.test(result.stdout), result.stdout);
});
