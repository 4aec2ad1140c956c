import { mkdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CredroamError, FolderDirectoryStore, writeFileAtomic } from '@credroam/core';
import { defaultConfigPath, defaultHome } from '../../config.js';
import { readLocalPolicy } from '../../policy.js';
import { loadPolicy } from '../../session.js';
import { ExitCode, UsageError } from '../io.js';
import { exposedSecret, exposedSecretWarning } from '../secrets.js';
import { type Args, type Context, out, str } from './shared.js';

// --- init --------------------------------------------------------------------------------------

export async function init(args: Args, ctx: Context): Promise<number> {
  const directory = str(args.values.directory);
  if (!directory) {
    throw new UsageError(
      'init needs --directory URL: file:///path (a folder), ldaps://HOST:PORT or ldap://HOST:PORT (StartTLS)',
    );
  }
  const file = path.resolve(
    str(args.values.config) ?? (ctx.io.env.CREDROAM_CONFIG || defaultConfigPath(ctx.io.env)),
  );
  if (!args.values.force && (await exists(file))) {
    throw new CredroamError('E_EXISTS', `${file} already exists; add --force to replace it`, { file });
  }
  let url: URL;
  try {
    url = new URL(directory);
  } catch {
    throw new UsageError(
      `--directory '${directory}' is not a URL (file:///path, ldaps://host:port or ldap://host:port)`,
    );
  }
  const home = path.resolve(str(args.values.home) ?? defaultHome(ctx.io.env));
  const user = str(args.values.user) ?? os.userInfo().username;
  const policyFile = str(args.values.policy) ? path.resolve(str(args.values.policy)!) : undefined;
  // A manifest every command would refuse is not written: the file must read as a local policy.
  if (policyFile) await readLocalPolicy(policyFile);
  const warnings: string[] = [];
  /** The folder directory's root, when init made it. */
  let made: string | undefined;
  let selection: { use: string; settings: Record<string, unknown> };
  refuseUnused(args, url.protocol);
  if (url.protocol === 'file:') {
    const root = fileURLToPath(url);
    selection = { use: 'folder', settings: { url: pathToFileURL(root).href } };
    const found = await directoryRoot(root, user);
    if (found.warning) warnings.push(found.warning);
    if (found.made) made = root;
  } else if (url.protocol === 'ldaps:' || url.protocol === 'ldap:') {
    const caFile = str(args.values['ca-file']);
    if (!caFile)
      throw new UsageError('an LDAP directory needs --ca-file: the CA that issued the server certificate');
    const userDn = str(args.values['user-dn']);
    const base = str(args.values.base);
    if (!userDn && !base)
      throw new UsageError('an LDAP directory needs --user-dn DN, or --base DN [--filter F]');
    const optional = (name: string, key: string, resolve = false) => {
      const v = str(args.values[name]);
      return v === undefined ? {} : { [key]: resolve ? path.resolve(v) : v };
    };
    const bind = ldapBind(args);
    // Found by a search, the user's entry gives no DN to bind as before the bind: one must be named.
    if (bind.bind === 'simple' && !userDn && !bind.bindDn) {
      throw new UsageError(
        "--bind simple with --base needs --bind-dn: a service account's DN with --bind-password-file FILE, " +
          "or the user's own DN as a pattern (uid={user},ou=people,… or {user}@domain; it sends the roaming password)",
        { bind: 'simple', base },
      );
    }
    if (bind.bind === 'simple' && !bind.bindPasswordFile) {
      warnings.push(await passwordBindWarning(policyFile));
    }
    if (bind.bindPasswordFile) {
      const st = await stat(bind.bindPasswordFile).catch(() => undefined);
      const exposed = st?.isFile() ? exposedSecret(bind.bindPasswordFile, st.mode) : undefined;
      if (exposed) warnings.push(exposedSecretWarning('bind password', bind.bindPasswordFile, exposed));
    }
    selection = {
      use: 'ldap',
      settings: {
        url: `${url.protocol}//${url.host}`,
        caFile: path.resolve(caFile),
        ...(userDn ? { userDn } : { base, filter: str(args.values.filter) ?? '(uid={user})' }),
        ...bind,
        ...optional('profile', 'profile'),
        ...optional('tls-server-name', 'tlsServerName'),
      },
    };
  } else {
    throw new UsageError(
      `--directory: ${url.protocol} is not a directory credroam knows (file:, ldaps:, ldap:)`,
    );
  }
  await mkdir(home, { recursive: true, mode: 0o700 });
  const config = {
    user,
    home,
    directory: selection,
    localStore: { use: 'pkcs12' },
    protector: { use: 'pkcs12' },
    ...(policyFile ? { policy: policyFile } : {}),
  };
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, `${JSON.stringify(config, null, 2)}\n`);
  out(
    ctx,
    { config: file, ...config, ...(made ? { made } : {}), ...(warnings.length ? { warnings } : {}) },
    `wrote ${file}\n  user ${user}\n  home ${home}\n  directory ${directory}` +
      (made ? `\n  made ${made} (0700, this user's only: a folder users share is the administrator's)` : '') +
      warnings.map((w) => `\n${w}`).join(''),
  );
  return ExitCode.Done;
}

