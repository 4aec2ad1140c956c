import { CredroamError, EventId, type LocalListing, LocalStore } from '@credroam/core/api';
import type { EventLog } from '@credroam/core/events';
import type { PluginHost } from '@credroam/core/host';
import { readFileNoFollow } from '@credroam/core/kit';
import { parseSettings } from '@credroam/plugin-nss';
import type { Pkcs12Api } from '@credroam/plugin-pkcs12';
import type { AgentConfig } from '../config.js';
import { type Destination, describeDestination, destinationId, resolveMirrors } from './destinations.js';
import { FileFolder } from './file-folder.js';
import {
  activeCredentials,
  Mirror,
  type MirrorCredential,
  type MirrorInspection,
  type MirrorOutcome,
} from './mirror.js';
import { StoreTarget } from './store-target.js';

export { type Destination, describeDestination, destinationId, resolveMirrors } from './destinations.js';
export { discoverProfiles, PROFILE_ROOTS, parseIni } from './profiles.js';

/** What one mirroring did at one destination: its outcome, or why it failed (the sync goes on). */
export type MirrorReport =
  | {
      readonly destination: string;
      readonly description: string;
      readonly ok: true;
      readonly outcome: MirrorOutcome;
    }
  | {
      readonly destination: string;
      readonly description: string;
      readonly ok: false;
      readonly error: string;
    };

/** One destination as `doctor` and `status` show it. */
export type DestinationStatus = {
  readonly role: 'primary' | 'mirror';
  readonly destination: string;
  readonly description: string;
} & (({ readonly ok: true } & MirrorInspection) | { readonly ok: false; readonly error: string });

export interface MirrorsOptions {
  readonly config: AgentConfig;
  readonly host: PluginHost;
  readonly log: EventLog;
  readonly primary: LocalStore;
  /** The user's home, where Chromium's database and the profiles are (default: `os.homedir()`). */
  readonly userHome?: string;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * The mirrors of one endpoint: the destinations the agent manifest's `mirrors` name, each kept
 * holding exactly the primary store's active credentials (after each sync, and at logon). Not the
 * engine's business: the engine syncs the primary only, and nothing a mirror holds roams.
 */
export class Mirrors {
  readonly #options: MirrorsOptions;
  readonly #primaryDatabase: string | undefined;
  /** One mirror per destination for the session's life (an NSS store keeps the keys it exported). */
  readonly #mirrors = new Map<string, Mirror>();

  constructor(options: MirrorsOptions) {
    this.#options = options;
    this.#primaryDatabase =
      options.config.localStore.use === 'nss'
        ? parseSettings(options.config.localStore.settings, options.userHome).database
        : undefined;
  }

  /** The destinations found now: profiles are looked for again each time (one made since is found). */
  get destinations(): Destination[] {
    return resolveMirrors(this.#options.config.mirrors, {
      ...(this.#options.userHome !== undefined ? { home: this.#options.userHome } : {}),
      ...(this.#primaryDatabase !== undefined ? { primaryDatabase: this.#primaryDatabase } : {}),
    });
  }

  /** What the primary holds that the mirrors receive. */
  async wanted(): Promise<MirrorCredential[]> {
    return activeCredentials(await this.#options.primary.list());
  }

  /**
   * Brings every mirror in step with the primary. A mirror that fails (a locked database, an
   * unknown password, a folder that is a link) is reported (event 3021) and tried again next time;
   * the others go on, and the sync does not fail for it. Never throws.
   */
  async update(): Promise<MirrorReport[]> {
    const destinations = this.destinations;
    if (destinations.length === 0) return [];
    // The primary unreadable now: every mirror is left as it is (never emptied for it).
    const wanted = await this.wanted().catch((error: unknown) => error as Error);
    const reports: MirrorReport[] = [];
    for (const d of destinations) {
      const destination = destinationId(d);
      const description = describeDestination(d);
      try {
        if (wanted instanceof Error) throw wanted;
        const outcome = await (await this.#mirror(d)).update(wanted);
        if (outcome.put + outcome.repaired + outcome.removed > 0) {
          this.#options.log.log(
            'info',
            EventId.MirrorUpdated,
            `mirror ${description}: put ${outcome.put}, repaired ${outcome.repaired}, removed ${outcome.removed}`,
            { destination, ...outcome },
          );
        }
        for (const f of outcome.failed) {
          this.#options.log.log(
            'warn',
            EventId.MirrorFailed,
            `mirror ${description}: credential ${f.certId} not mirrored: ${f.reason}`,
            { destination, kind: 'cert', id: f.certId },
          );
        }
        reports.push({ destination, description, ok: true, outcome });
      } catch (error) {
        this.#options.log.log(
          'warn',
          EventId.MirrorFailed,
          `mirror ${description} not updated: ${message(error)}`,
          {
            destination,
            ...(error instanceof CredroamError ? { code: error.code } : {}),
          },
        );
        reports.push({ destination, description, ok: false, error: message(error) });
      }
    }
    return reports;
  }

