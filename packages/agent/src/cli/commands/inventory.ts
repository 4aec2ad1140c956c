import { FileSyncStateStore, type LocalListing } from '@credroam/core';
import type { AgentConfig } from '../../config.js';
import { AGENT_PING_MS, askAgent } from '../../daemon/ipc.js';
import { describePolicyOrigin } from '../../policy.js';
import { readLastSync, syncStatePath } from '../../session.js';
import { type CredentialView, credentialViews } from '../credentials.js';
import { ExitCode } from '../io.js';
import { profileLine } from './enroll.js';
import { type Args, type Context, configOf, out, roamingPassword, unlock, withSession } from './shared.js';
import { skippedLine } from './sync.js';

// --- status, list -------------------------------------------------------------------------------

export async function status(args: Args, ctx: Context): Promise<number> {
  const config = configOf(ctx);
  const state = await new FileSyncStateStore(syncStatePath(config)).load();
  const last = await readLastSync(config);
  return withSession(
    args,
    ctx,
    async (s) => {
      // Read at once: the revision's file calls overlap the listing's parsing, and the agent answers meanwhile.
      const [listing, revision, agent] = await Promise.all([
        s.local.list(),
        s.local.revision(),
        agentStatus(config),
      ]);
      const views = credentialViews(listing, state);
      const result = {
        user: config.user,
        config: config.file ?? null,
        home: config.home,
        directory: { use: config.directory.use, ...config.directory.settings },
        credentials: views.length,
        archived: views.filter((v) => v.archived).length,
        pending: {
          localChanges: state === undefined || state.localRevision !== revision,
          credentials: views.filter((v) => v.state !== 'synced').length,
        },
        // What the last sync that read both sides skipped, and what this store cannot read now.
        skipped: last?.skippedItems ?? [],
        unreadable: unreadableEntries(listing),
        lastSync: last ?? null,
        agent,
        policy: s.loadedPolicy.origin,
        // Where credentials land: the primary, then each mirror, with what each holds.
        destinations: await s.mirrors.inspect(listing),
        // Each enrollment profile: met, due for renewal, pending, failing (from this endpoint's view).
        enrollment: await s.enrollment.standing(listing),
      };
      const lastText = last
        ? `${(last as { at: string }).at} ${(last as { outcome: string }).outcome}`
        : 'never';
      out(
        ctx,
        result,
        [
          `user ${result.user} on ${config.directory.use} ${String(config.directory.settings.url ?? '')}`,
          `credentials ${result.credentials} (${result.archived} archived), ${result.pending.credentials} not yet in the directory`,
          `last sync: ${lastText}`,
          `policy: ${describePolicyOrigin(result.policy)}`,
          ...(result.skipped.length > 0
            ? [
                `skipped at the last sync: ${result.skipped.length} (as found at ${last?.skippedAt ?? '?'})`,
                ...result.skipped.map(skippedLine),
              ]
            : []),
          ...result.unreadable.map((u) => `unreadable here: ${u.name}: ${u.reason}`),
          ...(result.destinations.length > 0
            ? result.destinations.map((d) =>
                d.ok
                  ? `${d.role} ${d.description}: ${d.holds.length} credential(s)${d.role === 'mirror' ? (d.current ? ', current' : `, NOT current (${d.missing.length} missing, ${d.extra.length} extra)`) : ''}`
                  : `${d.role} ${d.description}: cannot be read: ${d.error}`,
              )
            : []),
          ...(result.enrollment.length > 0 ? ['enrollment:', ...result.enrollment.map(profileLine)] : []),
          result.agent.running
            ? `agent: running (pid ${String(result.agent.pid)}), keys ${result.agent.unlocked ? 'open' : 'locked: log on'}${result.agent.syncing ? ', syncing' : ''}`
            : 'agent: not running',
        ].join('\n'),
      );
      return result.skipped.length > 0 || result.unreadable.length > 0 ? ExitCode.Skipped : ExitCode.Done;
    },
    config,
  );
}

/** What the local store holds but cannot read (a key that is merely locked is not one). */
function unreadableEntries(listing: LocalListing): Array<{ name: string; reason: string }> {
  return listing.unreadable
    .filter((u) => !/^locked/.test(u.reason))
    .map((u) => ({ name: u.name, reason: u.reason }));
}

async function agentStatus(
  config: AgentConfig,
): Promise<{ running: boolean; pid?: unknown; unlocked?: unknown; syncing?: unknown }> {
  const answer = await askAgent(config, { cmd: 'status' }, AGENT_PING_MS).catch(() => undefined);
  if (!answer?.ok) return { running: false };
  return { running: true, pid: answer.pid, unlocked: answer.unlocked, syncing: answer.syncing };
}

const KEY_TEXT: Record<CredentialView['key'], string> = {
  opens: 'yes',
  locked: 'yes (locked: give the roaming password to check it opens)',
  unreadable: 'HELD BUT CANNOT BE OPENED',
  none: 'no',
};

export async function list(args: Args, ctx: Context): Promise<number> {
  const config = configOf(ctx);
  const state = await new FileSyncStateStore(syncStatePath(config)).load();
  return withSession(
    args,
    ctx,
    async (s) => {
      if (
        args.values['password-stdin'] ||
        args.values['password-file'] ||
        ctx.io.env.CREDROAM_PASSWORD_FILE
      ) {
        await unlock(s, await roamingPassword(args, ctx.io));
      }
      const listing = await s.local.list();
      const credentials = credentialViews(listing, state);
      const unreadable = unreadableEntries(listing);
      const skipped = (await readLastSync(config))?.skippedItems ?? [];
      const text = credentials
        .map(
          (v) =>
            `${v.sha256}  ${v.subject}${v.friendlyName !== undefined ? `  ${JSON.stringify(v.friendlyName)}` : ''}${v.chainLength > 0 ? `  (+${v.chainLength} CA certificate${v.chainLength === 1 ? '' : 's'})` : ''}\n  sha1 ${v.sha1}  until ${v.notAfter ?? '(unreadable time)'}${v.archived ? ' (archived)' : ''}  key ${KEY_TEXT[v.key]}${v.keyProblem ? ` (${v.keyProblem})` : ''}  ${v.state}${v.unreadableFields ? `\n  cannot be read: ${v.unreadableFields.join(', ')}` : ''}`,
        )
        .concat(unreadable.map((u) => `unreadable ${u.name}: ${u.reason}`))
        .concat(
          skipped.length > 0
            ? [`${skipped.length} item(s) skipped at the last sync: see \`credroam status\``]
            : [],
        )
        .join('\n');
      out(ctx, { credentials, unreadable, skipped }, text || 'no credentials');
      return unreadable.length > 0 || skipped.length > 0 ? ExitCode.Skipped : ExitCode.Done;
    },
    config,
  );
}
