import { readFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import test from 'ava';
import { API_VERSION, ERROR_CODES } from '../../src/api/index.js';

const core = fileURLToPath(new URL('../../../', import.meta.url));
const script = pathToFileURL(`${core}scripts/api-report.mjs`).href;

interface ReportScript {
  apiReport(coreDir?: string): string;
  REPORT_FILE: string;
  REGENERATE: string;
}

test('packages/core/api-report.md is the public surface of @credroam/core/api as built', async (t) => {
  const { apiReport, REPORT_FILE, REGENERATE } = (await import(script)) as ReportScript;
  const fresh = apiReport(core);
  const checkedIn = await readFile(REPORT_FILE, 'utf8');
  t.true(
    checkedIn === fresh,
    `the plugin API changed: ${REPORT_FILE} differs from the build. If the change is meant, bump ` +
      `API_VERSION (packages/core/src/api/version.ts) as semver says and regenerate it: ${REGENERATE}`,
  );
});

test('the report names the API version and covers every extension point', async (t) => {
  const { apiReport } = (await import(script)) as ReportScript;
  const report = apiReport(core);
  t.true(report.startsWith(`# API report: @credroam/core/api ${API_VERSION}\n`));
  for (const point of ['local-store', 'directory-store', 'token-protector', 'trigger', 'policy-source']) {
    t.true(report.includes(`## points/${point}.d.ts`), point);
  }
  t.false(/tsyringe|DependencyContainer/.test(report));
});

test("the error registry's codes and who acts on them are in the report; their wording is not (it is documentation)", async (t) => {
  const { apiReport } = (await import(script)) as ReportScript;
  const report = apiReport(core);
  for (const code of Object.keys(ERROR_CODES)) t.true(report.includes(`readonly ${code}: {`), code);
  t.true(report.includes("readonly who: 'user';"));
  t.false(report.includes(ERROR_CODES.E_AGENT.meaning), 'a reworded meaning changes no contract');
  t.false(report.includes(ERROR_CODES.E_LOCKED.action), 'a reworded action changes no contract');
});
