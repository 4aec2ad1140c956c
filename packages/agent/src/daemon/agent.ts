import { lstat } from 'node:fs/promises';
import {
  type ContributionFactory,
  CredroamError,
  type Disposable,
  EventId,
  type EventLog,
  errorMessage,
  type SyncReport,
  Trigger,
  type TriggerEvent,
} from '@credroam/core';
import type { AgentConfig } from '../config.js';
import type { MirrorReport } from '../mirrors/index.js';
import {
  applyHostPolicy,
  type LastSync,
  liveSection,
  loadPolicy,
  openSession,
  recordLastSync,
  removeSafelyRoamed,
  type Session,
} from '../session.js';
import { ControlSocket } from './control-socket.js';
import { credentialRequest } from './credential-requests.js';
import {
  AGENT_LOCKED,
  AGENT_PING_MS,
  type AgentRequest,
  askAgent,
  LOGON_COMMAND,
  socketPath,
} from './ipc.js';
import { pamProofProblem } from './pam-proof.js';

export interface AgentOptions {
  /** Backoff after a failed sync (directory unreachable): first and largest delay. */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  /**
   * A policy refresh runs a full sync (no stamp shortcut) when the last one is older than this
   * (default 24 h): it finds values a replica kept after losing a replicated delete, or removed
   * behind credroam's back, in sessions that last for days without a logon.
   */
  readonly fullSyncEveryMs?: number;
  /** How often the agent checks that its home still holds its control socket (default 2 s). */
  readonly homeCheckMs?: number;
}

/** A sync's outcome, with its number (`credroam sync` through the agent answers with it). */
interface SyncResult {
  readonly seq: number;
  readonly report?: SyncReport;
  readonly mirrors?: MirrorReport[];
  readonly error?: unknown;
}

/**
 * The endpoint agent (`credroam agent`): holds the user's keys after logon, runs one sync at a
 * time (a trigger during a sync schedules exactly one more), retries with backoff while the
 * directory is unreachable, roams on logon, unlock, resume, refresh and store changes, records
 * lock, and at logoff makes a final sync (and, with `removeOnLogoff`, removes what is safely in
 * the directory). SIGTERM stops it cleanly. An agent whose home (with its control socket) was
 * removed stops too, rather than re-create the home: nothing could reach it any more.
 */
export class Agent {
  #session!: Session;
  #control: ControlSocket | undefined;
  readonly #triggers: Disposable[] = [];
  #running: Promise<void> | undefined;
  #again: { full: boolean } | undefined;
  /** A logon or policy refresh asked for enrollment after its sync. */
  #enrollDue = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryDelay: number;
  #last: LastSync | undefined;
  /**
   * What the last sync made of it (`credroam sync` through the agent answers with it), with the
   * number of that sync: syncs are numbered as they begin (`#syncs`, how many began).
   */
  #lastResult: SyncResult = { seq: 0 };
  #syncs = 0;
  #lastFullSync = 0;
  #stopping = false;
  /**
   * A logoff between its final sync and the keys' closing: no sync starts. One started then (the
   * store watcher seeing the removal, while the mirrors update) would find the removed credentials
   * without a base entry and download them all back.
   */
  #closing = false;
  #password: string | undefined;
  /** PAM proof tokens already taken: each proves one logon. */
  readonly #usedProofs = new Set<string>();
  #homeCheck: NodeJS.Timeout | undefined;
  readonly #stopped: Promise<void>;
  #resolveStopped!: () => void;

