import type { SkippedItem, SyncOptions, SyncReport } from '@credroam/core';
import { CredroamError, EventId, errorMessage } from '@credroam/core/api';
import {
  AGENT_PING_MS,
  AGENT_REQUEST_MS,
  type AgentAnswer,
  agentStatus,
  askAgent,
  socketPath,
} from '../../daemon/ipc.js';
import { splitPamInput } from '../../daemon/pam-proof.js';
import type { MirrorReport } from '../../mirrors/index.js';
import type { LastSync, Session } from '../../session.js';
import { ExitCode, terminalLine, terminalText, UsageError } from '../io.js';
import { stripNewline } from '../secrets.js';
import { profileLine } from './enroll.js';
import {
  type Args,
  agentAnswer,
  agentError,
  type Context,
  configOf,
  givenPassword,
  logonSyncNote,
  noAgentNoPassword,
  out,
  PASSWORD_SOURCES,
  roamingPassword,
  unlock,
  withSession,
  withStores,
} from './shared.js';

// --- sync, logon, logoff --------------------------------------------------------------------------

type Shown = SyncReport & {
  readonly skippedAt?: string;
  readonly mirrors?: MirrorReport[];
  /** False when a roaming password was given and nothing checked it (`notChecked` says why). */
  readonly passwordChecked?: false;
};

/** Why a roaming password that was given went unchecked; undefined when it was checked, or none was given. */
type NotChecked = () => Promise<string | undefined>;

async function runSync(
  session: Session,
  ctx: Context,
  options: SyncOptions,
  notChecked: NotChecked = async () => undefined,
): Promise<number> {
  if (options.dryRun) return show(ctx, await session.engine.sync(options), [], undefined, await notChecked());
  // The mirrors, after the primary: each holds what it holds now (a failed one is reported, event 3021).
  const { syncRecorded } = await import('../../session.js');
  const { report, mirrors, last } = await syncRecorded(session, options);
  return show(ctx, report, mirrors, last, await notChecked());
}

/** Prints a sync's report (with the mirrors' and, after one with nothing to do, what is still skipped). */
function show(
  ctx: Context,
  report: SyncReport,
  mirrors: readonly MirrorReport[] = [],
  last?: LastSync,
  notChecked?: string,
): number {
  let shown: Shown = {
    ...report,
    ...(mirrors.length > 0 ? { mirrors: [...mirrors] } : {}),
    ...(notChecked ? { passwordChecked: false } : {}),
  };
  // A sync with nothing to do read neither side: what the last one skipped is still skipped.
  if (report.outcome === 'unchanged' && last?.skippedItems?.length) {
    shown = {
      ...shown,
      skipped: last.skippedItems,
      ...(last.skippedAt ? { skippedAt: last.skippedAt } : {}),
    };
  }
  out(ctx, shown, formatReport(shown) + (notChecked ? `\n${passwordNote(notChecked)}` : ''));
  return shown.skipped.length > 0 ? ExitCode.Skipped : ExitCode.Done;
}

/** A roaming password that was given and read, but not checked against the keys. */
const passwordNote = (why: string): string => `the roaming password given was not checked: ${why}`;

/** Why: the agent used its own keys. */
const AGENT_KEYS = 'the agent synced with the keys it holds';

