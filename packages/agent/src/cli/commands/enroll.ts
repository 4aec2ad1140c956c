import type { EnrollmentReport, ProfileReport } from '@credroam/core';
import { ExitCode } from '../io.js';
import { type Args, askAgentWithKeys, type Context, out, unlock, userKeys, withSession } from './shared.js';

/** One profile's state as a line (`enroll`, `status`). */
export function profileLine(p: ProfileReport): string {
  const at = (iso: string | undefined): string => iso?.replace(/\.\d+Z$/, 'Z') ?? '?';
  const cert = p.certificate ? ` ${p.certificate.slice(0, 16)}…` : '';
  switch (p.state) {
    case 'met':
      return `  ${p.id}: met${cert}, due for renewal at ${at(p.renewAt)}`;
    case 'due':
      return `  ${p.id}: due for renewal since ${at(p.renewAt)}${cert} (expires ${at(p.notAfter)})`;
    case 'missing':
      return `  ${p.id}: not met (no certificate yet)`;
    case 'issued':
      return `  ${p.id}: issued${cert}, valid to ${at(p.notAfter)}`;
    case 'renewed':
      return `  ${p.id}: renewed${cert}, valid to ${at(p.notAfter)}; the old one is archived`;
    case 'pending':
      return `  ${p.id}: pending at the CA since ${at(p.pendingSince)}`;
    case 'claimed-elsewhere':
      return `  ${p.id}: another endpoint is enrolling it; its certificate roams here`;
    case 'failing':
      return `  ${p.id}: failing since ${at(p.failingSince)} (${p.code}): ${p.reason}; next attempt ${at(p.nextAttempt)}`;
    case 'planned':
      return `  ${p.id}: would ${p.action === 'poll' ? 'ask the CA about the pending request' : p.action === 'renew' ? 'renew' : 'request a certificate'}`;
  }
}

/**
 * `credroam enroll`: R4's order on demand: a sync, the profiles' enrollment (retry times do not
 * hold back a request the user asks for), and the sync that makes what was issued roam. Through
 * the running agent when it holds the keys; else with the roaming password.
 */
export async function enroll(args: Args, ctx: Context): Promise<number> {
  const dryRun = Boolean(args.values['dry-run']);
  // A running agent that holds the keys enrolls for us; else the roaming password opens them here.
  const keys = await userKeys(args, ctx);
  const report =
    'agent' in keys
      ? ((await askAgentWithKeys(ctx, { cmd: 'enroll', dryRun })) as unknown as EnrollmentReport)
      : await withSession(args, ctx, async (s) => {
          await unlock(s, keys.password);
          if (!dryRun) await (await import('../../session.js')).syncRecorded(s);
          return s.enrollment.run({ dryRun, now: true });
        });
  const shown = { profiles: report.profiles, changed: report.changed };
  const text =
    report.profiles.length === 0
      ? 'no enrollment profiles in the site policy (docs/admin/enrollment.md)'
      : [
          dryRun ? 'enrollment (dry run: nothing done):' : 'enrollment:',
          ...report.profiles.map(profileLine),
        ].join('\n');
  out(ctx, shown, text);
  return report.profiles.some((p) => p.state === 'failing') ? ExitCode.Failed : ExitCode.Done;
}