  constructor(
    readonly config: AgentConfig,
    readonly log: EventLog,
    readonly options: AgentOptions = {},
  ) {
    this.#retryDelay = options.retryMinMs ?? 2_000;
    this.#stopped = new Promise((r) => {
      this.#resolveStopped = r;
    });
  }

  /**
   * Opens the session (plugins, directory, store, keys), the triggers and the control socket.
   *
   * Refuses, with E_AGENT_RUNNING and nothing touched, when a live agent answers on the control
   * socket; a socket nobody answers on (a killed agent's) is taken over. Fails, having closed
   * everything it opened (no socket left, nothing running), when a required plugin or a selected
   * directory, store or protector is unavailable: the error names the plugin. A selected trigger
   * whose optional plugin failed is reported (event 2206) and the agent goes on without it.
   */
  async start(): Promise<void> {
    const file = socketPath(this.config);
    const previous = await this.#askRunningAgent();
    if (previous.answered) {
      const pid = typeof previous.pid === 'number' ? ` (pid ${previous.pid})` : '';
      const message = `an agent already runs for ${this.config.home}${pid} and answers on ${file}: this one exits`;
      this.log.log('info', EventId.AgentAlreadyRunning, message, { socket: file, pid: previous.pid });
      throw new CredroamError('E_AGENT_RUNNING', message, { socket: file, pid: previous.pid });
    }
    try {
      // A directory that binds with the roaming password (one account password) gets it after
      // logon; the agent keeps it in memory for reconnects until logoff.
      this.#session = await openSession(this.config, this.log, {
        password: async () => {
          if (this.#password === undefined)
            throw new CredroamError('E_LOCKED', 'log on first: the agent has no password yet');
          return this.#password;
        },
      });
      const triggers = await this.#makeTriggers();
      await this.#listen();
      if (previous.left) {
        this.log.log('info', EventId.AgentSocketTakenOver, `took over ${file}: ${previous.left}`, {
          socket: file,
        });
      }
      for (const trigger of triggers)
        this.#triggers.push(await trigger.start((e) => void this.#onTrigger(e)));
    } catch (error) {
      await this.#release();
      this.log.log('error', EventId.AgentStartFailed, `the agent cannot run: ${errorMessage(error)}`, {
        ...(error instanceof CredroamError ? { code: error.code, ...error.details } : {}),
      });
      this.#resolveStopped();
      throw error;
    }
    this.#homeCheck = setInterval(() => void this.#stopIfHomeGone(), this.options.homeCheckMs ?? 2_000);
    this.log.log('info', EventId.AgentStarted, 'agent started', {
      user: this.config.user,
      socket: file,
      pid: process.pid,
      plugins: Object.fromEntries(this.#session.host.list().map((p) => [p.id, p.state])),
      keys: this.#keysOpen() ? 'open' : 'closed: waiting for logon',
    });
  }

  /**
   * Who is on the control socket: a live agent answers; a socket nobody answers on is `left`
   * behind (the reason says why it counts as dead).
   */
  async #askRunningAgent(): Promise<{ answered: boolean; pid?: unknown; left?: string }> {
    try {
      const answer = await askAgent(this.config, { cmd: 'status' }, AGENT_PING_MS);
      if (answer) return { answered: true, pid: answer.ok ? answer.pid : undefined };
      // No socket at all (a first start, or the last agent stopped cleanly): nothing is taken over.
      if ((await lstat(socketPath(this.config)).catch(() => undefined)) === undefined)
        return { answered: false };
      return { answered: false, left: 'no agent listened on it (one was killed)' };
    } catch (error) {
      const why = errorMessage(error);
      const timedOut = /^the agent did not answer (within \d+ ms)/.exec(why);
      return {
        answered: false,
        left: timedOut
          ? `the process on it did not answer ${timedOut[1]}`
          : `the process on it did not answer: ${why}`,
      };
    }
  }

  /** The manifest's triggers (the default ones unless it turned them off, and its own), built but not started. */
  async #makeTriggers(): Promise<Trigger[]> {
    const triggers: Trigger[] = [];
    for (const t of this.config.triggers) {
      let factory: ContributionFactory<Trigger>;
      try {
        factory = await this.#session.host.contribution(Trigger, t.use);
      } catch (error) {
        // E_PLUGIN_FAILED: its plugin is optional (a required one throws E_REQUIRED_PLUGIN).
        if (!(error instanceof CredroamError) || error.code !== 'E_PLUGIN_FAILED') throw error;
        this.log.log(
          'warn',
          EventId.AgentTriggerUnavailable,
          `${errorMessage(error)}; the agent goes on without this trigger`,
          { trigger: t.use, plugin: error.details.plugin },
        );
        continue;
      }
      triggers.push(
        await factory({
          user: this.config.user,
          home: this.config.home,
          settings: this.#triggerSettings(t),
          // A refresh's new settings reach the triggers (the policy-refresh interval among them).
          policy: liveSection(() => this.#session.policy.roaming),
        }),
      );
    }
    return triggers;
  }

  /**
   * A trigger's settings; the store watcher, given no `path`, watches what the primary store says
   * other programs change (an NSS database's folder: a browser's import roams at once), else its
   * own default (credroam's folder).
   */
  #triggerSettings(t: AgentConfig['triggers'][number]): Record<string, unknown> {
    if (t.use !== 'store-watcher' || t.settings.path !== undefined) return t.settings;
    const local = this.#session.local as { watchPaths?: () => readonly string[] };
    const watched = typeof local.watchPaths === 'function' ? local.watchPaths()[0] : undefined;
    return watched === undefined ? t.settings : { ...t.settings, path: watched };
  }

  /** True when the protector holds the user's keys (or needs none). */
  #keysOpen(): boolean {
    return this.#session.protector.unlocked === true || !this.#session.protector.unlock;
  }

  /** Resolves when the agent has stopped. */
  get stopped(): Promise<void> {
    return this.#stopped;
  }

  async stop(): Promise<void> {
    if (this.#stopping) return this.#stopped;
    await this.#release();
    this.log.log('info', EventId.AgentStopped, 'agent stopped', { user: this.config.user });
    this.#resolveStopped();
    return this.#stopped;
  }

  /** Stops the triggers, lets a running sync end, closes the control socket and the session. */
  async #release(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#homeCheck);
    for (const t of this.#triggers.splice(0)) await Promise.resolve(t.dispose()).catch(() => undefined);
    await this.#running?.catch(() => undefined);
    await this.#control?.close();
    await this.#session?.dispose();
  }

  /** Schedules a sync; while one runs, exactly one more is scheduled (bursts coalesce). */
  requestSync(reason: string, full = false): Promise<void> {
    if (this.#stopping || this.#closing) return Promise.resolve();
    // R4: enrollment follows the sync of a logon and of each policy refresh.
    if (reason === 'logon' || reason === 'policy refresh') this.#enrollDue = true;
    if (this.#running) {
      this.#again = { full: full || (this.#again?.full ?? false) };
      return this.#running;
    }
    this.#running = this.#loop(reason, full).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #loop(reason: string, full: boolean): Promise<void> {
    let next: { reason: string; full: boolean } | undefined = { reason, full };
    while (next && !this.#stopping) {
      const synced = await this.#syncOnce(next.reason, next.full);
      if (synced && this.#enrollDue && !this.#stopping) {
        this.#enrollDue = false;
        await this.#enrollOnce();
      }
      next = this.#again ? { reason: 'coalesced trigger', full: this.#again.full } : undefined;
      this.#again = undefined;
    }
  }

  /** Stops the agent when its home or control socket was removed; true when it did. */
  async #stopIfHomeGone(): Promise<boolean> {
    if (this.#stopping) return true;
    if (await this.#control?.isOwn()) return false;
    this.log.log(
      'warn',
      EventId.AgentSocketGone,
      `the agent's control socket ${socketPath(this.config)} is gone: stopping`,
      {
        home: this.config.home,
      },
    );
    void this.stop();
    return true;
  }

  /** Enrollment after a sync (it syncs again itself when it stored something); a failure is logged. */
  async #enrollOnce(): Promise<void> {
    try {
      await this.#session.enrollment.run();
    } catch (error) {
      this.log.log('warn', EventId.EnrollmentFailed, `enrollment: ${errorMessage(error)}`);
    }
  }

  async #syncOnce(reason: string, full: boolean): Promise<SyncReport | undefined> {
    // A sync writes into the home: never into one that was removed (it would re-create it).
    if (await this.#stopIfHomeGone()) return undefined;
    if (this.#closing) {
      this.log.log('info', EventId.AgentSyncEnded, `no sync (${reason}): logging off`, {
        reason,
        outcome: 'logging off',
      });
      return undefined;
    }
    if (!this.#keysOpen()) {
      this.log.log(
        'info',
        EventId.AgentSyncEnded,
        `no sync (${reason}): the keys are closed, waiting for logon`,
        {
          reason,
          outcome: 'waiting for logon',
        },
      );
      return undefined;
    }
    // Numbered before the engine reads anything: a sync numbered after a request saw what preceded it.
    const seq = ++this.#syncs;
    const result = (r: Omit<SyncResult, 'seq'>) => {
      if (seq > this.#lastResult.seq) this.#lastResult = { seq, ...r };
    };
    try {
      const report = await this.#session.engine.sync({ full });
      if (full) this.#lastFullSync = Date.now();
      // The mirrors, after the primary: one that fails is logged (3021) and does not fail the sync.
      const mirrors = await this.#session.mirrors.update();
      result({ report, mirrors });
      this.#retryDelay = this.options.retryMinMs ?? 2_000;
      await this.#record({ outcome: report.outcome, counts: report.counts, skippedItems: report.skipped });
      this.log.log('info', EventId.AgentSyncEnded, `sync (${reason}): ${report.outcome}`, {
        reason,
        full,
        outcome: report.outcome,
        ...report.counts,
        skipped: report.skipped.length,
      });
      return report;
    } catch (error) {
      result({ error });
      await this.#record({ outcome: 'failed', error: errorMessage(error) });
      if (
        error instanceof CredroamError &&
        (error.code === 'E_UNREACHABLE' || error.code === 'E_CAS_EXHAUSTED')
      ) {
        // Offline: local changes wait and roam when the directory returns, with no user action.
        const delay = Math.round(this.#retryDelay * (0.75 + Math.random() / 2));
        this.#retryDelay = Math.min(this.#retryDelay * 2, this.options.retryMaxMs ?? 300_000);
        this.log.log('warn', EventId.SyncRetryScheduled, `directory unreachable; retrying in ${delay} ms`, {
          reason,
        });
        clearTimeout(this.#retryTimer);
        this.#retryTimer = setTimeout(() => void this.requestSync('retry after failure'), delay);
        this.#retryTimer.unref();
      } else {
        this.log.log('error', EventId.SyncFailed, `sync failed: ${errorMessage(error)}`, { reason });
      }
      return undefined;
    }
  }

  async #record(last: Omit<LastSync, 'at'>): Promise<void> {
    // As recorded: after a sync with nothing to do, what the last one that read both sides skipped.
    this.#last = await recordLastSync(this.config, last).catch(() => ({
      at: new Date().toISOString(),
      ...last,
    }));
  }

  async #onTrigger(e: TriggerEvent): Promise<void> {
    this.log.log('info', EventId.AgentTriggerFired, `trigger: ${e.name}`, { source: e.source });
    switch (e.name) {
      case 'storeChanged':
        // The agent's own writes to the store (downloads) fire this too: the sync they start finds
        // nothing to do and writes nothing, so it ends there — one settling sync, never a loop.
        // (Ignoring events by comparing revisions would swallow a change another tool made right
        // after the agent's own write.)
        await this.requestSync('store changed');
        return;
      case 'policyRefresh':
        try {
          // The whole fetch and verify again; any failure keeps the bundle in force (events 1040–1049).
          // Plugins the new allow-list refuses are deactivated before the settings change.
          const loaded = await loadPolicy(this.config, { host: this.#session.host, log: this.log });
          await applyHostPolicy(this.#session.host, loaded);
          this.#session.updatePolicy(loaded);
        } catch (error) {
          this.log.log(
            'warn',
            EventId.PolicyRefreshFailed,
            `policy refresh: ${errorMessage(error)} (keeping the previous policy)`,
          );
        }
        await this.requestSync(
          'policy refresh',
          Date.now() - this.#lastFullSync >= (this.options.fullSyncEveryMs ?? 86_400_000),
        );
        return;
      case 'logon':
        await this.requestSync('logon', true);
        return;
      case 'unlock':
      case 'resume':
        await this.requestSync(e.name);
        return;
      case 'lock':
        return; // recorded above; a site may plug in its own action
      case 'logoff':
        await this.logoff();
        return;
    }
  }

  /** A final sync; with `removeOnLogoff`, removes the credentials safely in the directory; forgets the keys. */
  async logoff(): Promise<{ removed: number }> {
    // Full when it removes (no stamp shortcut): a directory writer who deleted values and left the
    // stamp would leave the last sync's base naming versions the directory lacks, and the removal
    // would take the last copy. A full sync puts back what is missing first.
    const before = this.#syncs;
    await this.requestSync('logoff', this.#session.policy.roaming.removeOnLogoff);
    let removed = 0;
    // From the final sync until the keys are closed no sync starts (see `#closing`); one a trigger
    // started meanwhile ends first.
    this.#closing = true;
    try {
      await this.#running?.catch(() => undefined);
      // Only after a final sync that ran and succeeded: not on an earlier one's outcome (a final
      // sync skipped, the keys closed or the agent stopping, leaves the directory unchecked).
      const final = this.#lastResult;
      if (this.#session.policy.roaming.removeOnLogoff && final.seq > before && final.report !== undefined) {
        removed = await removeSafelyRoamed(this.#session, final.report);
        // What left the store leaves the browsers and folders too.
        if (removed > 0) await this.#session.mirrors.update();
      }
    } finally {
      // Closed even when the removal failed: the user has logged off.
      this.#session.protector.lock?.();
      this.#password = undefined;
      this.#closing = false;
    }
    this.log.log('info', EventId.AgentKeysClosed, 'logged off: the keys are closed', { removed });
    return { removed };
  }

  /** A logon: opens the keys with the password (or re-wraps them for a PAM password change), then a full sync. */
  async #logon(request: Extract<AgentRequest, { cmd: 'logon' }>): Promise<Record<string, unknown>> {
    let opened: { readonly created: boolean; readonly offline: boolean } | undefined;
    let rewrapped = false;
    // A proof is good for one logon, whatever becomes of it.
    const proofUsed = request.proof !== undefined && this.#usedProofs.has(request.proof);
    if (request.proof) this.#usedProofs.add(request.proof);
    const previous = this.#password;
    this.#password = request.password; // the directory may bind with it
    try {
      opened = await this.#session.protector.unlock?.({ password: request.password });
    } catch (error) {
      this.#password = previous;
      // A password that does not open the keys while this agent holds them: the system's
      // password was changed (re-wrap the keys for it), or another program of the user is
      // trying its own (refuse). Only a proof that the PAM hook, running as root, sent it
      // tells the two apart.
      const wrong = error instanceof CredroamError && error.code === 'E_WRONG_PASSWORD';
      if (!wrong || !this.#session.protector.unlocked || !this.#session.protector.changePassword) throw error;
      const problem = request.pam
        ? proofUsed
          ? 'the proof token was used before'
          : await pamProofProblem(request.proof, { uid: process.getuid?.() ?? -1 })
        : 'it was not a PAM logon';
      if (problem) {
        this.log.log(
          'warn',
          EventId.PasswordChangeRefused,
          `a password that does not open the keys was offered; the keys were not re-wrapped for it: ${problem}`,
        );
        throw new CredroamError(
          'E_WRONG_PASSWORD',
          'this password does not open your credroam keys, and it did not come through the system logon, so the keys were not ' +
            're-wrapped for it; nothing was changed. To change the roaming password, run `credroam passwd` with the old and the new password.',
        );
      }
      this.#password = request.password;
      await this.#session.protector.changePassword({ newPassword: request.password });
      rewrapped = true;
      this.log.log(
        'info',
        EventId.KeysRewrapped,
        'the password was changed: re-wrapped the keys for the new one',
      );
    }
    this.log.log('info', EventId.AgentKeysOpened, 'logged on: the keys are open', {
      created: opened?.created ?? false,
      offline: opened?.offline ?? false,
      rewrapped,
    });
    await this.requestSync('logon', true);
    return {
      unlocked: true,
      created: opened?.created ?? false,
      offline: opened?.offline ?? false,
      rewrapped,
      lastSync: this.#last ?? null,
    };
  }

  async #handle(request: AgentRequest): Promise<Record<string, unknown>> {
    switch (request.cmd) {
      case 'status':
        return {
          running: true,
          pid: process.pid,
          user: this.config.user,
          unlocked: this.#session.protector.unlocked ?? true,
          syncing: this.#running !== undefined,
          lastSync: this.#last ?? null,
          // What this agent obeys now (a refresh may have applied a bundle since it started).
          policy: this.#session.loadedPolicy.origin,
        };
      case 'logon':
        try {
          return await this.#logon(request);
        } catch (error) {
          // The log says why the keys stayed closed (a wrong password, an unreadable directory):
          // the agent goes on waiting for a logon.
          if (!this.#keysOpen()) {
            const code = error instanceof CredroamError ? error.code : 'E_INTERNAL';
            this.log.log(
              'info',
              EventId.AgentSyncEnded,
              `no sync (logon): the logon failed, the keys stay closed: ${errorMessage(error)} [${code}]`,
              { reason: 'logon', outcome: 'waiting for logon', code },
            );
          }
          throw error;
        }
      case 'trigger': {
        const names = ['logon', 'logoff', 'lock', 'unlock', 'refresh', 'resume', 'storeChanged'];
        if (!names.includes(request.event))
          throw new CredroamError('E_USAGE', `unknown trigger '${request.event}'`, {
            trigger: request.event,
          });
        const name = request.event === 'refresh' ? 'policyRefresh' : (request.event as TriggerEvent['name']);
        if (name === 'logoff') return { event: name, ...(await this.logoff()), lastSync: this.#last ?? null };
        // An event whose whole work is a sync does nothing while the keys are closed: not taken.
        if (!this.#keysOpen() && ['logon', 'unlock', 'resume', 'storeChanged'].includes(name))
          throw new CredroamError(
            'E_LOCKED',
            `the agent holds no keys, so '${request.event}' would sync nothing: log on (${LOGON_COMMAND})`,
            {
              trigger: request.event,
            },
          );
        await this.#onTrigger({ name, source: 'cli', at: Date.now() });
        return { event: name, unlocked: this.#keysOpen(), lastSync: this.#last ?? null };
      }
      case 'passwd':
        if (!this.#session.protector.changePassword)
          throw new CredroamError('E_UNSUPPORTED', 'this token protector has no password');
        // With the old password only: a program of the user must not be able to choose a new one.
        await this.#session.protector.changePassword({
          oldPassword: request.oldPassword,
          newPassword: request.newPassword,
        });
        return { changed: true };
      case 'import':
      case 'export':
        return credentialRequest(this.#session, request, () => void this.requestSync(`${request.cmd} (CLI)`));
      case 'sync': {
        // `credroam sync` while this agent holds the keys: a sync that starts after the request
        // (one in progress first ends), answered with the report of the last one that ran — never
        // that of the sync in progress, which may have read the store before the request's change.
        if (!this.#keysOpen()) throw new CredroamError('E_LOCKED', AGENT_LOCKED);
        const before = this.#syncs;
        await this.requestSync('sync (CLI)', request.full === true);
        const { seq, report, mirrors, error } = this.#lastResult;
        if (seq <= before)
          throw new CredroamError(
            'E_AGENT',
            'the agent ran no sync (it is stopping, or its keys were closed)',
          );
        if (error !== undefined) throw error;
        return {
          report,
          ...(mirrors && mirrors.length > 0 ? { mirrors } : {}),
          lastSync: this.#last ?? null,
        };
      }
      case 'enroll': {
        if (!this.#keysOpen()) throw new CredroamError('E_LOCKED', AGENT_LOCKED);
        // After the sync in progress, if any; on demand, retry times do not hold a profile back.
        await this.#running?.catch(() => undefined);
        if (!request.dryRun) await this.#syncOnce('enroll (CLI)', false);
        return { ...(await this.#session.enrollment.run({ now: true, dryRun: request.dryRun === true })) };
      }
      case 'stop':
        setImmediate(() => void this.stop());
        return { stopping: true };
      default:
        // A newer command than this agent (it keeps running across an upgrade): say so, not "ok".
        throw new CredroamError(
          'E_USAGE',
          `this agent does not know the request '${String((request as { cmd?: unknown }).cmd).slice(0, 40)}': restart it (credroam trigger stop, then log on again)`,
        );
    }
  }

  async #listen(): Promise<void> {
    this.#control = await ControlSocket.open(socketPath(this.config), async (line) => {
      try {
        return { ok: true, ...(await this.#handle(JSON.parse(line) as AgentRequest)) };
      } catch (error) {
        const code = error instanceof CredroamError ? error.code : 'E_INTERNAL';
        const details = error instanceof CredroamError ? error.details : {};
        return { ok: false, error: { code, message: errorMessage(error), details } };
      }
    });
  }
}
