import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import {
  AuthenticationError,
  ConflictError,
  CredroamError,
  ERROR_CODES,
  type ErrorCode,
  isErrorCode,
  PluginError,
} from '../../src/index.js';

const root = fileURLToPath(new URL('../../../../../', import.meta.url));
const codes = Object.keys(ERROR_CODES) as ErrorCode[];

test('each code is E_ and capitals, with a meaning, who can act, and what to do', (t) => {
  for (const code of codes) {
    const info = ERROR_CODES[code];
    t.regex(code, /^E_[A-Z0-9]+(_[A-Z0-9]+)*$/);
    t.true(['user', 'admin', 'developer', 'none'].includes(info.who), code);
    t.regex(info.meaning, /^\S.{10,}\.$/, `${code}: meaning`);
    t.regex(info.action, /^\S.{5,}\.$/, `${code}: action`);
  }
});

test('CredroamError takes only the codes of the table', (t) => {
  // @ts-expect-error: a code outside ERROR_CODES does not compile
  const untyped = new CredroamError('E_NO_SUCH_CODE', 'from plain JavaScript', { file: '/x' });
  // At run time (plain JavaScript, an old plugin) it becomes E_PLUGIN, keeping what it was given.
  t.is(untyped.code, 'E_PLUGIN');
  t.deepEqual(untyped.details, { file: '/x', pluginCode: 'E_NO_SUCH_CODE' });
  const known = new CredroamError('E_CONFIG', 'bad', { file: '/etc/credroam.json' });
  t.is(known.code, 'E_CONFIG');
  t.deepEqual(known.details, { file: '/etc/credroam.json' });
  t.true(isErrorCode('E_CONFIG'));
  t.false(isErrorCode('E_NO_SUCH_CODE'));
  t.false(isErrorCode('toString'));
});

test('ConflictError and AuthenticationError stay classes with their codes', (t) => {
  const conflict = new ConflictError('lost a race', { attribute: 'credroamToken' });
  t.true(conflict instanceof CredroamError);
  t.is(conflict.code, 'E_CONFLICT');
  t.is(conflict.details.attribute, 'credroamToken');
  t.is(new AuthenticationError('forged').code, 'E_AUTH');
});

test("a plugin's own error is E_PLUGIN naming the plugin and its own code", (t) => {
  const error = new PluginError('example.vault', 'VAULT_SEALED', 'the vault is sealed', { url: 'https://v' });
  t.true(error instanceof CredroamError);
  t.is(error.name, 'PluginError');
  t.is(error.code, 'E_PLUGIN');
  t.deepEqual(error.details, { url: 'https://v', plugin: 'example.vault', pluginCode: 'VAULT_SEALED' });
});

async function sourceTexts(): Promise<Array<{ file: string; text: string }>> {
  const out: Array<{ file: string; text: string }> = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.name.endsWith('.ts') && entry.name !== 'error-codes.ts')
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

test('every code the workspace names is in the table', async (t) => {
  const used = new Map<string, string>();
  for (const { file, text } of await sourceTexts()) {
    for (const m of text.matchAll(/'(E_[A-Z0-9]+(?:_[A-Z0-9]+)*)'/g)) used.set(m[1]!, file);
  }
  t.true(used.size > 40, `found ${used.size} codes`);
  t.deepEqual(
    [...used].filter(([code]) => !isErrorCode(code)).map(([code, file]) => `${code} (${file})`),
    [],
    'codes missing from ERROR_CODES',
  );
});