  /**
   * Each destination, the primary first, and whether it holds what it should (changes nothing).
   * `listing`: the primary's, when the caller has just read it (`status`), so that it is not read twice.
   */
  async inspect(listing?: LocalListing): Promise<DestinationStatus[]> {
    const { config } = this.#options;
    listing ??= await this.#options.primary.list();
    const wanted = activeCredentials(listing);
    const primary: DestinationStatus = {
      role: 'primary',
      destination: `${config.localStore.use}:primary`,
      description: `the ${config.localStore.use} store (primary)`,
      ok: true,
      current: true,
      holds: wanted.map((c) => c.certId).sort(),
      missing: [],
      extra: [],
      others: listing.items.filter((i) => i.kind === 'cert' && i.archived).length,
    };
    const out: DestinationStatus[] = [primary];
    for (const d of this.destinations) {
      const destination = destinationId(d);
      const description = describeDestination(d);
      try {
        const inspection = await (await this.#mirror(d)).inspect(wanted);
        out.push({ role: 'mirror', destination, description, ok: true, ...inspection });
      } catch (error) {
        out.push({ role: 'mirror', destination, description, ok: false, error: message(error) });
      }
    }
    return out;
  }

  async #mirror(d: Destination): Promise<Mirror> {
    const made = this.#mirrors.get(destinationId(d)) ?? (await this.#make(d));
    this.#mirrors.set(destinationId(d), made);
    return made;
  }

  async #make(d: Destination): Promise<Mirror> {
    const { config, host } = this.#options;
    if (d.kind === 'nss') {
      const store = await (await host.contribution(LocalStore, 'nss'))({
        user: config.user,
        home: config.home,
        settings: {
          database: d.database,
          ...(d.passwordFile !== undefined ? { passwordFile: d.passwordFile } : {}),
        },
        policy: {},
      });
      return new Mirror(destinationId(d), config.home, new StoreTarget(store));
    }
    await host.activateByEvent('onCommand:mirror');
    const pkcs12 = host.api<Pkcs12Api>('credroam.pkcs12');
    if (!pkcs12)
      throw new CredroamError(
        'E_PLUGIN_FAILED',
        'the file mirror needs the credroam.pkcs12 plugin, which is not active',
      );
    const passwordFile = d.passwordFile;
    const target = new FileFolder({
      folder: d.folder,
      format: d.format,
      pkcs12,
      password: async () => {
        if (passwordFile === undefined) return '';
        const data = await readFileNoFollow(passwordFile, { maxBytes: 4096 }).catch(() => undefined);
        if (data === undefined) {
          throw new CredroamError('E_SECRET', `cannot read the file mirror's password file ${passwordFile}`, {
            file: passwordFile,
          });
        }
        return data.toString('utf8').split(/\r?\n/, 1)[0] ?? '';
      },
    });
    return new Mirror(destinationId(d), config.home, target);
  }
}
