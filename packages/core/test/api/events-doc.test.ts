import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { EVENT_RANGES, EVENTS, type EventName } from '../../src/index.js';

const doc = fileURLToPath(new URL('../../../../../docs/admin/events.md', import.meta.url));

interface Row {
  readonly id: number;
  readonly name: string;
  readonly levels: string;
  readonly meaning: string;
  readonly action: string;
}

/** The rows of the doc's tables whose first cell is a number: `| id | name | level | meaning | what to do |`. */
async function rows(): Promise<Row[]> {
  const text = await readFile(doc, 'utf8');
  return text
    .split('\n')
    .filter((line) => /^\|\s*\d+\s*\|/.test(line))
    .map((line) => {
      const cells = line
        .slice(1, line.trimEnd().endsWith('|') ? line.trimEnd().length - 1 : undefined)
        .split('|')
        .map((c) => c.trim());
      return {
        id: Number(cells[0]),
        name: (cells[1] ?? '').replaceAll('`', ''),
        levels: cells[2] ?? '',
        meaning: cells[3] ?? '',
        action: cells[4] ?? '',
      };
    });
}

const expectedRow = (name: EventName) => {
  const k = EVENTS[name];
  return `| ${k.id} | \`${name}\` | ${k.levels.join(', ')} | ${k.meaning} | (what to do) |`;
};

test('docs/admin/events.md lists every event id of the code, each once', async (t) => {
  const documented = await rows();
  const missing = (Object.keys(EVENTS) as EventName[])
    .filter((name) => !documented.some((r) => r.id === EVENTS[name].id))
    .map(expectedRow);
  t.deepEqual(missing, [], 'add these rows to docs/admin/events.md');
  const twice = documented
    .filter((r, i) => documented.findIndex((o) => o.id === r.id) !== i)
    .map((r) => r.id);
  t.deepEqual(twice, [], 'ids listed twice');
});

test('docs/admin/events.md lists no id that the code does not have', async (t) => {
  const known = new Set(Object.values(EVENTS).map((k) => k.id as number));
  t.deepEqual(
    (await rows()).filter((r) => !known.has(r.id)).map((r) => r.id),
    [],
  );
});

test("each documented id has the code's name, levels and meaning, and says what to do", async (t) => {
  const wrong: string[] = [];
  for (const row of await rows()) {
    const entry = Object.entries(EVENTS).find(([, k]) => k.id === row.id) as [
      EventName,
      (typeof EVENTS)[EventName],
    ];
    if (!entry) continue;
    const [name, kind] = entry;
    if (row.name !== name || row.levels !== kind.levels.join(', ') || row.meaning !== kind.meaning) {
      wrong.push(`${row.id}: the code says\n${expectedRow(name)}`);
    }
    if (row.action.length < 'Nothing.'.length) wrong.push(`${row.id}: no "what to do"`);
  }
  t.deepEqual(wrong, []);
});

test('docs/admin/events.md has a section for each range of ids', async (t) => {
  const text = await readFile(doc, 'utf8');
  for (const r of EVENT_RANGES) {
    const heading = r.from === r.to ? `## ${r.from}:` : `## ${r.from}–${r.to}:`;
    t.true(text.includes(heading), heading);
  }
});