function formatReport(r: Shown): string {
  const c = r.counts;
  const lines = [
    r.outcome === 'unchanged'
      ? `nothing changed since the last sync (one read of the change stamp)${r.skipped.length > 0 ? `; still skipped (${r.skipped.length}), as found by the sync at ${r.skippedAt ?? '?'}:` : ''}`
      : r.changes.length === 0 && r.skipped.length === 0
        ? 'in sync: nothing to do'
        : `${r.outcome === 'planned' ? 'would upload' : 'uploaded'} ${c.uploaded}, ${r.outcome === 'planned' ? 'download' : 'downloaded'} ${c.downloaded}, removed ${c.removed}, tombstones ${c.tombstoned}, archived ${c.archived}, pruned ${c.pruned}, conflicts ${c.conflicts}`,
  ];
  for (const ch of r.changes) lines.push(`  ${ch.action} ${ch.kind} ${ch.id.slice(0, 16)}…  ${ch.reason}`);
  lines.push(...r.skipped.map(skippedLine));
  for (const m of r.mirrors ?? []) {
    lines.push(
      m.ok
        ? `  mirror ${m.description}: ${m.outcome.put + m.outcome.repaired + m.outcome.removed === 0 ? (m.outcome.failed.length > 0 ? 'nothing written' : 'current') : `put ${m.outcome.put}, repaired ${m.outcome.repaired}, removed ${m.outcome.removed}`}`
        : `  mirror ${m.description}: NOT UPDATED (event 3021): ${m.error}`,
    );
    if (m.ok) {
      for (const f of m.outcome.failed) {
        lines.push(
          `  mirror ${m.description}: ${f.certId.slice(0, 16)}… not mirrored (event 3021): ${f.reason}`,
        );
      }
    }
  }
  return lines.join('\n');
}

/** One skipped item as one line of text (`status` reads the items from the record in the user's home, which others may write). */
export const skippedLine = (s: SkippedItem): string =>
  terminalLine(
    `  skipped ${s.where} ${s.kind ?? 'item'}${s.id ? ` ${String(s.id).slice(0, 16)}…` : ''} (event ${s.event}): ${s.reason}`,
  );

/** `f`, run at most once: later calls share the first call's promise. */
function once<T>(f: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => {
    result ??= f();
    return result;
  };
}

/** The process id a status answer gave (the agent a request that follows goes to). */
const pidOf = (status: AgentAnswer | undefined): unknown => (status?.ok ? status.pid : undefined);

/** How long `credroam sync` waits for the agent's sync (a first download of many credentials is long). */
const AGENT_SYNC_MS = 30 * 60_000;

export async function sync(args: Args, ctx: Context): Promise<number> {
  const dryRun = Boolean(args.values['dry-run']);
  const full = Boolean(args.values.full);
  // A password source that was given is read first: one that cannot be read is an error, even
  // where the agent syncs with its own keys (the password is then not checked, and it says so).
  const password = await givenPassword(args, ctx.io);
  if (dryRun && password === undefined)
    throw new UsageError(
      `--dry-run plans in this process (not in the agent), with the roaming password: give ${PASSWORD_SOURCES}`,
      { command: ctx.command },
      'E_KEYS_NEEDED',
    );
  // A running agent that holds the keys syncs itself: no session opens here and no password is
  // needed (it is the agent that `credroam logon` gave the keys to). A dry run plans here.
  if (!dryRun) {
    const config = configOf(ctx);
    // An agent that does not answer at once (stopped, hung) is not waited for the length of a
    // sync: with the password this process syncs (after the user lock, as with any other sync).
    const alive = await agentStatus(config).catch((error: unknown) => {
      if (password !== undefined) return undefined;
      throw new CredroamError(
        'E_AGENT',
        `${errorMessage(error)}; or give the roaming password to sync in this process`,
        { socket: socketPath(config) },
      );
    });
    if (!alive && password === undefined) throw noAgentNoPassword(ctx);
    // One that stops answering while it syncs (stopped or hung since) is not waited for either.
    const answer = alive
      ? await askAgent(config, { cmd: 'sync', full }, AGENT_SYNC_MS, { agentPid: pidOf(alive) }).catch(
          (error: unknown) => {
            if (!(error instanceof CredroamError && error.details.stoppedAnswering)) throw error;
            if (password === undefined)
              throw new CredroamError(
                'E_AGENT',
                `${error.message}; or give the roaming password to sync in this process`,
                error.details,
              );
            return undefined; // with the password, this process syncs
          },
        )
      : undefined;
    if (answer?.ok && answer.report) {
      return show(
        ctx,
        answer.report as SyncReport,
        (answer.mirrors as MirrorReport[] | undefined) ?? [],
        (answer.lastSync as LastSync | null) ?? undefined,
        password !== undefined ? AGENT_KEYS : undefined,
      );
    }
    // A locked agent, or one older than this request: with a password, this process syncs.
    if (answer && password === undefined) {
      if (answer.ok) throw olderAgent();
      const error = agentError(answer);
      if (error.code !== 'E_LOCKED') throw error;
      throw new CredroamError(
        'E_LOCKED',
        `${error.message}; or give the roaming password to sync in this process`,
        error.details,
      );
    }
    if (answer && !answer.ok && answer.error.code !== 'E_LOCKED') throw agentError(answer);
  }
  // The key-derivation runs only when there is work: the stamp check needs no key.
  let asked = false;
  let early: Promise<unknown> | undefined;
  const notChecked = async () => {
    // A derivation that ran checked the password: one that did not open the keys is the command's
    // error, even where the sync needed none.
    if (early) await early;
    return early || asked ? undefined : 'nothing needed the keys';
  };
  return withStores(args, ctx, async (stores) => {
    const opening = once(() => unlock(stores, password!));
    // Nothing changed (and no mirror to keep): told before the engine loads (decision 030).
    const { completeSession, unchangedRecorded } = await import('../../session.js');
    if (!dryRun && !full && stores.config.mirrors.length === 0) {
      const unchanged = await unchangedRecorded(stores, ctx.log);
      if (unchanged) return show(ctx, unchanged.report, [], unchanged.last, await notChecked());
    }
    // Past the shortcut a sync asks for the keys (work was found, a full sync reads both sides, a
    // mirror is kept with them): the engine would start the key derivation at its own stamp check;
    // started now, it runs while the engine's modules load. A dry run still asks only if it must.
    if (!dryRun) {
      early = opening();
      early.catch(() => undefined); // awaited below, and by the engine when it asks
    }
    try {
      const s = await completeSession(stores, ctx.log);
      return await runSync(
        s,
        ctx,
        {
          dryRun,
          full,
          unlock: () => {
            asked = true;
            return opening();
          },
        },
        notChecked,
      );
    } finally {
      await early?.catch(() => undefined); // ended before the stores are: no key opens after they are gone
    }
  });
}

