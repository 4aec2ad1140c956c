import { createHash } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import test from 'ava';
import { twoEndpoints } from '../support.js';

const CHALLENGE = 'sEcReT-cHaLlEnGe-4711';

/** Every file under `dir` with a hash of its content: what a write would change. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of await readdir(dir, { recursive: true })) {
    const s = await stat(path.join(dir, name));
    if (s.isFile())
      out[name] = createHash('sha256')
        .update(await readFile(path.join(dir, name)))
        .digest('hex');
  }
  return out;
}

/** A CA URL that answers every request with a 500 whose body is the request it got. */
async function echoingCa(t: { teardown(fn: () => void): void }): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(`no ${req.url}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/scep`, seen };
}

test('enroll --dry-run writes nothing: no directory change, no enrollment.json, no CA traffic', async (t) => {
  const ca = await echoingCa(t);
  const w = await twoEndpoints(t, {});
  const policyFile = path.join(w.dir, 'policy.json');
  const policy = JSON.parse(await readFile(policyFile, 'utf8')) as Record<string, unknown>;
  await writeFile(path.join(w.dir, 'challenge'), `${CHALLENGE}\n`, { mode: 0o600 });
  policy.enrollment = {
    profiles: [
      {
        id: 'user-auth',
        enroller: 'scep',
        ca: { url: ca.url, fingerprint: 'a'.repeat(64) },
        subject: 'CN={user}',
        challenge: { file: path.join(w.dir, 'challenge') },
      },
    ],
  };
  await writeFile(policyFile, JSON.stringify(policy));
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  const atLogon = ca.seen.length;
  const directory = await snapshot(path.join(w.dir, 'directory'));
  const home = await snapshot(path.join(w.dir, 'a'));
  const dry = await w.a(['enroll', '--dry-run', '--json', ...w.pw]);
  t.is(dry.code, 0, dry.stderr);
  t.like(JSON.parse(dry.stdout), { profiles: [{ id: 'user-auth', state: 'planned', action: 'request' }] });
  t.deepEqual(await snapshot(path.join(w.dir, 'directory')), directory, 'the directory is untouched');
  t.deepEqual(await snapshot(path.join(w.dir, 'a')), home, 'the home is untouched');
  t.is(ca.seen.length, atLogon, 'no CA traffic');

  // A real attempt against a CA that is not the pinned one: the challenge is nowhere to be seen.
  const real = await w.a(['enroll', '--json', ...w.pw]);
  const status = await w.a(['status', '--json']);
  const files = await Promise.all(
    Object.keys(await snapshot(path.join(w.dir, 'a'))).map((f) =>
      readFile(path.join(w.dir, 'a', f), 'latin1'),
    ),
  );
  for (const text of [real.stdout, real.stderr, status.stdout, status.stderr, ...files])
    t.false(text.includes(CHALLENGE), 'the challenge appears nowhere');
  t.like(JSON.parse(real.stdout), { profiles: [{ id: 'user-auth', state: 'failing' }] });
});
