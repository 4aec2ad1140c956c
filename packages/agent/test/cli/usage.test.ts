import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { BIN, credroam, opensslP12, tempDir, twoEndpoints } from '../support.js';

const COMMANDS = [
  'init',
  'logon',
  'logoff',
  'sync',
  'status',
  'list',
  'import',
  'export',
  'remove',
  'passwd',
  'recover',
  'doctor',
  'agent',
  'trigger',
  'plugins',
  'policy',
];

interface ErrorJson {
  error: { code: string; message: string; ids: Record<string, unknown> };
}

test('--dry-run: import and remove say what they would do and write nothing; every other command but sync refuses it (exit 2)', async (t) => {
  const w = await twoEndpoints(t);
  const cred = await opensslP12(w.dir);
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  const store = async () =>
    [
      ...(await readdir(path.join(w.dir, 'a', 'store', 'certs')).catch(() => [])),
      ...(await readdir(path.join(w.dir, 'a', 'store', 'keys')).catch(() => [])),
    ].length;

  const dryImport = await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw, '--dry-run']);
  t.is(dryImport.code, 0, dryImport.stderr);
  t.regex(dryImport.stdout, new RegExp(`would import ${cred.fingerprint} with its private key`));
  t.is(await store(), 0, 'import --dry-run wrote nothing');

  t.is((await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);
  t.is((await w.a(['sync', ...w.pw])).code, 0);
  const dryRemove = await w.a(['remove', cred.fingerprint, '--dry-run', '--json']);
  t.is(dryRemove.code, 0, dryRemove.stderr);
  t.like(JSON.parse(dryRemove.stdout), { dryRun: true, wouldRemove: cred.fingerprint, hasKey: true });
  t.is(await store(), 2, 'remove --dry-run removed nothing');
  const sync = await w.a(['sync', '--full', ...w.pw, '--json']);
  t.like(JSON.parse(sync.stdout), { counts: { tombstoned: 0 } }, 'and no deletion roams');

  for (const command of COMMANDS.filter((c) => !['sync', 'import', 'remove'].includes(c))) {
    const r = await w.a([command, '--dry-run']);
    t.is(r.code, 2, `${command} --dry-run: ${r.stdout}${r.stderr}`);
    t.is(
      r.stderr,
      `credroam ${command}: ${command} does not take --dry-run; see \`credroam ${command} --help\`\n`,
    );
  }
  t.is(await store(), 2);
});

test('a flag a command does not take is a usage error naming both; so are a missing value and stray arguments', async (t) => {
  const dir = await tempDir(t);
  const env = { XDG_CONFIG_HOME: dir, XDG_DATA_HOME: dir };
  const cases: Array<[string[], string]> = [
    [['sync', '--passin', 'file:x'], 'credroam sync: sync does not take --passin'],
    [
      ['remove', 'abcdef01', '--password-file', 'pw'],
      'credroam remove: remove does not take --password-file',
    ],
    [['status', '--full'], 'credroam status: status does not take --full'],
    [['sync', '--bogus'], 'credroam sync: unknown flag --bogus'],
    [['export', 'abcdef01', '--out'], 'credroam export: --out needs a value: --out FILE'],
    [['sync', '--dry-run=yes'], 'credroam sync: --dry-run takes no value'],
    [['status', 'extra'], 'credroam status: status takes no arguments, only flags (got 1)'],
    [['remove'], 'credroam remove: remove takes THUMBPRINT (got 0 arguments)'],
  ];
  for (const [args, line] of cases) {
    const r = await credroam(args, { env });
    t.is(r.code, 2, args.join(' '));
    t.is(r.stderr, `${line}; see \`credroam ${args[0]} --help\`\n`, args.join(' '));
    t.is(r.stdout, '');
  }
  const unknown = await credroam(['frobnicate'], { env });
  t.is(unknown.code, 2);
  t.is(unknown.stderr, "credroam: unknown command 'frobnicate'; see `credroam --help`\n");
  t.deepEqual(await readdir(dir), [], 'nothing was created');
});

test('credroam <command> --help prints its usage, its flags and an example; the global help lists every command', async (t) => {
  for (const command of COMMANDS) {
    const r = await credroam([command, '--help']);
    t.is(r.code, 0, command);
    t.true(r.stdout.startsWith(`usage: credroam ${command}`), r.stdout);
    t.regex(r.stdout, new RegExp(`\\nexample:\\n {2}credroam ${command}\\b`));
    t.notRegex(r.stdout, /^commands:/m, 'not the global help');
  }
  const sync = await credroam(['sync', '--help']);
  for (const flag of ['--dry-run', '--full', '--password-stdin', '--password-file FILE', '--json'])
    t.true(sync.stdout.includes(`  ${flag} `), `sync --help names ${flag}`);
  t.false(sync.stdout.includes('--passin'), 'only the flags sync takes');
  const init = await credroam(['init', '-h']);
  for (const flag of ['--bind-dn DN', '--bind-password-file FILE', '--base DN', '--filter FILTER'])
    t.true(init.stdout.includes(`  ${flag} `), `init --help names ${flag}`);
  const global = await credroam(['--help']);
  t.is(global.code, 0);
  for (const command of COMMANDS) t.regex(global.stdout, new RegExp(`^ {2}${command} `, 'm'));
  t.regex(global.stdout, /credroam <command> --help: its usage, flags and an example/);
});

