import { parseArgs } from 'node:util';
import { CORE_VERSION, CredroamError, EventLog, errorMessage } from '@credroam/core';
import { loadConfig } from '../config.js';
import * as commands from './commands/index.js';
import { type CliIo, ExitCode, UsageError } from './io.js';
import { createHost, formatPluginList } from './plugins.js';

const USAGE = `usage: credroam [--config FILE] <command> [options]

commands:
  init --directory URL [--home DIR] [--user NAME] [--policy FILE]
                          write a working agent manifest (file:///path: the embedded folder directory)
       LDAP: --directory ldaps://HOST:PORT | ldap://HOST:PORT (StartTLS) --ca-file FILE
             (--user-dn DN | --base DN [--filter '(uid={user})'])
             --bind gssapi [--kerberos-service ldap@HOST]   (the user's Kerberos ticket)
                  | external --client-cert-file FILE --client-key-file FILE
                  | simple [--bind-dn DN] [--bind-password-file FILE]
                    (without a file: the roaming password, only where the site policy trusts
                    the directory with it)
             [--profile openldap|ad] [--tls-server-name NAME]
  doctor                  check reachability, TLS, bind, entry, schema and write permission
  agent [--password-stdin]
                          the endpoint agent: roams on logon, unlock, refresh and store changes
  trigger logon|logoff|lock|unlock|refresh|resume|stop
                          tell the running agent (for session managers other than logind)
  logon --start-agent     hand the password to a new agent
  logon --pam --password-stdin
                          what the PAM hook runs after the system accepted the password: hand it
                          to the agent (starting one if needed); a changed password re-wraps the keys
  logon                   open the user's keys with the roaming password (first use: create them), full sync
  logoff                  a final sync
  sync [--dry-run] [--full]
                          roam now; --dry-run prints the plan and writes nothing
  status                  the user, the directory, the credentials, the last sync
  list                    the credentials on this endpoint (thumbprints, subject, expiry, key, sync state)
  import FILE.p12 | CERT.pem KEY.pem [--passin SPEC]
                          add a credential (PKCS#12 or PEM) to this endpoint's store
  export THUMBPRINT --out FILE.p12 --passout SPEC [--force]
                          write a credential as PKCS#12 (PBES2, AES-256, HMAC-SHA256)
  remove THUMBPRINT       remove a credential from this endpoint; the deletion roams
  passwd                  re-wrap the keys for a new roaming password
  recover --escrow-key FILE [--user NAME]
                          an administrator with the escrow key sets a new password after a reset
  plugins list            the plugins, their state and contributions

secrets never go on the command line:
  roaming password   --password-stdin | --password-file FILE | $CREDROAM_PASSWORD_FILE
  passwd             --old-password-file FILE --new-password-file FILE (or two lines on --password-stdin)
  file passwords     --passin / --passout file:PATH | env:VAR | fd:N | stdin

global options:
  --config FILE   the agent manifest (else $CREDROAM_CONFIG, else $XDG_CONFIG_HOME/credroam/config.json)
  --json          machine-readable output with a stable shape
  --verbose       the full event log (JSON lines) on stderr

  --help, --version

exit codes: 0 done, 1 failed, 2 usage, 3 done with skipped items
`;

const OPTIONS = {
  config: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
  version: { type: 'boolean' },
  'password-stdin': { type: 'boolean' },
  'password-file': { type: 'string' },
  'old-password-file': { type: 'string' },
  'new-password-file': { type: 'string' },
  'escrow-key': { type: 'string' },
  'dry-run': { type: 'boolean' },
  full: { type: 'boolean' },
  directory: { type: 'string' },
  home: { type: 'string' },
  user: { type: 'string' },
  policy: { type: 'string' },
  passin: { type: 'string' },
  passout: { type: 'string' },
  out: { type: 'string' },
  force: { type: 'boolean' },
  verbose: { type: 'boolean' },
  'ca-file': { type: 'string' },
  'user-dn': { type: 'string' },
  base: { type: 'string' },
  filter: { type: 'string' },
  bind: { type: 'string' },
  'bind-dn': { type: 'string' },
  'bind-password-file': { type: 'string' },
  'client-cert-file': { type: 'string' },
  'client-key-file': { type: 'string' },
  'kerberos-service': { type: 'string' },
  profile: { type: 'string' },
  'tls-server-name': { type: 'string' },
  'start-agent': { type: 'boolean' },
  pam: { type: 'boolean' },
} as const;

type Handler = (args: commands.Args, ctx: commands.Context) => Promise<number>;

const COMMANDS: Record<string, Handler> = {
  init: commands.init,
  logon: commands.logon,
  logoff: commands.logoff,
  sync: commands.sync,
  status: commands.status,
  list: commands.list,
  import: commands.importCredential,
  export: commands.exportCredential,
  remove: commands.remove,
  passwd: commands.passwd,
  recover: commands.recover,
  doctor: commands.doctor,
  agent: commands.agent,
  trigger: commands.trigger,
  plugins: pluginsCommand,
};

async function pluginsCommand(args: commands.Args, ctx: commands.Context): Promise<number> {
  if (args.positionals[0] !== 'list' || args.positionals.length > 1)
    throw new UsageError('usage: credroam plugins list [--json]');
  const config = await loadConfig(
    typeof args.values.config === 'string' ? args.values.config : undefined,
    ctx.io.env,
  );
  const host = await createHost(config, ctx.log);
  try {
    await host.start();
    const plugins = host.list();
    ctx.io.stdout(ctx.json ? `${JSON.stringify({ plugins }, null, 2)}\n` : formatPluginList(plugins));
    return plugins.some((p) => p.state === 'failed') ? ExitCode.Skipped : ExitCode.Done;
  } finally {
    await host.dispose();
  }
}

/** Runs one CLI invocation; returns the exit code. Never calls process.exit. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    io.stderr(`credroam: ${errorMessage(error)}\n${USAGE}`);
    return ExitCode.Usage;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(USAGE);
    return ExitCode.Done;
  }
  if (values.version) {
    io.stdout(`credroam ${CORE_VERSION}\n`);
    return ExitCode.Done;
  }
  const json = Boolean(values.json);
  // The log goes to stderr as JSON lines; a person at a terminal sees warnings and errors only.
  const log = new EventLog({ write: io.stderr, level: values.verbose ? 'debug' : 'warn' });
  const [command, ...rest] = positionals;
  try {
    if (command === undefined) throw new UsageError('no command given');
    const handler = COMMANDS[command];
    if (!handler) throw new UsageError(`unknown command '${command}'`);
    return await handler({ values, positionals: rest }, { io, log, json });
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`credroam: ${error.message}\n${USAGE}`);
      return ExitCode.Usage;
    }
    const code = error instanceof CredroamError ? ` [${error.code}]` : '';
    io.stderr(`credroam: ${errorMessage(error)}${code}\n`);
    return ExitCode.Failed;
  }
}
