import { type ChildProcess, spawn } from 'node:child_process';
import { cp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventId } from '@credroam/core';
import test, { type ExecutionContext } from 'ava';
import { BIN, opensslP12, processesUsing, setRoamingPolicy, twoEndpoints } from './support.js';

const brokenTrigger = fileURLToPath(new URL('../../test/fixtures/plugins/broken-trigger', import.meta.url));
const helloTrigger = fileURLToPath(new URL('../../test/fixtures/plugins/hello-trigger', import.meta.url));

interface Running {
  readonly child: ChildProcess;
  readonly log: () => Promise<Array<{ event: number; message: string; [k: string]: unknown }>>;
  readonly exited: Promise<number | null>;
  /** Its log file. */
  readonly file: string;
}

let started = 0;

/**
 * Starts `credroam agent` for endpoint e, as systemd would, and stops it at teardown. Each agent
 * logs to a file of its own: a later agent's log never shows what an earlier one did.
 */
async function startAgent(
  t: ExecutionContext,
  dir: string,
  e: 'a' | 'b',
  password?: string,
  env: NodeJS.ProcessEnv = {},
  { verbose = true }: { verbose?: boolean } = {},
): Promise<Running> {
  const logFile = path.join(dir, `${e}-agent-${++started}.log`);
  const { open } = await import('node:fs/promises');
  const out = await open(logFile, 'a');
  const child = spawn(
    process.execPath,
    [
      BIN,
      '--config',
      path.join(dir, `${e}.json`),
      'agent',
      ...(verbose ? ['--verbose'] : []),
      ...(password ? ['--password-stdin'] : []),
    ],
    {
      stdio: ['pipe', out.fd, out.fd],
      env: { PATH: process.env.PATH, ...env },
    },
  );
  child.stdin!.end(password ? `${password}\n` : '');
  await out.close();
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  t.teardown(async () => {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  // Complete lines only: a read while the agent writes may end in the middle of a record.
  const log = async () =>
    (await readFile(logFile, 'utf8'))
      .split('\n')
      .slice(0, -1)
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { event: number; message: string });
  // Up (and, with a password, logged on: its first sync ended). A loaded machine may take a while.
  await eventually(
    `agent ${e} starts${password ? ' and logs on' : ''}`,
    async () => {
      if (child.exitCode !== null) throw new Error(`agent ${e} exited: ${await readFile(logFile, 'utf8')}`);
      const records = await log();
      return (
        records.some((r) => r.message === 'agent started') &&
        (!password || records.some((r) => r.event === 1 || r.event === 2))
      );
    },
    60_000,
  );
  return { child, log, exited, file: logFile };
}

/** Waits for `check`; the deadline is generous, for a machine that runs other suites too. */
async function eventually(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Runs `credroam agent` for endpoint e and waits for it to exit by itself; an agent still running
 * after `ms` is killed and the result says so (`code: 'running'`).
 */
async function agentUntilExit(
  dir: string,
  e: 'a' | 'b',
  ms = 60_000,
): Promise<{ code: number | null | 'running'; stderr: string }> {
  const child = spawn(process.execPath, [BIN, '--config', path.join(dir, `${e}.json`), 'agent'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env.PATH },
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  // 'close', not 'exit': the process may exit before all it wrote to stderr has been read.
  const exited = new Promise<number | null>((r) => child.once('close', r));
  const code = await Promise.race([
    exited,
    new Promise<'running'>((r) => setTimeout(() => r('running'), ms)),
  ]);
  if (code === 'running') {
    child.kill('SIGKILL');
    await exited;
  }
  return { code, stderr };
}

/** Changes endpoint e's agent manifest. */
async function editConfig(dir: string, e: 'a' | 'b', edit: (c: Record<string, unknown>) => void) {
  const file = path.join(dir, `${e}.json`);
  const config = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  edit(config);
  await writeFile(file, JSON.stringify(config));
}

const listJson = async (run: (a: readonly string[]) => Promise<{ stdout: string }>) =>
  (JSON.parse((await run(['list', '--json'])).stdout) as { credentials: Array<{ sha256: string }> })
    .credentials;

test('an import on a running agent’s endpoint roams without anyone typing sync; its own writes start no loop', async (t) => {
  const w = await twoEndpoints(t);
  const agent = await startAgent(t, w.dir, 'a', 'alice roaming password');
  const cred = await opensslP12(w.dir);
  t.is((await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);
  await eventually('the agent uploads', async () => (await agent.log()).some((r) => r.event === 101));
  const b = await w.b(['logon', ...w.pw, '--json']);
  t.like(JSON.parse(b.stdout), { counts: { downloaded: 2 } });
  await new Promise((r) => setTimeout(r, 800));
  const syncs = (await agent.log()).filter((r) => r.event === 1).length;
  t.true(syncs <= 3, `${syncs} syncs: logon, the import, at most one settling sync`);
});

test('with an NSS database as its store, the running agent sees a browser’s import there (no watcher path set), uploads it, and its PEM folder mirror receives it', async (t) => {
  const w = await twoEndpoints(t);
  const { certutil, clientCredential, nssDatabase, pk12util, testCa } = await import(
    './cli/mirror-support.js'
  );
  await testCa(w.dir);
  const database = await nssDatabase(path.join(w.dir, 'browser-db'));
  await editConfig(w.dir, 'b', (c) => {
    c.localStore = { use: 'nss', settings: { database } };
    c.mirrors = [{ use: 'pem-folder', settings: { path: path.join(w.dir, 'files') } }];
  });
  const agent = await startAgent(t, w.dir, 'b', 'alice roaming password');
  const cred = await clientCredential(w.dir, 'imported', { friendlyName: 'From The Browser' });
  await pk12util([
    '-i',
    cred.file,
    '-d',
    `sql:${database}`,
    '-w',
    path.join(w.dir, 'p12pw'),
    '-k',
    '/dev/null',
  ]);
  t.regex(await certutil(['-L', '-d', `sql:${database}`]), /From The Browser/);
  await eventually('the agent mirrors it into the folder', async () =>
    (await readdir(path.join(w.dir, 'files')).catch(() => [] as string[])).includes(
      `From-The-Browser-${cred.fingerprint.slice(0, 8)}.crt`,
    ),
  );
  t.true(
    (await agent.log()).some((r) => r.message === 'trigger: storeChanged'),
    'the store watcher watched the database folder',
  );
  await w.a(['logon', ...w.pw]);
  await eventually('it roams to A', async () => {
    await w.a(['sync', ...w.pw]);
    return (await listJson(w.a)).some((c) => c.sha256 === cred.fingerprint);
  });
  t.true((await listJson(w.a)).some((c) => c.sha256 === cred.fingerprint));
});

test('credroam trigger unlock makes the agent sync; status shows it running with its keys open', async (t) => {
  const w = await twoEndpoints(t);
  const agentB = await startAgent(t, w.dir, 'b', 'alice roaming password');
  const cred = await opensslP12(w.dir);
  await w.a(['logon', ...w.pw]);
  await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw]);
  await w.a(['sync', ...w.pw]);
  const r = await w.b(['trigger', 'unlock', '--json']);
  t.is(r.code, 0, r.stderr);
  await eventually('B downloads', async () => (await listJson(w.b)).length === 1);
  const status = JSON.parse((await w.b(['status', '--json'])).stdout) as {
    agent: { running: boolean; unlocked: boolean };
  };
  t.like(status.agent, { running: true, unlocked: true });
  t.true((await agentB.log()).some((x) => x.message === 'trigger: unlock'));
});

test('a logon without an agent running starts one and hands it the password over its socket, never in its argv', async (t) => {
  const w = await twoEndpoints(t);
  const started = await w.a(['logon', '--start-agent', ...w.pw, '--json']);
  t.is(started.code, 0, started.stderr);
  const answer = JSON.parse(started.stdout) as { pid: number; unlocked: boolean };
  t.true(answer.unlocked);
  const ps = await readFile(`/proc/${answer.pid}/cmdline`, 'utf8');
  t.notRegex(ps, /alice roaming password/, 'the password is not in the agent’s argv');
  t.is((await w.a(['trigger', 'stop'])).code, 0);
  await eventually('the agent exits', async () => !(await processesUsing(w.dir)).includes(answer.pid));
});

test('an agent whose home is removed stops, and does not re-create it', async (t) => {
  const w = await twoEndpoints(t);
  const agent = await startAgent(t, w.dir, 'a', 'alice roaming password');
  const cred = await opensslP12(w.dir);
  t.is((await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);
  await eventually('the upload’s sync ends', async () =>
    (await agent.log()).some((r) => r.event === 1 && r.uploaded === 2),
  );
  // The store watcher sees the files go: the sync it asks for must not write a new home.
  // The agent may be writing there as it goes (ENOTEMPTY): removal is tried again until it is gone.
  await rm(path.join(w.dir, 'a'), { recursive: true, force: true, maxRetries: 10 });
  const code = await Promise.race([agent.exited, new Promise((r) => setTimeout(() => r('running'), 60_000))]);
  t.is(code, 0, `the agent exited by itself; its log ends: ${JSON.stringify((await agent.log()).slice(-6))}`);
  t.true(
    (await agent.log()).some(
      (r) => r.event === EventId.AgentSocketGone && /control socket .* is gone: stopping/.test(r.message),
    ),
  );
  await t.throwsAsync(stat(path.join(w.dir, 'a')), { code: 'ENOENT' }, 'the home stays removed');
});

test('offline: while the directory is unreachable the agent retries with backoff, and changes roam when it returns', async (t) => {
  const w = await twoEndpoints(t);
  await w.a(['logon', ...w.pw]);
  const agent = await startAgent(t, w.dir, 'a', 'alice roaming password');
  await rename(path.join(w.dir, 'directory'), path.join(w.dir, 'directory.away')); // the share is gone
  const cred = await opensslP12(w.dir);
  await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw]);
  await eventually('a failed sync, retried later', async () =>
    (await agent.log()).some((r) => r.event === EventId.SyncRetryScheduled && /retrying in/.test(r.message)),
  );
  await rename(path.join(w.dir, 'directory.away'), path.join(w.dir, 'directory')); // back
  await eventually('the retry uploads', async () => (await agent.log()).some((r) => r.event === 101), 20_000);
  const b = await w.b(['logon', ...w.pw, '--json']);
  t.like(JSON.parse(b.stdout), { counts: { downloaded: 2 } });
});

test('SIGTERM stops the agent cleanly: plugins deactivated, socket removed, exit 0', async (t) => {
  const w = await twoEndpoints(t);
  await w.a(['logon', ...w.pw]);
  const agent = await startAgent(t, w.dir, 'a', 'alice roaming password');
  t.true((await readdir(path.join(w.dir, 'a', 'run'))).includes('agent.sock'));
  agent.child.kill('SIGTERM');
  t.is(await agent.exited, 0);
  const log = await agent.log();
  t.true(
    log.some((r) => r.event === 2002),
    'plugins deactivated',
  );
  t.true(log.some((r) => r.message === 'agent stopped'));
  t.false(
    log.some((r) => r.event === 2204),
    'a first start took nothing over',
  );
  t.deepEqual(await readdir(path.join(w.dir, 'a', 'run')), [], 'no socket, nor anything else, is left');
  // Started again after a clean stop: no socket was left, so nothing is taken over either.
  const again = await startAgent(t, w.dir, 'a', 'alice roaming password');
  again.child.kill('SIGTERM');
  t.is(await again.exited, 0);
  t.false((await again.log()).some((r) => r.event === 2204));
});

test('after SIGKILL a new agent takes the stale socket over and roams: a credential imported afterwards reaches the directory through it', async (t) => {
  const w = await twoEndpoints(t);
  await w.a(['logon', ...w.pw]);
  const killed = await startAgent(t, w.dir, 'a', 'alice roaming password');
  killed.child.kill('SIGKILL');
  await killed.exited;
  t.deepEqual(await readdir(path.join(w.dir, 'a', 'run')), ['agent.sock'], 'the dead agent’s socket stays');
  const next = await startAgent(t, w.dir, 'a', 'alice roaming password');
  t.true(
    (await next.log()).some((r) => r.event === 2204 && /one was killed/.test(r.message)),
    'the stale socket was taken over',
  );
  const status = JSON.parse((await w.a(['status', '--json'])).stdout) as { agent: { pid: number } };
  t.is(status.agent.pid, next.child.pid!, 'the new agent answers on the socket');
  const cred = await opensslP12(w.dir);
  t.is((await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);
  await eventually('the new agent uploads what was imported', async () =>
    (await next.log()).some((r) => r.event === 101),
  );
  const log = await next.log();
  t.false(
    log.some((r) => r.event === 2003),
    `no plugin failed: ${JSON.stringify(log.filter((r) => r.event === 2003))}`,
  );
  t.true(
    log.some((r) => r.message === 'trigger: storeChanged'),
    'the store watcher saw the import',
  );
  const b = await w.b(['logon', ...w.pw, '--json']);
  t.like(JSON.parse(b.stdout), { counts: { downloaded: 2 } }, 'the credential is in the directory');
});

test('a second agent for a home whose agent runs exits 0, naming the running one, and leaves its socket alone', async (t) => {
  const w = await twoEndpoints(t);
  const first = await startAgent(t, w.dir, 'a');
  const second = await agentUntilExit(w.dir, 'a');
  t.is(second.code, 0, second.stderr);
  t.regex(
    second.stderr,
    new RegExp(
      `an agent already runs for .* \\(pid ${first.child.pid}\\) and answers on .*agent\\.sock: this one exits`,
    ),
  );
  t.true(second.stderr.split('\n').some((l) => l.includes('"event":2203')));
  const status = JSON.parse((await w.a(['status', '--json'])).stdout) as { agent: { pid: number } };
  t.is(status.agent.pid, first.child.pid!, 'the first agent still answers on its socket');
});

test('an agent that does not answer on its socket is taken over; woken up, it stops without removing the new one’s socket', async (t) => {
  const w = await twoEndpoints(t);
  const stuck = await startAgent(t, w.dir, 'a');
  stuck.child.kill('SIGSTOP');
  t.teardown(() => void stuck.child.kill('SIGCONT'));
  const next = await startAgent(t, w.dir, 'a');
  t.true(
    (await next.log()).some(
      (r) =>
        r.event === 2204 &&
        /the process on it did not answer within \d+ ms$/.test(r.message) &&
        r.message.split('did not answer').length === 2,
    ),
    JSON.stringify(await next.log()),
  );
  stuck.child.kill('SIGCONT');
  const code = await Promise.race([stuck.exited, new Promise((r) => setTimeout(() => r('running'), 30_000))]);
  t.is(code, 0, 'the old agent found its socket replaced and stopped');
  t.true((await stuck.log()).some((r) => r.event === 2205));
  const status = JSON.parse((await w.a(['status', '--json'])).stdout) as { agent: { pid: number } };
  t.is(status.agent.pid, next.child.pid!, 'the new agent still answers on the socket');
});

test('an agent whose required plugin fails exits 1 naming it, and leaves no socket and nothing running', async (t) => {
  const w = await twoEndpoints(t);
  await editConfig(w.dir, 'a', (c) => {
    c.plugins = [{ from: brokenTrigger, required: true }];
    c.triggers = [{ use: 'broken' }];
  });
  const r = await agentUntilExit(w.dir, 'a');
  t.is(r.code, 1, r.stderr);
  t.regex(
    r.stderr,
    /credroam agent: required plugin failed: 'test\.broken-trigger' \(activation failed: the trigger is on fire\) \[E_REQUIRED_PLUGIN\]/,
  );
  t.true(r.stderr.split('\n').some((l) => l.includes('"event":2202')));
  t.deepEqual(await readdir(path.join(w.dir, 'a', 'run')).catch(() => []), [], 'no socket left');
  const status = JSON.parse((await w.a(['status', '--json'])).stdout) as { agent: { running: boolean } };
  t.false(status.agent.running);
});

test('an agent whose selected directory no plugin provides (its built-in turned off) exits 1 saying so', async (t) => {
  const w = await twoEndpoints(t);
  await editConfig(w.dir, 'a', (c) => {
    c.plugins = [{ from: '@credroam/core/builtin/folder', enabled: false }];
  });
  const r = await agentUntilExit(w.dir, 'a');
  t.is(r.code, 1, r.stderr);
  t.regex(
    r.stderr,
    /credroam agent: no plugin contributes DirectoryStore 'folder' \(known: ldap\) \[E_NO_CONTRIBUTION\]/,
  );
  t.deepEqual(await readdir(path.join(w.dir, 'a', 'run')).catch(() => []), [], 'no socket left');
});

test('an agent whose optional trigger plugin fails reports it and goes on with the built-in ones, which listing it kept', async (t) => {
  const w = await twoEndpoints(t);
  await editConfig(w.dir, 'a', (c) => {
    // Only the third-party plugin and its trigger: the built-ins and the default triggers stay.
    c.plugins = [{ from: brokenTrigger }];
    c.triggers = [{ use: 'broken' }];
  });
  const agent = await startAgent(t, w.dir, 'a', 'alice roaming password');
  const unavailable = (await agent.log()).find((r) => r.event === 2206);
  t.like(unavailable, { level: 'warn', plugin: 'test.broken-trigger', trigger: 'broken' });
  t.regex(unavailable?.message ?? '', /the trigger is on fire.*goes on without this trigger/);
  const cred = await opensslP12(w.dir);
  t.is((await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);
  await eventually('the store watcher still roams', async () =>
    (await agent.log()).some((r) => r.event === 101),
  );
});

test('without --verbose the agent logs at info what journald must show: its start, plugins, keys, triggers and each sync', async (t) => {
  const w = await twoEndpoints(t);
  const agent = await startAgent(t, w.dir, 'a', 'alice roaming password', {}, { verbose: false });
  const cred = await opensslP12(w.dir);
  t.is((await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);
  await eventually('the import’s sync ends', async () =>
    (await agent.log()).some((r) => r.event === 2211 && r.reason === 'store changed'),
  );
  const log = await agent.log();
  t.like(log.find((r) => r.event === 2200) ?? {}, {
    level: 'info',
    message: 'agent started',
    keys: 'closed: waiting for logon',
    plugins: {
      'credroam.folder': 'active',
      'credroam.pkcs12': 'active',
      'credroam.ldap': 'inactive',
      'credroam.triggers': 'active',
    },
  });
  t.like(log.find((r) => r.event === 2208) ?? {}, { level: 'info', created: true });
  t.like(log.find((r) => r.event === 2211 && r.reason === 'logon') ?? {}, { level: 'info', full: true });
  t.like(log.find((r) => r.event === 2211 && r.reason === 'store changed') ?? {}, {
    outcome: 'synced',
    uploaded: 2,
  });
  t.true(log.some((r) => r.event === 2207 && r.message === 'trigger: storeChanged'));
  t.false(
    log.some((r) => r.level === 'debug'),
    'debug only with --verbose',
  );
  t.notRegex(await readFile(agent.file, 'utf8'), /alice roaming password/);
  agent.child.kill('SIGTERM');
  t.is(await agent.exited, 0);
  t.like((await agent.log()).find((r) => r.event === 2201) ?? {}, {
    level: 'info',
    message: 'agent stopped',
  });
});

test('a third-party trigger plugin installed beside the agent manifest runs with the built-ins and the default triggers', async (t) => {
  const w = await twoEndpoints(t);
  await cp(helloTrigger, path.join(w.dir, 'node_modules', '@example', 'credroam-hello'), { recursive: true });
  await editConfig(w.dir, 'a', (c) => {
    c.plugins = [{ from: '@example/credroam-hello' }];
    c.triggers = [{ use: 'hello' }];
  });
  const agent = await startAgent(t, w.dir, 'a', 'alice roaming password');
  await eventually('the third-party trigger fires', async () =>
    (await agent.log()).some((r) => r.event === 2207 && r.source === 'hello'),
  );
  t.like((await agent.log()).find((r) => r.event === 2200) ?? {}, {
    plugins: { 'credroam.folder': 'active', 'credroam.triggers': 'active', 'example.hello': 'active' },
  });
  const cred = await opensslP12(w.dir);
  t.is((await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);
  await eventually('the default store watcher still roams', async () =>
    (await agent.log()).some((r) => r.event === 2207 && r.source === 'store-watcher'),
  );
  await eventually('uploaded', async () => (await agent.log()).some((r) => r.event === 101));
});

test('logoff with removeOnLogoff removes only what is safely in the directory', async (t) => {
  const w = await twoEndpoints(t);
  // maxTokens 2: a second credential cannot reach the directory, so it must stay on the endpoint.
  await setRoamingPolicy(w.dir, { removeOnLogoff: true, maxTokens: 2 });
  const agent = await startAgent(t, w.dir, 'a', 'alice roaming password');
  const roamed = await opensslP12(w.dir, 'roamed');
  await w.a(['import', roamed.file, '--passin', 'file:p12pw', ...w.pw]);
  await eventually('uploaded', async () => (await agent.log()).some((r) => r.event === 101));
  const stuck = await opensslP12(w.dir, 'stuck');
  await w.a(['import', stuck.file, '--passin', 'file:p12pw', ...w.pw]);
  await eventually('refused by the limit', async () => (await agent.log()).some((r) => r.event === 1008));
  const r = await w.a(['logoff', '--json']);
  t.is(r.code, 0, r.stderr);
  t.like(JSON.parse(r.stdout), { removed: 2 });
  t.deepEqual(
    (await listJson(w.a)).map((c) => c.sha256),
    [stuck.fingerprint],
    'the credential the directory does not hold is the last copy: kept',
  );
  const b = await w.b(['logon', ...w.pw, '--json']);
  t.like(JSON.parse(b.stdout), { counts: { downloaded: 2 } }, 'still in the directory');
});

test('logoff through the agent with removeOnLogoff: values a directory writer deleted, the stamp left as it was, are put back before anything is removed', async (t) => {
  const w = await twoEndpoints(t);
  await setRoamingPolicy(w.dir, { removeOnLogoff: true });
  const agent = await startAgent(t, w.dir, 'a', 'alice roaming password');
  const roamed = await opensslP12(w.dir, 'roamed');
  await w.a(['import', roamed.file, '--passin', 'file:p12pw', ...w.pw]);
  await eventually('uploaded', async () => (await agent.log()).some((r) => r.event === 101));
  const file = path.join(w.dir, 'directory', 'alice', 'values');
  const values = JSON.parse(await readFile(file, 'utf8')) as { tokens: string[] };
  t.is(values.tokens.length, 2);
  await writeFile(file, JSON.stringify({ ...values, tokens: [] }));
  const r = await w.a(['logoff', '--json']);
  t.is(r.code, 0, r.stderr);
  const b = await w.b(['logon', ...w.pw, '--json']);
  t.like(JSON.parse(b.stdout), { counts: { downloaded: 2 } }, 'in the directory again');
});

test('logoff with removeOnLogoff to an agent that holds no keys removes nothing: no final sync checked the directory', async (t) => {
  const w = await twoEndpoints(t);
  await setRoamingPolicy(w.dir, { removeOnLogoff: true });
  // Roamed by a logon in its own process: the sync state's base names the credential.
  const roamed = await opensslP12(w.dir, 'roamed');
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  t.is((await w.a(['import', roamed.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);
  t.is((await w.a(['sync', ...w.pw])).code, 0);
  // An agent started without the password (at boot, say) is told of the logoff.
  await startAgent(t, w.dir, 'a');
  const r = await w.a(['trigger', 'logoff', '--json']);
  t.is(r.code, 0, r.stderr);
  t.like(JSON.parse(r.stdout), { removed: 0 });
  t.deepEqual(
    (await listJson(w.a)).map((c) => c.sha256),
    [roamed.fingerprint],
  );
});

test('passwd through the running agent needs the old password; the new one alone is refused', async (t) => {
  const w = await twoEndpoints(t);
  await startAgent(t, w.dir, 'a', 'alice roaming password');
  const { writeFile: write } = await import('node:fs/promises');
  await write(path.join(w.dir, 'new-pw'), 'the new password\n');
  const alone = await w.a(['passwd', '--new-password-file', 'new-pw']);
  t.is(alone.code, 2);
  const wrong = await w.a(['passwd', '--password-stdin', '--json'], {
    input: 'not the password\nthe new password\n',
  });
  t.is(wrong.code, 1);
  t.like(
    JSON.parse(wrong.stdout),
    { error: { code: 'E_WRONG_PASSWORD', ids: { user: 'alice' } } },
    'the agent’s error comes back with the ids involved',
  );
  const r = await w.a(['passwd', '--password-stdin'], {
    input: 'alice roaming password\nthe new password\n',
  });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /running agent re-wrapped/);
  t.is((await w.b(['logon', '--password-stdin'], { input: 'the new password\n' })).code, 0);
  t.is((await w.b(['logon', ...w.pw])).code, 1);
});

test('a policy refresh runs a full sync once the last one is older than fullSyncEveryMs, else the one-read check', async (t) => {
  const w = await twoEndpoints(t);
  await w.a(['logon', ...w.pw]);
  const { loadConfig } = await import('../src/config.js');
  const { Agent } = await import('../src/daemon/agent.js');
  const { askAgent } = await import('../src/daemon/ipc.js');
  const { EventLog } = await import('@credroam/core');
  const config = await loadConfig(path.join(w.dir, 'a.json'), {});
  const outcomes = async (fullSyncEveryMs: number) => {
    const records: Array<{ event: number }> = [];
    const log = new EventLog({ write: () => undefined, level: 'debug' });
    log.subscribe((r) => records.push(r));
    const agent = new Agent(config, log, { fullSyncEveryMs });
    await agent.start();
    try {
      await askAgent(config, { cmd: 'logon', password: 'alice roaming password' });
      await agent.requestSync('settle');
      const from = records.length;
      await askAgent(config, { cmd: 'trigger', event: 'refresh' }); // answers once its sync ran
      return records.slice(from).map((r) => r.event);
    } finally {
      await agent.stop();
    }
  };
  // The logon sync is full; a refresh right after it needs only the stamp.
  t.true((await outcomes(86_400_000)).includes(EventId.SyncUnchanged));
  // With the interval over, the refresh reads everything (a full sync never reports "unchanged").
  const full = await outcomes(0);
  t.false(full.includes(EventId.SyncUnchanged));
  t.true(full.includes(EventId.SyncSucceeded));
});

test('a trigger during a sync schedules exactly one more sync (bursts coalesce)', async (t) => {
  const w = await twoEndpoints(t);
  await w.a(['logon', ...w.pw]);
  const { loadConfig } = await import('../src/config.js');
  const { Agent } = await import('../src/daemon/agent.js');
  const { EventLog } = await import('@credroam/core');
  const records: Array<{ event: number; message: string }> = [];
  const log = new EventLog({ write: () => undefined });
  log.subscribe((r) => records.push(r));
  const agent = new Agent(await loadConfig(path.join(w.dir, 'a.json'), {}), log);
  await agent.start();
  t.teardown(() => agent.stop());
  const { askAgent } = await import('../src/daemon/ipc.js');
  await askAgent(await loadConfig(path.join(w.dir, 'a.json'), {}), {
    cmd: 'logon',
    password: 'alice roaming password',
  });
  const before = records.filter((r) => r.event === 1 || r.event === 2).length;
  await Promise.all([1, 2, 3, 4, 5, 6].map((i) => agent.requestSync(`burst ${i}`)));
  const after = records.filter((r) => r.event === 1 || r.event === 2).length;
  t.is(
    after - before,
    2,
    `one sync, then exactly one more for the five requests that came during it; the events: ${records
      .map((r) => `${r.event} ${r.message}`)
      .join('; ')}`,
  );
});

test('an Unlock signal from logind (sent by dbus-send on a private bus) makes the agent bring the credential down', async (t) => {
  const { privateBus, dbusSend } = await import('@credroam/plugin-triggers/testing');
  const w = await twoEndpoints(t);
  const address = await privateBus(t, w.dir);
  const session = '/org/freedesktop/login1/session/_35';
  const config = JSON.parse(await readFile(path.join(w.dir, 'b.json'), 'utf8')) as Record<string, unknown>;
  config.triggers = [{ use: 'session', settings: { busAddress: address, sessionPath: session } }];
  await writeFile(path.join(w.dir, 'b.json'), JSON.stringify(config));
  const agentB = await startAgent(t, w.dir, 'b', 'alice roaming password');
  const cred = await opensslP12(w.dir);
  await w.a(['logon', ...w.pw]);
  await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw]);
  await w.a(['sync', ...w.pw]);
  t.deepEqual(await listJson(w.b), []);
  await dbusSend(address, session, 'org.freedesktop.login1.Session.Unlock');
  await eventually('B downloads after the unlock', async () => (await listJson(w.b)).length === 1);
  t.true((await agentB.log()).some((r) => r.message === 'trigger: unlock' && r.source === 'session'));
});

test('a link where the agent keeps its control folder is refused, and the folder behind it is left as it was', async (t) => {
  const w = await twoEndpoints(t);
  const { mkdir: makeDir, symlink, chmod: setMode } = await import('node:fs/promises');
  const elsewhere = path.join(w.dir, 'elsewhere');
  await makeDir(elsewhere);
  await setMode(elsewhere, 0o755);
  await makeDir(path.join(w.dir, 'a'), { recursive: true });
  await symlink(elsewhere, path.join(w.dir, 'a', 'run'));
  const r = await w.a(['agent']);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /is a link: the agent's control folder must be a real folder/);
  t.is((await stat(elsewhere)).mode & 0o777, 0o755);
});

test('logoff through the agent with removeOnLogoff and an NSS mirror: what it removed stays removed (the store watcher’s sync after the removal downloads nothing back)', async (t) => {
  const w = await twoEndpoints(t);
  await setRoamingPolicy(w.dir, { removeOnLogoff: true });
  const { nssDatabase } = await import('./cli/mirror-support.js');
  const database = await nssDatabase(path.join(w.dir, 'browser-db'));
  await editConfig(w.dir, 'a', (c) => {
    c.mirrors = [{ use: 'nss', settings: { database } }];
  });
  const agent = await startAgent(t, w.dir, 'a', 'alice roaming password');
  for (const name of ['one', 'two', 'three']) {
    const p12 = await opensslP12(w.dir, name);
    await w.a(['import', p12.file, '--passin', 'file:p12pw', ...w.pw]);
  }
  await eventually('uploaded', async () => (await agent.log()).filter((r) => r.event === 101).length >= 6);
  const r = await w.a(['logoff', '--json']);
  t.is(r.code, 0, r.stderr);
  t.like(JSON.parse(r.stdout), { removed: 6 });
  // The store watcher sees the removal (debounce 100 ms): give its sync time to run.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  t.deepEqual(await listJson(w.a), [], `after logoff: ${JSON.stringify((await agent.log()).slice(-12))}`);
});
