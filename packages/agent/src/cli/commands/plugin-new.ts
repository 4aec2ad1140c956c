import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { API_VERSION, CredroamError, EXTENSION_POINTS, type JsonSchema } from '@credroam/core/api';
import { CORE_VERSION } from '@credroam/core/host';
import { ExitCode, UsageError } from '../io.js';
import { type Args, type Context, out, str } from './shared.js';

/** The compiler and Node types a generated plugin builds with: the workspace's own (a test keeps them equal). */
export const PLUGIN_TYPESCRIPT = '7.0.2';
export const PLUGIN_TYPES_NODE = '20.19.43';

/** What `plugin new --kind` can write: for each kind, its extension point and a minimal, real implementation. */
export const PLUGIN_KINDS = {
  trigger: {
    point: 'Trigger',
    what: 'a trigger that fires `storeChanged` every `everySeconds` (the agent then compares and syncs)',
    declaration: { events: ['storeChanged'] },
    configuration: {
      type: 'object',
      additionalProperties: false,
      properties: { everySeconds: { type: 'integer', minimum: 10, maximum: 86400, default: 300 } },
    },
    exampleSettings: { everySeconds: 600 },
  },
  'local-store': {
    point: 'LocalStore',
    what: "a local store that keeps the user's credentials as a folder of files under the user's data folder",
    declaration: {},
    configuration: {
      type: 'object',
      additionalProperties: false,
      properties: {
        folder: {
          type: 'string',
          pattern: '^[A-Za-z0-9._-]+$',
          not: { enum: ['.', '..'] },
          default: 'credentials',
        },
      },
    },
    exampleSettings: { folder: 'credentials' },
  },
  'directory-store': {
    point: 'DirectoryStore',
    what: "a directory store that keeps each user's entry as a JSON file in a shared folder, with compare-and-swap",
    declaration: {},
    configuration: {
      type: 'object',
      required: ['folder'],
      additionalProperties: false,
      properties: { folder: { type: 'string', pattern: '^/', description: 'the shared folder (absolute)' } },
    },
    exampleSettings: { folder: '/srv/credroam-directory' },
  },
  'token-protector': {
    point: 'TokenProtector',
    what: 'a token protector that seals with AES-256-GCM under a key file the site distributes',
    declaration: {},
    configuration: {
      type: 'object',
      required: ['keyFile'],
      additionalProperties: false,
      properties: { keyFile: { type: 'string', pattern: '^/', description: 'a 32-byte key, mode 0600' } },
    },
    exampleSettings: { keyFile: '/etc/credroam/site.key' },
  },
  'policy-source': {
    point: 'PolicySource',
    what: "a policy source that reads the site's signed policy bundle from a file",
    declaration: {},
    configuration: {
      type: 'object',
      required: ['file'],
      additionalProperties: false,
      properties: {
        file: { type: 'string', pattern: '^/', description: 'the signed bundle (absolute path)' },
      },
    },
    exampleSettings: { file: '/srv/policy/site-policy.p7b' },
  },
} as const satisfies Record<
  string,
  {
    point: string;
    what: string;
    declaration: Record<string, unknown>;
    configuration: JsonSchema;
    exampleSettings: Record<string, unknown>;
  }
>;

export type PluginKind = keyof typeof PLUGIN_KINDS;

const PACKAGE_NAME = /^(?:@([a-z0-9][a-z0-9-._~]*)\/)?([a-z0-9][a-z0-9-._~]*)$/;
const TEMPLATES = new URL('../../../../templates/plugin/', import.meta.url);