/** A running agent answered a request it does not know: it is older than this command. */
const olderAgent = () =>
  new CredroamError(
    'E_AGENT',
    'the running agent does not know this request (it is older than this credroam): restart it (credroam trigger stop, then log on again), or give the roaming password',
  );

export async function logon(args: Args, ctx: Context): Promise<number> {
  // pam_exec (expose_authtok) writes the password, possibly NUL-terminated; the PAM hook puts its
  // proof token (see daemon/pam-proof.ts) on a line before it.
  const pam = Boolean(args.values.pam);
  const input = await roamingPassword(args, ctx.io);
  const { proof, password: raw } = pam ? splitPamInput(input) : { proof: undefined, password: input };
  const password = stripNewline(raw.replace(/\0+$/, ''));
  const config = configOf(ctx);
  // A running agent takes the password over its socket and keeps the keys for the session. One
  // that does not answer (stopped, hung) is not given the password nor waited for: a logon goes on
  // without it (an agent started now takes its socket over, as docs/admin/agent.md says).
  const alive = await askAgent(config, { cmd: 'status' }, AGENT_PING_MS).catch(() => undefined);
  const answer =
    alive &&
    (await askAgent(
      config,
      { cmd: 'logon', password, ...(pam ? { pam: true } : {}), ...(proof ? { proof } : {}) },
      AGENT_REQUEST_MS,
      { agentPid: pidOf(alive) },
    ));
  if (answer) {
    return agentAnswer(
      ctx,
      answer,
      (a) =>
        `logged on through the agent${a.rewrapped ? ' (keys re-wrapped for the changed password)' : ''}${logonSyncNote(a)}`,
    );
  }
  if (args.values['start-agent'] || pam) {
    // Loaded here: `credroam sync` through the agent loads no more than it needs (decision 024).
    const { startAgent } = await import('./agent.js');
    return startAgent(
      config,
      { cmd: 'logon', password, ...(pam ? { pam: true } : {}), ...(proof ? { proof } : {}) },
      ctx,
      { verbose: Boolean(args.values.verbose) },
    );
  }
  return withSession(
    args,
    ctx,
    async (s) => {
      // The key derivation started as the session opened (before the engine's modules loaded),
      // and runs while the sync reads both sides (it needs no key to read them).
      const opening = s.unlocking ?? unlock(s, password);
      opening.catch(() => undefined); // awaited below
      let code: number;
      try {
        code = await runSync(s, ctx, { full: true, unlock: () => opening });
      } catch (error) {
        // A wrong password is the error to report; an unreachable directory is an offline logon.
        if (!(await opening).offline) throw error;
        out(
          ctx,
          { outcome: 'offline' },
          'logged on offline: the directory is unreachable; changes roam when it returns',
        );
        return ExitCode.Done;
      }
      // The keyring logs the event (1025); the user is told in words, as it matters to them.
      if ((await opening).created && !ctx.json)
        ctx.io.stdout(
          'first logon: created your master key in the directory, wrapped by this roaming password (it opens your keys on every endpoint)\n',
        );
      // R4: after the logon sync, enrollment (which syncs again when it stored something).
      try {
        const enrolled = await s.enrollment.run();
        if (enrolled.profiles.length > 0 && !ctx.json)
          ctx.io.stdout(
            terminalText(`${['enrollment:', ...enrolled.profiles.map(profileLine)].join('\n')}\n`),
          );
      } catch (error) {
        ctx.log.log('warn', EventId.EnrollmentFailed, `enrollment: ${errorMessage(error)}`);
      }
      return code;
    },
    config,
    { unlock: password },
  );
}