/**
 * The folder directory's root, for a trial or one machine: made (0700, this user's) when it is
 * missing and its parent is there, so that `init` then `logon` roam at once. A root several users
 * or machines share is the administrator's (docs/admin/deploying.md), mounted before init: init
 * never makes the parents of the root (a share not mounted), nor anything inside it (users'
 * folders). When the root cannot be made, the manifest is written all the same and init says
 * what to run, in the words `credroam doctor` uses.
 */
async function directoryRoot(root: string, user: string): Promise<{ made?: true; warning?: string }> {
  const made = await mkdir(root, { mode: 0o700 }).then(
    () => true as const,
    (error: NodeJS.ErrnoException) => String(error.code),
  );
  if (made === true) return { made };
  if (made === 'EEXIST') return {};
  const failing = (await new FolderDirectoryStore(root, user).checkAccess()).find((c) => !c.ok);
  if (!failing) return {};
  return {
    warning:
      `warning: ${failing.detail}, and init did not make it (${made}): nothing roams until it is there; ` +
      `fix: ${failing.fix} (\`credroam doctor\` checks it)`,
  };
}

/** Flags that belong to one kind of LDAP bind. */
const BIND_FLAGS: Readonly<Record<string, readonly string[]>> = {
  gssapi: ['kerberos-service'],
  external: ['client-cert-file', 'client-key-file'],
  simple: ['bind-dn', 'bind-password-file'],
};
const LDAP_FLAGS = ['ca-file', 'user-dn', 'base', 'filter', 'bind', 'profile', 'tls-server-name'];

/** init takes a flag only where it is written into the manifest: never one that would be dropped. */
function refuseUnused(args: Args, protocol: string): void {
  const given = (names: readonly string[]) => names.filter((n) => args.values[n] !== undefined);
  const refuse = (flag: string, why: string) => {
    throw new UsageError(`--${flag} ${why}`, { flag: `--${flag}` });
  };
  if (protocol !== 'ldaps:' && protocol !== 'ldap:') {
    for (const flag of given([...LDAP_FLAGS, ...Object.values(BIND_FLAGS).flat()]))
      refuse(flag, `is for an LDAP directory; --directory ${protocol} takes none`);
    return;
  }
  const bind = str(args.values.bind);
  for (const [kind, flags] of Object.entries(BIND_FLAGS)) {
    if (kind === bind) continue;
    for (const flag of given(flags))
      refuse(flag, `goes with --bind ${kind}, not ${bind ? `--bind ${bind}` : 'no --bind'}`);
  }
  if (args.values['user-dn'] !== undefined) {
    for (const flag of given(['base', 'filter']))
      refuse(flag, 'searches for the entry: give it or --user-dn, not both');
  }
}

/** The bind settings from `--bind` and its companions; the choice is the site's trust model, so it is never implied. */
function ldapBind(args: Args): Record<string, string> {
  const bind = str(args.values.bind);
  const file = (name: string) => {
    const v = str(args.values[name]);
    return v === undefined ? undefined : path.resolve(v);
  };
  switch (bind) {
    case 'gssapi': {
      const service = str(args.values['kerberos-service']);
      return { bind, ...(service ? { kerberosService: service } : {}) };
    }
    case 'external': {
      const cert = file('client-cert-file');
      const key = file('client-key-file');
      if (!cert || !key)
        throw new UsageError('--bind external needs --client-cert-file FILE and --client-key-file FILE');
      return { bind, clientCertFile: cert, clientKeyFile: key };
    }
    case 'simple': {
      const dn = str(args.values['bind-dn']);
      const passwordFile = file('bind-password-file');
      return {
        bind,
        ...(dn ? { bindDn: dn } : {}),
        ...(passwordFile ? { bindPasswordFile: passwordFile } : {}),
      };
    }
    default:
      throw new UsageError(
        `${bind === undefined ? 'an LDAP directory needs --bind' : `--bind ${bind} is not a bind credroam knows`}: ` +
          'gssapi (the Kerberos ticket of the logged-on user), external (a client certificate) or simple ' +
          '(a service account with --bind-password-file, or the roaming password where the site policy ' +
          'trusts the directory with it); see docs/admin/ldap.md',
      );
  }
}

/** What a simple bind with the roaming password means, and whether the site policy allows it. */
async function passwordBindWarning(policyFile: string | undefined): Promise<string> {
  const trusted = policyFile
    ? await loadPolicy({ policy: policyFile, file: undefined, home: '', user: '' }).then(
        (p) => p.policy.directory.trustWithPassword,
        () => false,
      )
    : false;
  const meaning =
    'bind simple with the roaming password: the directory receives the password that opens this ' +
    "user's keys, so whoever runs it can open every private key";
  return trusted
    ? `note: ${meaning}; the site policy trusts it (directory.trustWithPassword).`
    : `warning: ${meaning}. credroam refuses this bind unless the site policy sets ` +
        '"directory": {"trustWithPassword": true}; use --bind gssapi (Kerberos) or --bind external ' +
        '(a client certificate), or a service account (--bind-password-file).';
}

const exists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );
