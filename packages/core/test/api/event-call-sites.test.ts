import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { EVENTS, type EventName } from '../../src/index.js';

// The workspace's own code, read as text: every package's src folder.
const root = fileURLToPath(new URL('../../../../../', import.meta.url));

async function sources(): Promise<Array<{ file: string; text: string }>> {
  const out: Array<{ file: string; text: string }> = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.name.endsWith('.ts'))
        out.push({ file: path.relative(root, full), text: await readFile(full, 'utf8') });
    }
  };
  for (const p of await readdir(path.join(root, 'packages'))) {
    await walk(path.join(root, 'packages', p, 'src')).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOTDIR' && error.code !== 'ENOENT') throw error;
    });
  }
  return out;
}

const lineOf = (text: string, index: number) => text.slice(0, index).split('\n').length;

test('the scan reads every package', async (t) => {
  const files = await sources();
  for (const p of [
    'core',
    'agent',
    'plugin-ldap',
    'plugin-pkcs12',
    'plugin-nss',
    'plugin-triggers',
    'plugin-policy-https',
    'plugin-enroll-cmp',
  ]) {
    t.true(
      files.some((f) => f.file.startsWith(`packages/${p}/src/`)),
      p,
    );
  }
});

test("credroam's own code writes no free-form log line (PluginLog is for third-party plugins)", async (t) => {
  const found: string[] = [];
  for (const { file, text } of await sources()) {
    for (const m of text.matchAll(/\b(?:log|logger)\??\.(?:debug|info|warn|error)\(/g))
      found.push(`${file}:${lineOf(text, m.index)}: ${m[0]}`);
    for (const m of text.matchAll(/\.log\(\s*'\w+',\s*\d/g))
      found.push(`${file}:${lineOf(text, m.index)}: a bare number`);
  }
  t.deepEqual(found, [], 'log with an id from EventId: log.log(level, EventId.Name, message, fields)');
});

test('each event is logged at a level the table gives it', async (t) => {
  const wrong: string[] = [];
  let seen = 0;
  for (const { file, text } of await sources()) {
    for (const m of text.matchAll(/\(\s*'(debug|info|warn|error)',\s*EventId\.(\w+)/g)) {
      seen++;
      const kind = EVENTS[m[2] as EventName];
      if (!kind || !(kind.levels as readonly string[]).includes(m[1]!))
        wrong.push(
          `${file}:${lineOf(text, m.index)}: ${m[2]} at ${m[1]} (table: ${kind?.levels.join(', ')})`,
        );
    }
  }
  t.true(seen > 20, `found ${seen} call sites`);
  t.deepEqual(wrong, []);
});