export async function logoff(args: Args, ctx: Context): Promise<number> {
  const config = configOf(ctx);
  // Read first, as for sync: a password source given but unreadable is an error, agent or not.
  const password = await givenPassword(args, ctx.io);
  // What PAM's close-session hook runs: an agent that does not answer its status at once (stopped,
  // hung) is not sent the logoff, whose answer would be waited for two minutes.
  const alive = await agentStatus(config).catch((error: unknown) => {
    if (password !== undefined) return undefined;
    throw new CredroamError(
      'E_AGENT',
      `${errorMessage(error)}; or give the roaming password to log off in this process`,
      { socket: socketPath(config) },
    );
  });
  if (!alive && password === undefined)
    // Nothing holds the keys, so there is nothing to forget: only a final sync needs the password.
    throw new UsageError(
      `no agent runs for ${config.home}, so no keys are held to forget; for a final sync, give the roaming password (${PASSWORD_SOURCES})`,
      { command: ctx.command, agent: 'none' },
      'E_KEYS_NEEDED',
    );
  const answer =
    alive &&
    (await askAgent(config, { cmd: 'trigger', event: 'logoff' }, AGENT_REQUEST_MS, {
      agentPid: pidOf(alive),
    }));
  if (answer) {
    const note = password !== undefined ? 'the agent logged off with the keys it holds' : undefined;
    return agentAnswer(
      ctx,
      note && answer.ok ? { ...answer, passwordChecked: false } : answer,
      (a) =>
        `logged off through the agent (${String(a.removed ?? 0)} removed)${note ? `\n${passwordNote(note)}` : ''}`,
    );
  }
  return withSession(
    args,
    ctx,
    async (s) => {
      await unlock(s, password!);
      // Throws if the final sync failed: then nothing is removed. Full when it removes: the stamp
      // shortcut would trust the last sync's base, which a directory writer who deleted values and
      // left the stamp makes wrong, and the removal would take the last copy; a full sync puts
      // back what is missing, so the base names what the directory holds.
      const { removeSafelyRoamed, syncRecorded } = await import('../../session.js');
      const { report, mirrors, last } = await syncRecorded(s, { full: s.policy.roaming.removeOnLogoff });
      const code = show(ctx, report, mirrors, last);
      if (s.policy.roaming.removeOnLogoff) {
        const removed = await removeSafelyRoamed(s, report);
        // What left the store leaves the mirrors too (browsers, folders).
        if (removed > 0) await s.mirrors.update();
        ctx.log.log('info', EventId.LoggedOff, 'logged off', { removed });
        if (!ctx.json)
          ctx.io.stdout(`removed ${removed} credential part(s) that the directory holds (removeOnLogoff)\n`);
      }
      return code;
    },
    config,
  );
}
