import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { FolderDirectoryStore, FolderPolicySource } from '../../src/index.js';
import { tempDir } from '../support/temp.js';

const NOBODY = 65534;
const enc = (s: string) => new TextEncoder().encode(s);
const core = fileURLToPath(new URL('../../src/index.js', import.meta.url));

test('checkAccess: a root that is not there is E_UNREACHABLE with the command that makes it; the store and the policy source say the same', async (t) => {
  const root = path.join(await tempDir(t), 'not-mounted');
  const store = new FolderDirectoryStore(root, 'alice');
  const checks = await store.checkAccess();
  t.like(checks, [
    {
      check: 'reachability',
      ok: false,
      code: 'E_UNREACHABLE',
      fix: `mount the share, or make the folder: install -d -m 0755 ${root}`,
    },
  ]);
  for (const attempt of [
    () => store.read(),
    () => store.readStamp(),
    () => store.write({ tokens: { remove: [], add: [enc('t')] }, stamp: { remove: [], add: [enc('s')] } }),
    () => new FolderPolicySource(root).fetch(),
  ]) {
    const error = await t.throwsAsync(attempt(), { code: 'E_UNREACHABLE' } as never);
    t.true(error?.message.endsWith(`nothing was read or written; fix: ${checks[0]!.fix}`), error?.message);
  }
  await t.throwsAsync(readdir(root), { code: 'ENOENT' } as never, 'nothing made it');
});

test('checkAccess: a missing folder in a root the user may write is fine (the first write makes it, 0700); a link there is E_DIRECTORY', async (t) => {
  const root = await tempDir(t);
  const store = new FolderDirectoryStore(root, 'alice');
  t.like(await store.checkAccess(), [
    { check: 'reachability', ok: true },
    {
      check: 'write',
      ok: true,
      detail: `${store.dir} does not exist yet: this user may make it (the first sync does)`,
    },
  ]);
  await store.write({ tokens: { remove: [], add: [enc('t')] }, stamp: { remove: [], add: [enc('s')] } });
  t.like(await store.checkAccess(), [{ ok: true }, { ok: true, detail: `this user may write ${store.dir}` }]);
  const other = new FolderDirectoryStore(root, 'bob');
  await mkdir(path.join(root, 'elsewhere'));
  await symlink(path.join(root, 'elsewhere'), other.dir);
  t.like(await other.checkAccess(), [{ ok: true }, { check: 'write', ok: false, code: 'E_DIRECTORY' }]);
});

/** What the store does as nobody (root is never refused a folder): its error, or 'ok'. */
function asNobody(root: string, user: string, call: string): Promise<unknown> {
  const script =
    `import { FolderDirectoryStore } from ${JSON.stringify(core)};\n` +
    `const store = new FolderDirectoryStore(${JSON.stringify(root)}, ${JSON.stringify(user)});\n` +
    'const enc = (s) => new TextEncoder().encode(s);\n' +
    `try { const r = await ${call}; process.stdout.write(JSON.stringify({ ok: r ?? null })); }\n` +
    'catch (e) { process.stdout.write(JSON.stringify({ code: e.code, message: e.message, name: e.name })); }\n';
  return new Promise((resolve, reject) => {
    execFile(
      'setpriv',
      [
        `--reuid=${NOBODY}`,
        `--regid=${NOBODY}`,
        '--clear-groups',
        '--',
        process.execPath,
        '--input-type=module',
        '-e',
        script,
      ],
      (error, stdout) => (error ? reject(error) : resolve(JSON.parse(stdout))),
    );
  });
}

async function share(t: ExecutionContext): Promise<string> {
  if (process.getuid?.() !== 0) {
    t.fail(
      'this test runs the store as nobody in a share only root may write: it needs root (CI runs as root)',
    );
    throw new Error('not root');
  }
  const dir = await mkdtemp('/tmp/credroam-folder-access-');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await chown(dir, NOBODY, NOBODY);
  const root = path.join(dir, 'share');
  await mkdir(root, { mode: 0o755 });
  return root;
}

const WRITE =
  "store.write({ tokens: { remove: [], add: [enc('t')] }, stamp: { remove: [], add: [enc('s')] } })";

test("as a user: a missing folder the user may not make, or one the user may not read, is E_UNREACHABLE with checkAccess's fix, read or written", async (t) => {
  const root = await share(t);
  const bob = path.join(root, 'bob');
  for (const call of ['store.read()', 'store.readStamp()', WRITE]) {
    t.like(await asNobody(root, 'bob', call), {
      code: 'E_UNREACHABLE',
      message: `${bob} does not exist, and this user (nobody) may not make it in ${root} (EACCES): nothing was read or written; fix: create the user's folder: install -d -m 0700 -o nobody ${bob}`,
    });
  }
  const carol = path.join(root, 'carol');
  await mkdir(carol, { mode: 0o700 });
  const fix = `give the user their folder: chown -R nobody ${carol} && chmod 0700 ${carol}`;
  for (const call of ['store.read()', WRITE]) {
    t.like(await asNobody(root, 'carol', call), {
      code: 'E_UNREACHABLE',
      message: `this user (nobody) may not read ${carol} (owner uid 0, mode 0700): nothing was read or written; fix: ${fix}`,
    });
  }
  t.like(await asNobody(root, 'carol', 'store.checkAccess()'), {
    ok: [{ ok: true }, { check: 'write', ok: false, code: 'E_UNREACHABLE', fix }],
  });
  // A mode is shown as chmod takes it, four digits: 0000, not 00.
  await chmod(carol, 0o000);
  t.like(await asNobody(root, 'carol', 'store.read()'), {
    message: `this user (nobody) may not read ${carol} (owner uid 0, mode 0000): nothing was read or written; fix: ${fix}`,
  });
  await chmod(carol, 0o700);
  t.deepEqual(await readdir(root), ['carol'], 'nothing was made in the share');
  t.deepEqual(await readdir(carol), []);
});

test('as a user: a folder the user reads but may not write reads, and a write is E_ACCESS with the fix, writing nothing', async (t) => {
  const root = await share(t);
  const dave = path.join(root, 'dave');
  await mkdir(dave, { mode: 0o755 });
  await writeFile(path.join(dave, 'values'), JSON.stringify({ tokens: [], keys: [] }), { mode: 0o644 });
  t.like(await asNobody(root, 'dave', 'store.read()'), { ok: { tokens: [], keys: [], stamp: [] } });
  // Said at once: not after the write lock's retries (100 of them, about 10 s, before the fix).
  const asked = Date.now();
  const refused = await asNobody(root, 'dave', WRITE);
  t.true(Date.now() - asked < 5_000, 'the refusal does not wait out the lock retries');
  t.like(refused, {
    code: 'E_ACCESS',
    message: `this user (nobody) may read ${dave} but not write it (owner uid 0, mode 0755): nothing was written; fix: give the user their folder: chown -R nobody ${dave} && chmod 0700 ${dave}`,
  });
  t.deepEqual(await readdir(dave), ['values']);
});