/** The files of a new plugin package, by path relative to its folder. */
export async function pluginFiles(name: string, kind: PluginKind): Promise<Map<string, string>> {
  const match = PACKAGE_NAME.exec(name);
  if (!match || name.length > 214)
    throw new UsageError(
      `'${name}' is not an npm package name (lower case, e.g. hello-trigger or @acme/credroam-vault)`,
      {
        name,
      },
    );
  const [, scope, base = ''] = match;
  const slug = (s: string) => s.replace(/[._~]/g, '-').replace(/^-+/, '');
  const pluginId = `${slug(scope ?? 'local')}.${slug(base)}`;
  const contribution = slug(base.replace(/^credroam-/, '')) || 'main';
  const spec = PLUGIN_KINDS[kind];
  const info = EXTENSION_POINTS.find((p) => p.name === spec.point);
  if (!info) throw new Error(`no extension point ${spec.point}`);
  const fill = (text: string) =>
    text.replaceAll('__CONTRIBUTION__', contribution).replaceAll('__PLUGIN_ID__', pluginId);
  const template = (file: string) => readFile(new URL(`${kind}/${file}`, TEMPLATES), 'utf8').then(fill);

  const manifest = {
    name,
    version: '0.1.0',
    description: `credroam plugin: ${spec.what}`,
    type: 'module',
    license: 'UNLICENSED',
    engines: { node: '>=20.19.0' },
    files: ['dist/src'],
    scripts: {
      build: 'tsc',
      test: 'tsc && node --test dist/test/*.test.js',
      prepack: 'tsc',
    },
    peerDependencies: { '@credroam/core': `^${CORE_VERSION}` },
    devDependencies: {
      '@credroam/core': `^${CORE_VERSION}`,
      '@types/node': PLUGIN_TYPES_NODE,
      typescript: PLUGIN_TYPESCRIPT,
    },
    credroam: {
      id: pluginId,
      displayName: base,
      engines: { credroam: `^${API_VERSION}` },
      main: 'dist/src/index.js',
      activationEvents: [`${info.event}:${contribution}`],
      contributes: {
        [info.manifestKey]: [
          { id: contribution, title: spec.what, ...spec.declaration, configuration: spec.configuration },
        ],
      },
    },
  };
  const tsconfig = {
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      noUncheckedIndexedAccess: true,
      skipLibCheck: false,
      rootDir: '.',
      outDir: 'dist',
      types: ['node'],
    },
    include: ['src', 'test'],
  };
  return new Map([
    ['package.json', `${JSON.stringify(manifest, null, 2)}\n`],
    ['tsconfig.json', `${JSON.stringify(tsconfig, null, 2)}\n`],
    ['.gitignore', 'node_modules/\ndist/\n*.tgz\n'],
    ['src/index.ts', await template('index.ts')],
    [`test/${contribution}.test.ts`, await template('test.ts')],
    [
      'README.md',
      readme({ name, pluginId, contribution, kind, point: spec.point, manifestKey: info.manifestKey }),
    ],
  ]);

  function readme(r: {
    name: string;
    pluginId: string;
    contribution: string;
    kind: PluginKind;
    point: string;
    manifestKey: string;
  }) {
    // One line, spaced as people write it: {"folder": "credentials"}.
    const settings = JSON.stringify(spec.exampleSettings).replaceAll('","', '", "').replaceAll('":', '": ');
    const use = {
      trigger: `"triggers": [{ "use": "${r.contribution}", "settings": ${settings} }]`,
      'local-store': `"localStore": { "use": "${r.contribution}", "settings": ${settings} }`,
      'directory-store': `"directory": { "use": "${r.contribution}", "settings": ${settings} }`,
      'token-protector': `"protector": { "use": "${r.contribution}", "settings": ${settings} }`,
      'policy-source': `"policySources": [{ "use": "${r.contribution}", "settings": ${settings} }]`,
    }[r.kind];
    return `# ${r.name}

A credroam plugin (\`${r.pluginId}\`): ${spec.what}. It contributes the \`${r.point}\` \`${r.contribution}\`
(\`contributes.${r.manifestKey}\` in package.json, whose \`configuration\` is the schema the host checks its
settings against).

Written by \`credroam plugin new ${r.name} --kind ${r.kind}\`; the steps from here are in credroam's
docs/plugins/worked-example.md.

## Build and test

\`@credroam/core\` is a development dependency (for its types and its testing kit) and a peer
dependency (at run time the plugin uses the agent's copy). Install it from the tarball credroam's
\`node scripts/pack-kit.mjs\` writes (or from your registry), then build and test:

\`\`\`sh
npm install --save-dev /path/to/credroam-core-${CORE_VERSION}.tgz
npm test          # tsc, then node --test: the testing kit's ${r.point} contract suite, and the activation harness
\`\`\`

## Install into an agent

\`\`\`sh
npm pack                                  # ${r.name.replace(/^@/, '').replace('/', '-')}-0.1.0.tgz
npm install /path/to/that.tgz             # in the agent's installation folder
credroam policy hash-plugin node_modules/${r.name}   # what a site's policy allow-list pins
\`\`\`

and in the agent manifest:

\`\`\`json
{
  "plugins": [{ "from": "${r.name}" }],
  ${use}
}
\`\`\`

\`credroam plugins list\` then shows \`${r.pluginId} 0.1.0\`.
`;
  }
}

/** `credroam plugin new NAME --kind KIND [--dir DIR] [--force]`: writes a plugin package. */
export async function plugin(args: Args, ctx: Context): Promise<number> {
  const [sub, name] = args.positionals;
  if (sub !== 'new' || !name) throw new UsageError('usage: credroam plugin new NAME --kind KIND [--dir DIR]');
  const kind = str(args.values.kind);
  if (!kind || !Object.hasOwn(PLUGIN_KINDS, kind))
    throw new UsageError(`--kind must be one of ${Object.keys(PLUGIN_KINDS).join(', ')}`, { kind });
  const files = await pluginFiles(name, kind as PluginKind);
  const dir = path.resolve(str(args.values.dir) ?? name.replace(/^@[^/]+\//, ''));
  if (!args.values.force) {
    for (const file of files.keys()) {
      const target = path.join(dir, file);
      if (
        await access(target).then(
          () => true,
          () => false,
        )
      )
        throw new CredroamError(
          'E_EXISTS',
          `${target} already exists; add --force to replace the generated files`,
          {
            file: target,
          },
        );
    }
  }
  for (const [file, text] of files) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), text);
  }
  out(
    ctx,
    { dir, files: [...files.keys()] },
    `wrote ${[...files.keys()].join(', ')} in ${dir}\nnext: cd ${dir} && npm install --save-dev /path/to/credroam-core-${CORE_VERSION}.tgz && npm test`,
  );
  return ExitCode.Done;
}
