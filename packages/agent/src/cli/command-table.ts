import type { Args, Context } from './commands/shared.js';

/**
 * Every flag the CLI knows, once: its type, the value it takes, and what it means. A command
 * accepts only the flags its entry in `COMMANDS` names (and the global ones): any other flag is a
 * usage error naming the flag and the command, so no command can silently ignore one.
 */
export const FLAGS = {
  // global
  config: {
    type: 'string',
    value: 'FILE',
    help: 'the agent manifest (else $CREDROAM_CONFIG, else the XDG path)',
  },
  json: { type: 'boolean', help: 'machine-readable output with a stable shape; errors too, on stdout' },
  verbose: { type: 'boolean', help: 'the full event log (JSON lines) on stderr' },
  help: { type: 'boolean', short: 'h', help: 'this help' },
  version: { type: 'boolean', help: 'the version' },
  // secrets (never in argv)
  'password-stdin': { type: 'boolean', help: 'read the roaming password from standard input' },
  'password-file': {
    type: 'string',
    value: 'FILE',
    help: 'read the roaming password from FILE (else $CREDROAM_PASSWORD_FILE)',
  },
  'old-password-file': { type: 'string', value: 'FILE', help: 'the current roaming password' },
  'new-password-file': { type: 'string', value: 'FILE', help: 'the new roaming password' },
  passin: {
    type: 'string',
    value: 'SPEC',
    help: "the file's password: file:PATH, env:VAR, fd:N or stdin (never pass:)",
  },
  passout: {
    type: 'string',
    value: 'SPEC',
    help: "the new file's password: file:PATH, env:VAR, fd:N or stdin (never pass:)",
  },
  'escrow-key': { type: 'string', value: 'FILE', help: "the site's escrow private key (PEM)" },
  // behaviour
  'dry-run': { type: 'boolean', help: 'say what would be done; write nothing' },
  full: { type: 'boolean', help: 'read everything, not just the change stamp' },
  force: { type: 'boolean', help: 'replace an existing file' },
  kind: {
    type: 'string',
    value: 'KIND',
    help: 'plugin new: trigger, local-store, directory-store, token-protector or policy-source',
  },
  dir: { type: 'string', value: 'DIR', help: 'plugin new: the folder to write (default ./NAME)' },
  out: { type: 'string', value: 'FILE', help: 'the file to write' },
  'start-agent': { type: 'boolean', help: 'start an agent that holds the keys for the session' },
  pam: { type: 'boolean', help: "what the PAM hook runs (the password may carry the hook's proof)" },
  // init
  directory: {
    type: 'string',
    value: 'URL',
    help: 'file:///path (the embedded folder directory), ldaps://HOST:PORT or ldap://HOST:PORT (StartTLS)',
  },
  home: {
    type: 'string',
    value: 'DIR',
    help: "this endpoint's store and state (default $XDG_DATA_HOME/credroam)",
  },
  user: { type: 'string', value: 'NAME', help: 'the user (default: the login name)' },
  policy: {
    type: 'string',
    value: 'FILE',
    help: 'the unsigned local policy file (JSON; not a signed bundle)',
  },
  'ca-file': { type: 'string', value: 'FILE', help: 'LDAP: the CA that issued the server certificate' },
  'user-dn': { type: 'string', value: 'DN', help: "LDAP: the user's entry" },
  base: { type: 'string', value: 'DN', help: "LDAP: where to search for the user's entry" },
  filter: { type: 'string', value: 'FILTER', help: "LDAP: the search filter (default '(uid={user})')" },
  bind: {
    type: 'string',
    value: 'KIND',
    help: 'LDAP: gssapi (Kerberos), external (client certificate) or simple',
  },
  'bind-dn': {
    type: 'string',
    value: 'DN',
    help: 'simple bind: as this DN ({user} is replaced): a service account, or the user as uid={user},… or {user}@domain',
  },
  'bind-password-file': {
    type: 'string',
    value: 'FILE',
    help: "simple bind: the service account's password (without it: the roaming password)",
  },
  'client-cert-file': { type: 'string', value: 'FILE', help: 'external bind: the client certificate (PEM)' },
  'client-key-file': { type: 'string', value: 'FILE', help: 'external bind: its private key (PEM)' },
  'kerberos-service': { type: 'string', value: 'ldap@HOST', help: "gssapi bind: the server's service name" },
  profile: { type: 'string', value: 'openldap|ad', help: 'LDAP: the schema profile (default openldap)' },
  // policy
  key: { type: 'string', value: 'FILE', help: 'policy sign: the signing private key (PEM, owner-only file)' },
  'key-stdin': { type: 'boolean', help: 'policy sign: read the signing private key from standard input' },
  cert: { type: 'string', value: 'FILE', help: 'policy sign: the signing certificate (policy-signing EKU)' },
  chain: { type: 'string', value: 'FILE', help: 'policy sign: intermediate CA certificates to carry (PEM)' },
  root: { type: 'string', value: 'FILE', help: 'policy verify: the site policy root (PEM)' },
  site: {
    type: 'string',
    value: 'ID',
    help: "policy verify: the site to check for (default: the bundle's own)",
  },
  'tls-server-name': { type: 'string', value: 'NAME', help: "LDAP: the name in the server's certificate" },
} as const satisfies Record<
  string,
  { type: 'string' | 'boolean'; value?: string; help: string; short?: string }
