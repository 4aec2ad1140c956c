import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { ERROR_CODES, type ErrorCode, isErrorCode } from '../../src/index.js';

const doc = fileURLToPath(new URL('../../../../../docs/admin/errors.md', import.meta.url));

/** The doc's rows `| \`E_…\` | who | meaning | what to do |`, as written. */
async function rows(): Promise<Array<{ code: string; line: string }>> {
  const text = await readFile(doc, 'utf8');
  return text
    .split('\n')
    .filter((line) => line.startsWith('| `E_'))
    .map((line) => ({ code: /^\| `(E_\w+)`/.exec(line)?.[1] ?? '', line: line.trimEnd() }));
}

const expectedRow = (code: ErrorCode) => {
  const c = ERROR_CODES[code];
  return `| \`${code}\` | ${c.who} | ${c.meaning} | ${c.action} |`;
};

test('docs/admin/errors.md lists every error code of the code, each once', async (t) => {
  const documented = await rows();
  t.deepEqual(
    (Object.keys(ERROR_CODES) as ErrorCode[])
      .filter((code) => !documented.some((r) => r.code === code))
      .map(expectedRow),
    [],
    'add these rows to docs/admin/errors.md',
  );
  t.deepEqual(
    documented.filter((r, i) => documented.findIndex((o) => o.code === r.code) !== i).map((r) => r.code),
    [],
    'codes listed twice',
  );
});

test('docs/admin/errors.md lists no code that the code does not have', async (t) => {
  t.deepEqual(
    (await rows()).filter((r) => !isErrorCode(r.code)).map((r) => r.code),
    [],
  );
});

test("each documented code has the table's who, meaning and what to do", async (t) => {
  const wrong = (await rows())
    .filter((r) => isErrorCode(r.code) && r.line !== expectedRow(r.code as ErrorCode))
    .map((r) => `${r.code}: the code says\n${expectedRow(r.code as ErrorCode)}`);
  t.deepEqual(wrong, []);
});
