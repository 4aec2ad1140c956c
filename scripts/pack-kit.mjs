// Packs the workspace's packages with `pnpm pack` into a folder, as a plugin author or a site
// receives them, and checks each tarball: no `workspace:` specifier left in its package.json, and
// every file its `exports`, `main` and `bin` name is inside it. Needs a built workspace (tsc -b).
//   node scripts/pack-kit.mjs DIR        → DIR/credroam-core-0.1.0.tgz, … (one line per tarball)
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));

/** In dependency order: what a plugin needs first (core), then what an agent installation needs. */
export const KIT_PACKAGES = [
  'core',
  'plugin-pkcs12',
  'plugin-nss',
  'plugin-ldap',
  'plugin-triggers',
  'plugin-policy-https',
  'plugin-enroll-cmp',
  'plugin-enroll-scep',
  'agent',
];

/** Packs every package into `dir`; returns the tarballs by package name. Throws on a bad tarball. */
export function packKit(dir) {
  mkdirSync(dir, { recursive: true });
  const tarballs = new Map();
  for (const p of KIT_PACKAGES) {
    const before = new Set(readdirSync(dir));
    execFileSync('pnpm', ['pack', '--pack-destination', dir], {
      cwd: path.join(root, 'packages', p),
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const made = readdirSync(dir).find((f) => f.endsWith('.tgz') && !before.has(f));
    if (!made) throw new Error(`pnpm pack of packages/${p} wrote no tarball in ${dir}`);
    const file = path.join(dir, made);
    const manifest = JSON.parse(tarText(file, 'package/package.json'));
    checkTarball(file, manifest);
    tarballs.set(manifest.name, file);
  }
  return tarballs;
}

function tarText(file, member) {
  return execFileSync('tar', ['-xzOf', file, member], { encoding: 'utf8' });
}

/** A packed package.json that npm can install, and whose entry points are all in the tarball. */
function checkTarball(file, manifest) {
  const problems = [];
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies', 'devDependencies']) {
    for (const [name, spec] of Object.entries(manifest[field] ?? {}))
      if (String(spec).startsWith('workspace:')) problems.push(`${field}.${name} is ${spec}`);
  }
  const members = new Set(
    execFileSync('tar', ['-tzf', file], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((m) => m.replace(/^package\//, '')),
  );
  const targets = [];
  const walk = (v) => {
    if (typeof v === 'string') targets.push(v);
    else if (v && typeof v === 'object') for (const x of Object.values(v)) walk(x);
  };
  walk(manifest.exports);
  walk(manifest.bin);
  if (manifest.main) targets.push(manifest.main);
  if (manifest.types) targets.push(manifest.types);
  for (const t of targets) {
    const rel = path.posix.normalize(t);
    if (!members.has(rel)) problems.push(`${t} (named by its package.json) is not in the tarball`);
  }
  if (problems.length > 0) throw new Error(`${path.basename(file)}:\n  ${problems.join('\n  ')}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node scripts/pack-kit.mjs DIR');
    process.exit(2);
  }
  for (const file of packKit(path.resolve(dir)).values()) console.log(file);
}
