// Removes from a deployed (flat, hoisted) node_modules every package that nothing loads at run
// time: the packages reached from the app's dependencies, as Node resolves them, are kept, except
// along the edges below. `pnpm deploy --prod` keeps every production dependency; these are only
// ever used to build or are never built:
//   kerberos > prebuild-install, node-addon-api: the patched install script compiles with node-gyp
//     (docs/decisions/005-directory-binds.md); node-addon-api is C++ headers for that build.
//   dbus-next > usocket: an optional addon for abstract D-Bus sockets, whose build pnpm does not run
//     (pnpm-workspace.yaml): it cannot load, and dbus-next goes on without it.
// Usage: node prune-deps.mjs APP_DIR   (prints what it removed, one package a line)
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

const BUILD_ONLY = new Set(['kerberos>prebuild-install', 'kerberos>node-addon-api', 'dbus-next>usocket']);

const app = path.resolve(process.argv[2] ?? '.');
const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

/** The folder Node would load `name` from, for code in `from` (nested node_modules first, then up). */
function resolvePackage(name, from) {
  for (let dir = from; dir.startsWith(app); dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (dir === app) break;
  }
  return undefined;
}

const keep = new Set();
const queue = [app];
while (queue.length > 0) {
  const dir = queue.pop();
  if (keep.has(dir)) continue;
  keep.add(dir);
  const manifest = readJson(path.join(dir, 'package.json'));
  const names = [
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.optionalDependencies ?? {}),
  ];
  for (const name of names) {
    if (BUILD_ONLY.has(`${manifest.name}>${name}`)) continue;
    const found = resolvePackage(name, dir);
    if (found) queue.push(found);
    else if (!(name in (manifest.optionalDependencies ?? {}))) {
      throw new Error(`${manifest.name} needs ${name}, which is not in the deployed tree`);
    }
  }
}

/** Every package folder under a node_modules folder, nested ones included. */
function packagesUnder(nodeModules) {
  if (!existsSync(nodeModules)) return [];
  const found = [];
  for (const entry of readdirSync(nodeModules, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const dirs = entry.name.startsWith('@')
      ? readdirSync(path.join(nodeModules, entry.name)).map((n) => path.join(nodeModules, entry.name, n))
      : [path.join(nodeModules, entry.name)];
    for (const dir of dirs) {
      found.push(dir);
      found.push(...packagesUnder(path.join(dir, 'node_modules')));
    }
  }
  return found;
}

for (const dir of packagesUnder(path.join(app, 'node_modules'))) {
  if (keep.has(dir) || !existsSync(dir)) continue;
  rmSync(dir, { recursive: true });
  console.log(path.relative(path.join(app, 'node_modules'), dir));
}
for (const scope of readdirSync(path.join(app, 'node_modules'))) {
  const dir = path.join(app, 'node_modules', scope);
  if (scope.startsWith('@') && readdirSync(dir).length === 0) rmSync(dir, { recursive: true });
}