>;

export type Flag = keyof typeof FLAGS;

export const GLOBAL_FLAGS: readonly Flag[] = ['config', 'json', 'verbose', 'help', 'version'];

const ROAMING_PASSWORD: readonly Flag[] = ['password-stdin', 'password-file'];

type Handler = (args: Args, ctx: Context) => Promise<number>;

/**
 * A command's handler, its module imported when the command runs: `credroam --version` or
 * `credroam sync` loads only what it uses (decision 024).
 */
const lazy =
  <K extends string>(load: () => Promise<Record<K, Handler>>, name: K): Handler =>
  async (args, ctx) =>
    (await load())[name](args, ctx);

/** One command: what it does, how it is called, what it accepts, and an example. */
export interface CommandSpec {
  readonly run: Handler;
  readonly summary: string;
  /** The arguments after `credroam <command>` (flags included). */
  readonly usage: string;
  readonly flags: readonly Flag[];
  /** How many arguments (not flags) it takes, at least and at most; named as `usage` names them. */
  readonly operands?: { readonly min: number; readonly max: number; readonly names: string };
  /** Flag descriptions that differ from `FLAGS` for this command. */
  readonly flagHelp?: Partial<Record<Flag, string>>;
  readonly example: string;
  /** More lines for `--help`. */
  readonly notes?: string;
  /** False for the commands that run without an agent manifest (init, plugins list). */
  readonly needsConfig: boolean;
}

