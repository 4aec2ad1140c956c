import { mkdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CredroamError, writeFileAtomic } from '@credroam/core';
import { defaultConfigPath, defaultHome } from '../../config.js';
import { ExitCode, UsageError } from '../io.js';
import { type Args, type Context, out, str } from './shared.js';

// --- init --------------------------------------------------------------------------------------

export async function init(args: Args, ctx: Context): Promise<number> {
  const directory = str(args.values.directory);
  if (!directory) {
    throw new UsageError(
      'usage: credroam init --config FILE --directory URL [--home DIR] [--user NAME] [--policy FILE]\n' +
        '       LDAP: --directory ldaps://HOST:PORT|ldap://HOST:PORT --ca-file FILE (--user-dn DN | --base DN --filter F)\n' +
        '             [--bind-password-file FILE] [--profile openldap|ad] [--tls-server-name NAME]',
    );
  }
  const file = path.resolve(
    str(args.values.config) ?? (ctx.io.env.CREDROAM_CONFIG || defaultConfigPath(ctx.io.env)),
  );
  if (!args.values.force && (await exists(file))) {
    throw new CredroamError('E_EXISTS', `${file} already exists; add --force to replace it`);
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
  let selection: { use: string; settings: Record<string, unknown> };
  if (url.protocol === 'file:') {
    const root = fileURLToPath(url);
    await mkdir(root, { recursive: true, mode: 0o700 });
    selection = { use: 'folder', settings: { url: pathToFileURL(root).href } };
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
    selection = {
      use: 'ldap',
      settings: {
        url: `${url.protocol}//${url.host}`,
        caFile: path.resolve(caFile),
        ...(userDn ? { userDn } : { base, filter: str(args.values.filter) ?? '(uid={user})' }),
        ...optional('bind-password-file', 'bindPasswordFile', true),
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
    ...(str(args.values.policy) ? { policy: path.resolve(str(args.values.policy)!) } : {}),
  };
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, `${JSON.stringify(config, null, 2)}\n`);
  out(
    ctx,
    { config: file, ...config },
    `wrote ${file}\n  user ${user}\n  home ${home}\n  directory ${directory}`,
  );
  return ExitCode.Done;
}

const exists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );
