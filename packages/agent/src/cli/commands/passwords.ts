import { readFile } from 'node:fs/promises';
import { CredroamError } from '@credroam/core/api';
import { askAgent } from '../../daemon/ipc.js';
import { openSession } from '../../session.js';
import { type CliIo, ExitCode, UsageError } from '../io.js';
import { readSecretFile } from '../secrets.js';
import { type Args, agentAnswer, type Context, configOf, out, str, withSession } from './shared.js';

// --- passwd, recover --------------------------------------------------------------------------------

/** Old and new password: `--password-stdin` gives two lines; else --old-password-file and --new-password-file. */
async function passwordPair(args: Args, io: CliIo): Promise<{ old?: string; next: string }> {
  if (args.values['password-stdin']) {
    const lines = (await io.stdin()).split(/\r?\n/);
    if (args.values['escrow-key']) return { next: lines[0] ?? '' };
    return { old: lines[0] ?? '', next: lines[1] ?? '' };
  }
  const newFile = str(args.values['new-password-file']);
  if (!newFile)
    throw new UsageError('give the new password with --new-password-file FILE (or both on --password-stdin)');
  const oldFile = str(args.values['old-password-file']);
  return {
    ...(oldFile ? { old: await readSecretFile(oldFile, 'old password', io.stderr) } : {}),
    next: await readSecretFile(newFile, 'new password', io.stderr),
  };
}

export async function passwd(args: Args, ctx: Context): Promise<number> {
  const { old, next } = await passwordPair(args, ctx.io);
  if (next.length === 0) throw new UsageError('the new password is empty');
  // Never without the old password: another program of the user must not be able to choose one.
  // (A change of the system password reaches a running agent through PAM: see docs/admin/agent.md.)
  if (old === undefined)
    throw new UsageError('give the old password with --old-password-file FILE (or both on --password-stdin)');
  const config = configOf(ctx);
  const answer = await askAgent(config, { cmd: 'passwd', oldPassword: old, newPassword: next });
  if (answer)
    return agentAnswer(ctx, answer, () => 'the running agent re-wrapped the keys for the new password');
  return withSession(args, ctx, async (s) => {
    if (!s.protector.changePassword)
      throw new CredroamError('E_UNSUPPORTED', 'this token protector has no password');
    await s.protector.changePassword({ oldPassword: old, newPassword: next });
    out(ctx, { changed: true }, 'the roaming password was changed; other endpoints log on with the new one');
    return ExitCode.Done;
  });
}

export async function recover(args: Args, ctx: Context): Promise<number> {
  const keyFile = str(args.values['escrow-key']);
  if (!keyFile)
    throw new UsageError(
      'recover needs --escrow-key FILE, and the new password (--new-password-file FILE or --password-stdin)',
    );
  const escrowPrivateKeyPem = await readFile(keyFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new CredroamError('E_ESCROW_KEY', `cannot read the escrow key ${keyFile}: ${error.code}`, {
      file: keyFile,
    });
  });
  const { next } = await passwordPair(args, ctx.io);
  if (next.length === 0) throw new UsageError('the new password is empty');
  const config = configOf(ctx);
  const user = str(args.values.user) ?? config.user;
  const session = await openSession({ ...config, user }, ctx.log, { password: async () => next });
  try {
    if (!session.protector.recover)
      throw new CredroamError('E_UNSUPPORTED', 'this token protector has no escrow recovery');
    await session.protector.recover({ escrowPrivateKeyPem, newPassword: next });
    out(ctx, { recovered: true, user }, `the keys of ${user} now open with the new password`);
    return ExitCode.Done;
  } finally {
    await session.dispose();
  }
}