test('with --json, errors are JSON on stdout too ({ error: { code, message, ids } }), with the same exit code', async (t) => {
  const w = await twoEndpoints(t);
  const usage = await w.a(['sync', '--passin', 'stdin', '--json']);
  t.is(usage.code, 2);
  t.deepEqual(JSON.parse(usage.stdout) as ErrorJson, {
    error: {
      code: 'E_USAGE',
      message: 'sync does not take --passin',
      ids: { command: 'sync', flag: '--passin' },
    },
  });
  t.regex(usage.stderr, /^credroam sync: sync does not take --passin; see/);
  const missing = await w.a(['remove', 'deadbeefdeadbeef', '--json']);
  t.is(missing.code, 1);
  const error = (JSON.parse(missing.stdout) as ErrorJson).error;
  t.is(error.code, 'E_NOT_FOUND');
  t.regex(error.message, /no credential with thumbprint deadbeefdeadbeef/);
  t.deepEqual(error.ids, { thumbprint: 'deadbeefdeadbeef' });
});

test('without an agent manifest, every command that needs one says to run credroam init, and creates nothing', async (t) => {
  const dir = await tempDir(t);
  const env = { XDG_CONFIG_HOME: path.join(dir, 'config'), XDG_DATA_HOME: path.join(dir, 'data') };
  const file = path.join(dir, 'config', 'credroam', 'config.json');
  const runs: string[][] = [
    ['logon', '--password-stdin'],
    ['logoff'],
    ['sync', '--password-stdin'],
    ['status'],
    ['list'],
    ['import', 'x.p12'],
    ['export', 'abcdef01', '--out', 'x.p12', '--passout', 'env:X'],
    ['remove', 'abcdef01'],
    ['passwd', '--password-stdin'],
    ['recover', '--escrow-key', 'k.pem', '--password-stdin'],
    ['doctor'],
    ['agent'],
    ['trigger', 'logon'],
  ];
  for (const args of runs) {
    const r = await credroam(args, { env, input: 'x\ny\n' });
    t.is(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    t.is(
      r.stderr,
      `credroam ${args[0]}: cannot read the agent manifest ${file}: there is none; run \`credroam init --directory URL\` to write one (see \`credroam init --help\`) [E_NO_CONFIG]\n`,
    );
  }
  const json = await credroam(['status', '--json'], { env });
  t.like(JSON.parse(json.stdout) as ErrorJson, { error: { code: 'E_NO_CONFIG', ids: { file } } });
  const named = await credroam(['--config', path.join(dir, 'nope.json'), 'status'], { env });
  t.is(named.code, 1);
  t.regex(named.stderr, /run `credroam init --config \S+nope\.json --directory URL` to write one/);
  t.deepEqual(await readdir(dir), [], 'no home, no directory folder, nothing');
});

test('init refuses a flag it would not write into the manifest', async (t) => {
  const dir = await tempDir(t);
  const ldap = ['--directory', 'ldaps://ldap.example.org:636', '--ca-file', 'ca.pem'];
  const cases: Array<[string[], string]> = [
    [
      ['--directory', `file://${dir}/d`, '--bind', 'simple'],
      '--bind is for an LDAP directory; --directory file: takes none',
    ],
    [
      [...ldap, '--user-dn', 'uid=a,dc=x', '--bind', 'gssapi', '--bind-dn', 'cn=svc,dc=x'],
      '--bind-dn goes with --bind simple, not --bind gssapi',
    ],
    [
      [...ldap, '--user-dn', 'uid=a,dc=x', '--bind', 'simple', '--client-cert-file', 'c.pem'],
      '--client-cert-file goes with --bind external, not --bind simple',
    ],
    [
      [...ldap, '--user-dn', 'uid=a,dc=x', '--base', 'dc=x', '--bind', 'gssapi'],
      '--base searches for the entry: give it or --user-dn, not both',
    ],
  ];
  for (const [args, message] of cases) {
    const r = await credroam(['init', '--config', path.join(dir, 'c.json'), ...args]);
    t.is(r.code, 2, args.join(' '));
    t.is(r.stderr, `credroam init: ${message}; see \`credroam init --help\`\n`);
  }
  t.deepEqual(await readdir(dir), [], 'nothing was written');
});

test('a reader that goes away (credroam … | head -1) costs nothing: the command finishes its work and exits with its own code, without a stack trace', async (t) => {
  const w = await twoEndpoints(t);
  const cred = await opensslP12(w.dir);
  t.is((await w.a(['import', cred.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);
  // The pipe's reading end is closed before the command writes a byte: its writes meet EPIPE.
  const child = spawn(
    process.execPath,
    [BIN, '--config', path.join(w.dir, 'a.json'), 'sync', '--json', ...w.pw],
    {
      cwd: w.dir,
      env: { PATH: process.env.PATH, XDG_CONFIG_HOME: path.join(w.dir, 'xdg') },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  t.is(code, 0, stderr);
  t.notRegex(stderr, /EPIPE|Unhandled|at /);
  // The sync went on: the other endpoint receives the credential.
  const b = await w.b(['sync', '--json', ...w.pw]);
  t.true((JSON.parse(b.stdout) as { counts: { downloaded: number } }).counts.downloaded >= 2, b.stdout);
  t.deepEqual(
    JSON.parse((await w.b(['list', '--json'])).stdout),
    JSON.parse((await w.a(['list', '--json'])).stdout),
  );
});
