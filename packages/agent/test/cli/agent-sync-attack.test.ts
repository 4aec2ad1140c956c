import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { EventLog, FileUserLock, type LockHeld } from '@credroam/core';
import test from 'ava';
import { type AgentConfig, loadConfig } from '../../src/config.js';
import { Agent } from '../../src/daemon/agent.js';
import { askAgent, socketPath } from '../../src/daemon/ipc.js';
import { squatAgentSocket, tempDir, twoEndpoints } from '../support.js';

/** Sends one request line on the control socket; `answer` is the connection's answer line. */
async function sendRequest(
  config: AgentConfig,
  request: object,
): Promise<{ readonly answer: Promise<Record<string, unknown>> }> {
  const socket = net.connect(socketPath(config));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.write(`${JSON.stringify(request)}\n`);
      resolve();
    });
  });
  const answer = new Promise<Record<string, unknown>>((resolve, reject) => {
    let data = '';
    socket.on('data', (chunk) => {
      data += chunk.toString('utf8');
    });
    socket.once('close', () => {
      try {
        resolve(JSON.parse(data) as Record<string, unknown>);
      } catch (error) {
        reject(error);
      }
    });
  });
  answer.catch(() => undefined); // awaited by the test
  return { answer };
}

test('an agent that closes the connection without answering (killed mid-sync) fails the request at once, not after the 30-minute wait', async (t) => {
  t.timeout(60_000); // a guard only: with the flaw the request waits for its own timeout below
  const home = await tempDir(t);
  const config = { home } as AgentConfig;
  await mkdir(path.join(home, 'run'), { mode: 0o700 });
  const server = net.createServer((socket) => {
    socket.once('data', () => socket.destroy()); // the request read, then the process is gone
  });
  await new Promise<void>((resolve) => server.listen(socketPath(config), resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const error = await t.throwsAsync(askAgent(config, { cmd: 'sync' }, 30 * 60_000));
  t.like(error, { code: 'E_AGENT' });
  t.regex(error?.message ?? '', /closed the connection without answering/);
});

test('`credroam sync` answered while the agent stops: never the report of a sync that began before the request', async (t) => {
  const w = await twoEndpoints(t);
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  const config = await loadConfig(path.join(w.dir, 'a.json'), {});
  const log = new EventLog({ write: () => undefined, level: 'debug' });
  const records: string[] = [];
  log.subscribe((r) => records.push(`${r.event} ${r.message}`));
  const agent = new Agent(config, log);
  await agent.start();
  t.teardown(() => agent.stop());
  t.like(await askAgent(config, { cmd: 'logon', password: 'alice roaming password' }), { ok: true });

  // Another credroam process holds the user's sync lock: the agent's next sync waits for it.
  let release!: () => void;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let locked!: () => void;
  const lockTaken = new Promise<void>((resolve) => {
    locked = resolve;
  });
  const other = new FileUserLock(path.join(config.home, 'state')).run(async () => {
    locked();
    await held;
  });
  await lockTaken;
  // The agent's engine asks for the lock as its sync begins: then that sync is under way.
  const run = FileUserLock.prototype.run;
  t.teardown(() => {
    FileUserLock.prototype.run = run;
  });
  let began!: () => void;
  const engineBegan = new Promise<void>((resolve) => {
    began = resolve;
  });
  FileUserLock.prototype.run = function <T>(
    this: FileUserLock,
    work: (held: LockHeld) => Promise<T>,
  ): Promise<T> {
    began();
    return run.call(this, work) as Promise<T>;
  };
  const first = agent.requestSync('a trigger');
  await engineBegan; // under way, waiting for the lock

  // `credroam sync`, its request read by the agent while that sync runs (it may have read the
  // store before the change the user ran `credroam sync` for); an answer to a request sent after
  // it tells that the agent has read it.
  const { answer } = await sendRequest(config, { cmd: 'sync' });
  t.like(await askAgent(config, { cmd: 'status' }), { ok: true, syncing: true }, records.join('\n'));

  // The agent is stopped (logoff, `credroam trigger stop`) before the sync the request asked for.
  const stopped = agent.stop();
  release();
  await other;
  await first;
  const a = await answer;
  await stopped;
  t.false(
    a.ok === true && 'report' in a,
    `the report of a sync that began before the request: ${JSON.stringify(a)}`,
  );
  t.like(a, { ok: false, error: { code: 'E_AGENT' } });
});

test('an agent that does not answer (stopped, hung, or a program squatting its socket) is not waited for: without the password `sync` says so, with it this process syncs', async (t) => {
  const w = await twoEndpoints(t);
  await squatAgentSocket(t, w.dir, 'a');

  const alone = await w.a(['sync', '--json']);
  t.is(alone.code, 1, alone.stderr);
  t.like(JSON.parse(alone.stdout), { error: { code: 'E_AGENT' } });
  t.regex(alone.stderr, /the agent on .*agent\.sock does not answer .*give the roaming password/);

  const here = await w.a(['sync', '--json', ...w.pw]);
  t.is(here.code, 0, here.stderr);
  t.like(JSON.parse(here.stdout), { outcome: 'synced' });
});

test('logon and trigger facing an agent that does not answer: trigger says how to get out at once; logon does not hand it the password, and logs on (a started agent takes the socket over)', async (t) => {
  const w = await twoEndpoints(t);
  const squatter = await squatAgentSocket(t, w.dir, 'a');

  const trigger = await w.a(['trigger', 'refresh', '--json']);
  t.is(trigger.code, 1, trigger.stderr);
  t.like(JSON.parse(trigger.stdout), { error: { code: 'E_AGENT' } });
  t.regex(
    trigger.stderr,
    /agent\.sock does not answer .*start a new agent, which takes the socket over.*credroam logon --start-agent --password-file FILE/,
  );

  const logon = await w.a(['logon', ...w.pw]);
  t.is(logon.code, 0, logon.stderr);
  t.false(squatter.received().includes('alice roaming password'), 'the password never went to the socket');
  t.regex(squatter.received(), /"cmd":"status"/);

  const started = await w.a(['logon', '--start-agent', ...w.pw]);
  t.is(started.code, 0, started.stderr);
  t.false(squatter.received().includes('alice roaming password'));
  const synced = await w.a(['sync', '--json']);
  t.is(synced.code, 0, synced.stderr);
  t.true(['synced', 'unchanged'].includes((JSON.parse(synced.stdout) as { outcome: string }).outcome));
});