export const COMMANDS: Readonly<Record<string, CommandSpec>> = {
  init: {
    run: lazy(() => import('./commands/init.js'), 'init'),
    summary: 'write a working agent manifest',
    usage:
      '--directory URL [--home DIR] [--user NAME] [--policy FILE] [--force]\n' +
      '      LDAP: --ca-file FILE (--user-dn DN | --base DN [--filter F]) --bind gssapi|external|simple …',
    flags: [
      'directory',
      'home',
      'user',
      'policy',
      'force',
      'ca-file',
      'user-dn',
      'base',
      'filter',
      'bind',
      'bind-dn',
      'bind-password-file',
      'client-cert-file',
      'client-key-file',
      'kerberos-service',
      'profile',
      'tls-server-name',
    ],
    flagHelp: { force: 'replace an existing agent manifest' },
    example:
      'credroam init --directory ldaps://ldap.example.org:636 --ca-file /etc/ssl/certs/ca.pem \\\n' +
      "      --base ou=people,dc=example,dc=org --filter '(uid={user})' --bind gssapi",
    notes:
      'LDAP binds: --bind gssapi [--kerberos-service ldap@HOST] (the Kerberos ticket of the user);\n' +
      '  --bind external --client-cert-file FILE --client-key-file FILE (a client certificate);\n' +
      '  --bind simple --bind-dn DN --bind-password-file FILE (a service account: needs no trust);\n' +
      '  --bind simple [--bind-dn DN] (the roaming password: only where the site policy sets\n' +
      '  directory.trustWithPassword). With --base and --bind simple, --bind-dn says who binds.\n' +
      'Writes --config FILE, else $CREDROAM_CONFIG, else $XDG_CONFIG_HOME/credroam/config.json.',
    needsConfig: false,
  },
  logon: {
    run: lazy(() => import('./commands/sync.js'), 'logon'),
    summary: "open the user's keys with the roaming password (first use: create them), full sync",
    usage: '(--password-stdin | --password-file FILE) [--start-agent | --pam]',
    flags: [...ROAMING_PASSWORD, 'start-agent', 'pam'],
    example: 'credroam logon --start-agent --password-file ~/.credroam-password',
    notes:
      'A running agent takes the password over its socket; with --start-agent one is started. ' +
      'Keep the password file owner-only: (umask 077; cat > ~/.credroam-password), or chmod 600 it; ' +
      'a file group or others can read is warned about on every read.',
    needsConfig: true,
  },
  logoff: {
    run: lazy(() => import('./commands/sync.js'), 'logoff'),
    summary: 'a final sync (through the running agent, if one runs)',
    usage: '[--password-stdin | --password-file FILE]',
    flags: ROAMING_PASSWORD,
    example: 'credroam logoff',
    needsConfig: true,
  },
  sync: {
    run: lazy(() => import('./commands/sync.js'), 'sync'),
    summary: 'roam now',
    usage: '[--password-stdin | --password-file FILE] [--dry-run] [--full]',
    flags: [...ROAMING_PASSWORD, 'dry-run', 'full'],
    flagHelp: { 'dry-run': 'print the plan (uploads, downloads, removals, and why); write nothing' },
    example: 'credroam sync --dry-run --password-file ~/.credroam-password',
    notes:
      'With a running agent that holds your keys (credroam logon --start-agent), the agent syncs and no password is needed; ' +
      'else (or with --dry-run) this process syncs, with the roaming password. ' +
      'Exit code 3: done, with skipped items (listed, each with its event id), until they are fixed.',
    needsConfig: true,
  },
  enroll: {
    run: lazy(() => import('./commands/enroll.js'), 'enroll'),
    summary:
      "request, renew or finish the certificates the site policy's enrollment profiles say the user should have",
    usage: '[--password-stdin | --password-file FILE] [--dry-run]',
    flags: [...ROAMING_PASSWORD, 'dry-run'],
    flagHelp: {
      'dry-run': 'print what each profile needs (request, renew, poll); do nothing',
      'password-file': 'not needed while an agent holds the keys (it enrolls)',
    },
    example: 'credroam enroll --dry-run --password-file ~/.credroam-password',
    notes:
      'The agent enrolls by itself after the logon sync and each policy refresh; this runs it now, retry times aside. Exit code 1: a profile is failing (the line says why).',
    needsConfig: true,
  },
  status: {
    run: lazy(() => import('./commands/inventory.js'), 'status'),
    summary: 'the user, the directory, the credentials, what is skipped, the last sync, the agent',
    usage: '',
    flags: [],
    example: 'credroam status --json',
    needsConfig: true,
  },
  list: {
    run: lazy(() => import('./commands/inventory.js'), 'list'),
    summary: 'the credentials on this endpoint (thumbprints, subject, expiry, key, sync state)',
    usage: '[--password-stdin | --password-file FILE]',
    flags: ROAMING_PASSWORD,
    flagHelp: { 'password-file': 'also check that each private key opens' },
    example: 'credroam list',
    needsConfig: true,
  },
  import: {
    run: lazy(() => import('./commands/manage.js'), 'importCredential'),
    summary: "add a credential (PKCS#12 or PEM) to this endpoint's store",
    usage:
      'FILE.p12 | CERT.pem KEY.pem [--passin SPEC] [--password-stdin | --password-file FILE] [--dry-run]',
    operands: { min: 1, max: 2, names: 'FILE.p12, or CERT.pem KEY.pem' },
    flags: ['passin', ...ROAMING_PASSWORD, 'dry-run'],
    flagHelp: { 'dry-run': 'read and check the file, say what would be imported; write nothing' },
    example: 'credroam import alice.p12 --passin file:alice-p12-password',
    notes:
      "A private key is encrypted at rest with the user's keys: the running agent's, when it holds\n" +
      'them, else opened with the roaming password.',
    needsConfig: true,
  },
  export: {
    run: lazy(() => import('./commands/manage.js'), 'exportCredential'),
    summary: 'write a credential as PKCS#12 (PBES2, AES-256, HMAC-SHA256)',
    usage: 'THUMBPRINT --out FILE.p12 --passout SPEC [--force] [--password-stdin | --password-file FILE]',
    operands: { min: 1, max: 1, names: 'THUMBPRINT' },
    flags: ['out', 'passout', 'force', ...ROAMING_PASSWORD],
    example: 'credroam export 3f7a9c01 --out alice.p12 --passout file:alice-p12-password',
    notes:
      'THUMBPRINT: SHA-256 or SHA-1, or a prefix of at least 8 hex digits. The private key is opened\n' +
      "with the running agent's keys, when it holds them, else with the roaming password.",
    needsConfig: true,
  },
  remove: {
    run: lazy(() => import('./commands/manage.js'), 'remove'),
    summary: 'remove a credential from this endpoint; the deletion roams',
    usage: 'THUMBPRINT [--dry-run]',
    operands: { min: 1, max: 1, names: 'THUMBPRINT' },
    flags: ['dry-run'],
    flagHelp: { 'dry-run': 'say which credential would be removed; remove nothing' },
    example: 'credroam remove 3f7a9c01',
    notes: 'THUMBPRINT: SHA-256 or SHA-1, or a prefix of at least 8 hex digits.',
    needsConfig: true,
  },
  passwd: {
    run: lazy(() => import('./commands/passwords.js'), 'passwd'),
    summary: 're-wrap the keys for a new roaming password',
    usage: '--old-password-file FILE --new-password-file FILE | --password-stdin (two lines: old, new)',
    flags: ['old-password-file', 'new-password-file', 'password-stdin'],
    flagHelp: { 'password-stdin': 'read the old and the new password, one a line, from standard input' },
    example: 'credroam passwd --old-password-file old.txt --new-password-file new.txt',
    needsConfig: true,
  },
  recover: {
    run: lazy(() => import('./commands/passwords.js'), 'recover'),
    summary: 'an administrator with the escrow key sets a new password after a reset',
    usage: '--escrow-key FILE (--new-password-file FILE | --password-stdin) [--user NAME]',
    flags: ['escrow-key', 'new-password-file', 'password-stdin', 'user'],
    flagHelp: {
      'password-stdin': 'read the new password from standard input',
      user: 'the user to recover (default: the manifest’s)',
    },
    example: 'credroam recover --user alice --escrow-key escrow.key --new-password-file new.txt',
    needsConfig: true,
  },
  doctor: {
    run: lazy(() => import('./commands/doctor.js'), 'doctor'),
    summary: 'check the store, reachability, TLS, bind, entry, schema and write permission',
    usage: '[--password-stdin | --password-file FILE]',
    flags: ROAMING_PASSWORD,
    flagHelp: { 'password-file': 'the roaming password, for a bind that uses it' },
    example: 'credroam doctor --json',
    needsConfig: true,
  },
  agent: {
    run: lazy(() => import('./commands/agent.js'), 'agent'),
    summary: 'the endpoint agent: roams on logon, unlock, refresh and store changes',
    usage: '[--password-stdin]',
    flags: ['password-stdin'],
    flagHelp: { 'password-stdin': 'log on at once with the password on standard input' },
    example: 'credroam agent',
    needsConfig: true,
  },
  trigger: {
    run: lazy(() => import('./commands/agent.js'), 'trigger'),
    summary: 'tell the running agent (for session managers other than logind)',
    usage: 'logon|logoff|lock|unlock|refresh|resume|stop',
    operands: { min: 1, max: 1, names: 'logon|logoff|lock|unlock|refresh|resume|stop' },
    flags: [],
    example: 'credroam trigger unlock',
    needsConfig: true,
  },
  plugins: {
    run: lazy(() => import('./commands/plugins.js'), 'plugins'),
    summary: 'the plugins, their state and contributions',
    usage: 'list',
    operands: { min: 1, max: 1, names: 'list' },
    flags: [],
    example: 'credroam plugins list --json',
    notes: 'Without an agent manifest: the first-party plugins that one would load.',
    needsConfig: false,
  },
  plugin: {
    run: lazy(() => import('./commands/plugin-new.js'), 'plugin'),
    summary: 'write a new plugin package: manifest, source, a test with the testing kit, README',
    usage:
      'new NAME --kind trigger|local-store|directory-store|token-protector|policy-source [--dir DIR] [--force]',
    operands: { min: 2, max: 2, names: 'new NAME' },
    flags: ['kind', 'dir', 'force'],
    flagHelp: { force: 'replace files it generated before' },
    example: 'credroam plugin new @acme/credroam-badge --kind trigger',
    notes: 'docs/plugins/worked-example.md: from here to a plugin an agent loads.',
    needsConfig: false,
  },
  policy: {
    run: lazy(() => import('./commands/policy.js'), 'policy'),
    summary: 'the signed site policy: validate, sign, verify, show, hash-plugin',
    usage:
      'validate FILE | sign --key FILE|--key-stdin --cert FILE [--chain FILE] [--out FILE] FILE\n' +
      '      | verify BUNDLE --root FILE [--site ID] | show | hash-plugin DIR',
    operands: { min: 1, max: 2, names: 'validate|sign|verify|show|hash-plugin [FILE|DIR]' },
    flags: ['key', 'key-stdin', 'cert', 'chain', 'out', 'root', 'site'],
    example: 'credroam policy verify site-policy.p7m --root policy-root.pem',
    notes: 'docs/admin/policy.md: making a site root, signing, distributing, rolling keys.',
    needsConfig: false,
  },
};

