#!/usr/bin/env node
// The API report of @credroam/core/api: its public surface, the declarations tsc emits into
// dist/src/api (build first: `pnpm exec tsc -b`), one section per file, comments left out (a
// comment is not the contract's shape), as packages/core/api-report.md. A test compares the
// checked-in file with a fresh one.
//
//   node packages/core/scripts/api-report.mjs          prints the report
//   node packages/core/scripts/api-report.mjs --write  writes packages/core/api-report.md
//   node packages/core/scripts/api-report.mjs --check  exits 1 when the checked-in file differs
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CORE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPORT_FILE = path.join(CORE, 'api-report.md');
export const REGENERATE =
  'pnpm api-report (or: pnpm exec tsc -b && node packages/core/scripts/api-report.mjs --write)';

/** The declarations of one .d.ts without comments, source-map lines or blank lines. */
function declarations(text) {
  const out = [];
  let inComment = false;
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (inComment) {
      if (trimmed.endsWith('*/')) inComment = false;
      continue;
    }
    if (trimmed.startsWith('/*')) {
      inComment = !trimmed.endsWith('*/') || trimmed === '/*' || trimmed === '/**';
      continue;
    }
    if (trimmed === '' || trimmed.startsWith('//')) continue;
    out.push(line.trimEnd());
  }
  return out.join('\n');
}

/**
 * The `meaning` and `action` texts of the error and event registries left out, as comments are:
 * their wording is documentation (docs/admin/errors.md and events.md, which tests keep equal to the
 * registries), not the contract. A code or id, its levels, and who acts on it, are.
 */
function withoutWording(text) {
  return text.replace(/readonly (meaning|action): '(?:[^'\\]|\\.)*';/g, 'readonly $1: string;');
}

function files(dir, prefix = '') {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory()
        ? files(path.join(dir, e.name), `${prefix}${e.name}/`)
        : e.name.endsWith('.d.ts')
          ? [`${prefix}${e.name}`]
          : [],
    )
    .sort();
}

/** The report for the built declarations in `coreDir`/dist/src/api. */
export function apiReport(coreDir = CORE) {
  const apiDir = path.join(coreDir, 'dist', 'src', 'api');
  const version = /API_VERSION = "([^"]+)"/.exec(
    readFileSync(path.join(apiDir, 'version.d.ts'), 'utf8'),
  )?.[1];
  const sections = files(apiDir).map(
    (f) =>
      `## ${f}\n\n\`\`\`ts\n${withoutWording(declarations(readFileSync(path.join(apiDir, f), 'utf8')))}\n\`\`\`\n`,
  );
  return [
    `# API report: @credroam/core/api ${version}`,
    '',
    'The public surface of the plugin API: the declarations `tsc` emits for `packages/core/src/api`,',
    'comments left out. Generated; do not edit. A test fails when it differs from the build: if the',
    'change is meant, bump `API_VERSION` (src/api/version.ts) as semver says, then regenerate with',
    `\`${REGENERATE}\`.`,
    '',
    ...sections,
  ].join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const report = apiReport();
  if (process.argv.includes('--write')) {
    writeFileSync(REPORT_FILE, report);
  } else if (process.argv.includes('--check')) {
    if (readFileSync(REPORT_FILE, 'utf8') !== report) {
      process.stderr.write(`${REPORT_FILE} differs from the built API; regenerate: ${REGENERATE}\n`);
      process.exit(1);
    }
  } else {
    process.stdout.write(report);
  }
}
