import { FileSyncStateStore, type LocalListing } from '@credroam/core';
import { CredroamError, errorMessage } from '@credroam/core/api';
import { printable } from '@credroam/core/printable';
import type { AgentConfig } from '../../config.js';
import { AGENT_PING_MS, askAgent, LOGON_COMMAND, NEW_AGENT_ADVICE, socketPath } from '../../daemon/ipc.js';
import { describePolicyOrigin } from '../../policy.js';
import { readLastSync, syncStatePath } from '../../session.js';
import { type CredentialView, credentialViews } from '../credentials.js';
import { ExitCode, terminalLine } from '../io.js';
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
        agentState(config),
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
      // One line: the record is a file in the user's home.
      const lastText = last
        ? terminalLine(
            `${last.at} ${last.outcome}${last.outcome === 'failed' && last.error ? `: ${last.error}` : ''}`,
          )
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
                terminalLine(
                  `skipped at the last sync: ${result.skipped.length} (as found at ${last?.skippedAt ?? '?'})`,
                ),
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
          agentLine(result.agent),
        ].join('\n'),
      );
      return result.skipped.length > 0 || result.unreadable.length > 0 ? ExitCode.Skipped : ExitCode.Done;
    },
    config,
  );
}

/**
 * What the local store holds but cannot read (a key that is merely locked is not one), printable:
 * a file name in the store's folders is whatever another program chose.
 */
function unreadableEntries(listing: LocalListing): Array<{ name: string; reason: string }> {
  return listing.unreadable
    .filter((u) => !/^locked/.test(u.reason))
    .map((u) => ({ name: printable(u.name), reason: printable(u.reason) }));
}

/** The agent as `status` shows it: running and answering, not running, or there but not answering. */
interface AgentState {
  readonly running: boolean;
  readonly answering?: boolean;
  readonly pid?: unknown;
  readonly unlocked?: unknown;
  readonly syncing?: unknown;
  /** Where it does not answer, and why (`stopped or hung`, or what failed). */
  readonly socket?: string;
  readonly problem?: string;
}

async function agentState(config: AgentConfig): Promise<AgentState> {
  try {
    const answer = await askAgent(config, { cmd: 'status' }, AGENT_PING_MS);
    if (!answer) return { running: false };
    if (!answer.ok) return { running: true, answering: true, problem: answer.error.message };
    return {
      running: true,
      answering: true,
      pid: answer.pid,
      unlocked: answer.unlocked,
      syncing: answer.syncing,
    };
  } catch (error) {
    // Something holds the socket and takes the connection, but does not answer: stopped or hung.
    const timedOut = error instanceof CredroamError && error.details.timedOut === true;
    return {
      running: true,
      answering: false,
      socket: socketPath(config),
      problem: timedOut ? 'stopped or hung' : errorMessage(error),
    };
  }
}

function agentLine(agent: AgentState): string {
  if (!agent.running) return 'agent: not running';
  if (agent.answering === false)
    return `agent: not answering on ${agent.socket} (${agent.problem}): ${NEW_AGENT_ADVICE}`;
  if (agent.problem !== undefined) return `agent: running, but its status is an error: ${agent.problem}`;
  return `agent: running (pid ${String(agent.pid)}), keys ${agent.unlocked ? 'open' : `locked: log on (${LOGON_COMMAND})`}${agent.syncing ? ', syncing' : ''}`;
}

const KEY_TEXT: Record<CredentialView['key'], string> = {
  opens: 'yes',
  // Listed without the roaming password: whether the key opens was not tried (an agent may hold the keys).
  locked: 'yes (not checked: give --password-file FILE to check that it opens)',
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