const flagText = (name: Flag, help: string): string => {
  const f = FLAGS[name] as { readonly value?: string; readonly short?: string };
  const left = `${f.short ? `-${f.short}, ` : ''}--${name}${f.value ? ` ${f.value}` : ''}`;
  return `  ${left.padEnd(30)} ${help}`;
};

/** `credroam <command> --help`: usage, flags, an example. */
export function commandHelp(name: string, spec: CommandSpec): string {
  const lines = [`usage: credroam ${name}${spec.usage ? ` ${spec.usage}` : ''}`, '', spec.summary, ''];
  if (spec.notes) lines.push(spec.notes, '');
  lines.push('flags:');
  for (const flag of spec.flags) lines.push(flagText(flag, spec.flagHelp?.[flag] ?? FLAGS[flag].help));
  if (spec.flags.length === 0) lines.push('  (none of its own)');
  lines.push('', 'global flags:');
  for (const flag of GLOBAL_FLAGS) lines.push(flagText(flag, FLAGS[flag].help));
  lines.push('', 'example:', `  ${spec.example}`, '', EXIT_CODES);
  return `${lines.join('\n')}\n`;
}

const EXIT_CODES = 'exit codes: 0 done, 1 failed, 2 usage, 3 done with skipped items';

/** `credroam --help`: every command in one line, and where to read more. */
export function globalHelp(): string {
  const lines = ['usage: credroam [--config FILE] [--json] [--verbose] <command> [options]', '', 'commands:'];
  for (const [name, spec] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(10)} ${spec.summary}`);
  lines.push(
    '',
    'credroam <command> --help: its usage, flags and an example.',
    '',
    'secrets never go on the command line:',
    '  roaming password   --password-stdin | --password-file FILE | $CREDROAM_PASSWORD_FILE',
    '  file passwords     --passin / --passout file:PATH | env:VAR | fd:N | stdin',
    '',
    'global flags:',
  );
  for (const flag of GLOBAL_FLAGS) lines.push(flagText(flag, FLAGS[flag].help));
  lines.push('', EXIT_CODES);
  return `${lines.join('\n')}\n`;
}
