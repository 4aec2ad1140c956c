import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import test from 'ava';
import { FilePolicySource } from '../../src/builtin/policy-file/file-policy-source.js';
import {
  DirectoryStore,
  FolderDirectoryStore,
  FolderPolicySource,
  POLICY_BUNDLE_MAX_BYTES,
  PolicySource,
  Trigger,
  type TriggerEvent,
  toDisposable,
} from '../../src/index.js';
import {
  activatePlugin,
  type ContractAssertions,
  directoryStoreContract,
  policySourceContract,
  TestProtector,
  tokenProtectorContract,
  triggerContract,
} from '../../src/testing/index.js';

// The built-in implementations pass the suites the testing kit offers plugin authors.

const temp = async (t: ContractAssertions) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'credroam-contract-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
};

directoryStoreContract(test, 'folder (built in)', async (t) => {
  const root = await temp(t);
  return { store: new FolderDirectoryStore(root, 'alice'), other: new FolderDirectoryStore(root, 'alice') };
});

tokenProtectorContract(test, 'TestProtector (testing kit)', async () => ({
  protector: new TestProtector(),
  otherUser: new TestProtector(),
}));

policySourceContract(test, 'folder (built in)', async (t) => {
  const root = await temp(t);
  return {
    holding: async (bytes) => {
      await writeFile(path.join(root, 'policy.p7b'), bytes);
      return new FolderPolicySource(root);
    },
    empty: async () => new FolderPolicySource(await temp(t)),
  };
});

policySourceContract(test, 'policy file (built in)', async (t) => {
  const root = await temp(t);
  return {
    holding: async (bytes) => {
      const file = path.join(root, `bundle-${bytes.length}.p7b`);
      await writeFile(file, bytes);
      return new FilePolicySource(file, POLICY_BUNDLE_MAX_BYTES);
    },
    empty: async () => new FilePolicySource(path.join(root, 'none.p7b'), POLICY_BUNDLE_MAX_BYTES),
  };
});

/** A trigger on an injected tick: what the kit's suite needs to provoke it exactly. */
class TickTrigger implements Trigger {
  readonly #listeners = new Set<() => void>();
  tick(): void {
    for (const l of this.#listeners) l();
  }
  async start(fire: (event: TriggerEvent) => void) {
    const listener = () => fire({ name: 'policyRefresh', source: 'tick', at: Date.now() });
    this.#listeners.add(listener);
    return toDisposable(() => {
      this.#listeners.delete(listener);
    });
  }
}

triggerContract(test, 'a tick trigger', async () => {
  const trigger = new TickTrigger();
  return { trigger, provoke: async () => trigger.tick(), events: ['policyRefresh'] };
});

const folderPlugin = fileURLToPath(new URL('../../../builtin/folder', import.meta.url));

test('the activation harness loads the built-in folder plugin as the agent does and makes its directory store', async (t) => {
  const root = await temp(t);
  const plugin = await activatePlugin({ dir: folderPlugin });
  t.teardown(() => plugin.dispose());
  t.is(plugin.info().id, 'credroam.folder');
  t.is(plugin.info().state, 'inactive');
  const store = await plugin.contribution(DirectoryStore, 'folder', {
    settings: { url: pathToFileURL(root).href },
  });
  t.is(plugin.info().state, 'active');
  t.deepEqual(await store.readStamp(), []);
  t.true(
    (await plugin.contribution(PolicySource, 'folder', { settings: { url: pathToFileURL(root).href } })) !==
      undefined,
  );
});

test('the activation harness refuses a plugin whose manifest is invalid, with the place', async (t) => {
  const dir = await temp(t);
  await writeFile(
    path.join(dir, 'package.json'),
    JSON.stringify({
      name: 'bad',
      version: '1.0.0',
      credroam: { id: 'Bad Id', main: 'index.js', engines: { credroam: '^0.1.0' } },
    }),
  );
  const error = await t.throwsAsync(() => activatePlugin({ dir }));
  t.regex(error.message, /did not load/);
  t.regex(error.message, /\/credroam\/id/);
});

test('the activation harness loads the plugins a plugin depends on, and hands it what they returned', async (t) => {
  const root = await temp(t);
  const write = async (name: string, manifest: object, code: string) => {
    await mkdir(path.join(root, name));
    await writeFile(
      path.join(root, name, 'package.json'),
      JSON.stringify({
        name,
        version: '1.0.0',
        type: 'module',
        credroam: { engines: { credroam: '^0.1.0' }, main: 'index.js', ...manifest },
      }),
    );
    await writeFile(path.join(root, name, 'index.js'), code);
  };
  await write('base', { id: 'test.base' }, 'export function activate() { return { answer: 42 }; }');
  await write(
    'dependent',
    {
      id: 'test.dependent',
      dependencies: ['test.base'],
      activationEvents: ['onTrigger:tick'],
      contributes: { triggers: [{ id: 'tick' }] },
    },
    `export function activate(context) {
      const { answer } = context.dependency('test.base');
      context.contribute(Symbol.for('credroam.Trigger'), 'tick', () => ({ answer, start: async () => ({ dispose() {} }) }));
    }`,
  );
  const plugin = await activatePlugin({
    dir: path.join(root, 'dependent'),
    dependencies: [path.join(root, 'base')],
  });
  t.teardown(() => plugin.dispose());
  t.is(plugin.info().id, 'test.dependent');
  const trigger = (await plugin.contribution(Trigger, 'tick')) as unknown as { answer: number };
  t.is(trigger.answer, 42);
  await t.throwsAsync(() => activatePlugin({ dir: path.join(root, 'dependent') }), { message: /test\.base/ });
});
