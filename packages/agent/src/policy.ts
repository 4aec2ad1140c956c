import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { CredroamError, EventId, errorMessage, PolicySource } from '@credroam/core/api';
import type { EventLog } from '@credroam/core/events';
import { CORE_VERSION, type PluginHost } from '@credroam/core/host';
import {
  type AllowListEntry,
  DEFAULT_POLICY_ROOT,
  type FetchedBundle,
  hashPluginFiles,
  type PluginAllowList,
  type PolicyInForce,
  parseSitePolicy,
  policyInForce,
  readPolicyRoots,
  reportInForce,
  type SitePolicy,
  updateSitePolicy,
} from '@credroam/core/policy';
import { type HostPolicy, pluginFolders } from './cli/plugins.js';
import { type AgentConfig, FIRST_PARTY_PLUGINS } from './config.js';

/** Where the policy in force came from, for `status`, `doctor` and `policy show`. */
export type PolicyOrigin =
  | { readonly kind: 'defaults'; readonly reason: string }
  | { readonly kind: 'local-file'; readonly file: string }
  | {
      readonly kind: 'bundle';
      readonly siteId: string;
      readonly serial: number;
      readonly source: string;
      readonly issuedAt: string;
      readonly notAfter: string;
      readonly expired: boolean;
      readonly digest: string;
      readonly acceptedAt: string;
    };

/** What `loadPolicy` hands the composition root. */
export interface LoadedPolicy {
  readonly policy: SitePolicy;
  /**
   * What the plugin host obeys (`createHost(config, log, { allowList })`, `host.applyAllowList`):
   * `undefined` without a site root (plugins unrestricted), else the bundle's entries, or — with a
   * root and no bundle in force — the first-party plugins as installed (never "everything
   * configured": deleting the bundle cannot add a third-party plugin).
   */
  readonly allowList: PluginAllowList;
  readonly origin: PolicyOrigin;
}

/** What the plugin host is told of a loaded policy: its allow-list, and the serial its reasons name. */
export function hostPolicy(loaded: LoadedPolicy): HostPolicy {
  return {
    allowList: loaded.allowList,
    ...(loaded.origin.kind === 'bundle' ? { policySerial: loaded.origin.serial } : {}),
  };
}

/**
 * The site root this endpoint obeys: the system one when it exists, whatever the manifest says (the
 * manifest is the user's file: a `policy.root` of its own naming another root-owned PEM would let
 * the user pick who signs their policy, decision 011); else the manifest's.
 */
async function siteRoot(
  config: Pick<AgentConfig, 'sitePolicy'>,
  systemRoot: string,
): Promise<string | undefined> {
  // Only a root that does not exist is absent: one the agent cannot even look at (a folder it may
  // not search, a loop) is installed, and reading it fails with E_POLICY_ROOT, never "no policy".
  const installed = await access(systemRoot).then(
    () => true,
    (error: NodeJS.ErrnoException) => error.code !== 'ENOENT',
  );
  return installed ? systemRoot : config.sitePolicy?.root;
}

export interface LoadPolicyOptions {
  /** The started plugin host: with it, every configured source is fetched and verified; without, only the record is read. */
  readonly host?: PluginHost;
  readonly log?: EventLog;
  readonly now?: Date;
  /** The system root path (tests point it elsewhere). */
  readonly systemRoot?: string;
}

/**
 * The site policy this endpoint obeys.
 * - With a site root (`/etc/credroam/policy-root.pem` when it exists — a root-owned system file
 *   governs the endpoint whatever the user's manifest says, its `policy.root` included, and then
 *   the unsigned local policy file is ignored; else the manifest's `policy.root`): with `host`, fetches every configured source
 *   through its PolicySource contribution, verifies each, accepts the highest valid serial, and
 *   records it; a failure of any kind keeps the bundle in force (events 1040–1049): every command
 *   that opens a session (`status`, `sync`, `list`, the agent) does this. Without `host`
 *   (`doctor`, `plugins list`, `policy show`): what the record says is in force.
 * - Without: the unsigned local policy file of the manifest's string form, or the defaults;
 *   plugins unrestricted.
 */
export async function loadPolicy(
  config: Pick<AgentConfig, 'policy' | 'sitePolicy' | 'home' | 'user' | 'file'>,
  options: LoadPolicyOptions = {},
): Promise<LoadedPolicy> {
  const root = await siteRoot(config, options.systemRoot ?? DEFAULT_POLICY_ROOT);
  if (!root) {
    if (!config.policy)
      return {
        policy: parseSitePolicy({}),
        allowList: undefined,
        origin: { kind: 'defaults', reason: 'no site policy root and no local policy file' },
      };
    return {
      policy: await readLocalPolicy(config.policy),
      allowList: undefined,
      origin: { kind: 'local-file', file: config.policy },
    };
  }
  const now = options.now ?? new Date();
  if (!config.sitePolicy) {
    // A system root, and a manifest that names no site: nothing can be verified, nothing loosened.
    const reason = `${root} is installed but the agent manifest names no policy.siteId`;
    if (options.log && options.host)
      reportInForce({ kind: 'defaults', policy: parseSitePolicy({}), reason, damaged: false }, options.log);
    return {
      policy: parseSitePolicy({}),
      allowList: await firstPartyAllowList(config),
      origin: { kind: 'defaults', reason },
    };
  }
  const trust = {
    roots: await readPolicyRoots(root),
    siteId: config.sitePolicy.siteId,
    agentVersion: CORE_VERSION,
  };
  let inForce: PolicyInForce;
  if (options.host && options.log) {
    const fetched = await fetchAll(options.host, config, options.log);
    inForce = (await updateSitePolicy({ home: config.home, trust, now, fetched, log: options.log })).inForce;
  } else {
    inForce = await policyInForce(config.home, trust, now);
  }
  return fromInForce(inForce, config);
}

async function fromInForce(inForce: PolicyInForce, config: Pick<AgentConfig, 'file'>): Promise<LoadedPolicy> {
  if (inForce.kind === 'defaults')
    return {
      policy: inForce.policy,
      allowList: await firstPartyAllowList(config),
      origin: { kind: 'defaults', reason: inForce.reason },
    };
  const r = inForce.record;
  return {
    policy: await withEscrowKey(inForce.policy, undefined),
    allowList: inForce.allowList,
    origin: {
      kind: 'bundle',
      siteId: r.siteId,
      serial: r.serial,
      source: r.source,
      issuedAt: r.issuedAt,
      notAfter: r.notAfter,
      expired: inForce.expired,
      digest: r.digest,
      acceptedAt: r.acceptedAt,
    },
  };
}

/**
 * The name a source goes by in events, the record and `status`: its plugin's (`ldap`), or, where
 * several sources use one plugin (two directory servers), that and its place among them (`ldap #2`).
 */
export function sourceLabels(sources: readonly { readonly use: string }[]): string[] {
  return sources.map((s, i) => {
    const same = sources.filter((o) => o.use === s.use);
    return same.length === 1
      ? s.use
      : `${s.use} #${sources.slice(0, i + 1).filter((o) => o.use === s.use).length}`;
  });
}

/** Fetches from every configured source; one that fails is logged (1040) and skipped. */
async function fetchAll(
  host: PluginHost,
  config: Pick<AgentConfig, 'sitePolicy' | 'home' | 'user'>,
  log: EventLog,
): Promise<FetchedBundle[]> {
  const out: FetchedBundle[] = [];
  const sources = config.sitePolicy?.sources ?? [];
  const labels = sourceLabels(sources);
  for (const [i, s] of sources.entries()) {
    const label = labels[i]!;
    try {
      const source = await (await host.contribution(PolicySource, s.use))({
        user: config.user,
        home: config.home,
        settings: s.settings,
        policy: {},
      });
      const bytes = await source.fetch();
      out.push({ source: label, ...(bytes ? { bytes } : {}) });
    } catch (error) {
      const code = (error as { code?: unknown } | undefined)?.code;
      log.log(
        'warn',
        EventId.PolicyRefreshFailed,
        `policy source ${label}: ${errorMessage(error)} (keeping the policy in force)`,
        // The code says what failed (E_UNREACHABLE, E_TLS_UNTRUSTED, E_POLICY_TOO_LARGE…), as
        // docs/admin/policy.md's table of failures has it.
        { source: label, ...(typeof code === 'string' ? { code } : {}) },
      );
      out.push({ source: label, error: error as Error });
    }
  }
  return out;
}

/**
 * The allow-list of an endpoint with a site root and no bundle in force: each first-party plugin
 * as installed (its exact version, the hashes of its files now). A third-party plugin is never on it.
 */
export async function firstPartyAllowList(config: Pick<AgentConfig, 'file'>): Promise<AllowListEntry[]> {
  const entries: AllowListEntry[] = [];
  for (const { dir, pkg } of await firstPartyPackages(config)) {
    entries.push({ id: pkg.credroam.id, version: pkg.version, files: await hashPluginFiles(dir) });
  }
  return entries;
}

/** The ids of the first-party plugins that fetch policy bundles (contribute a PolicySource). */
export async function policySourcePlugins(config: Pick<AgentConfig, 'file'>): Promise<string[]> {
  return (await firstPartyPackages(config))
    .filter(({ pkg }) => (pkg.credroam.contributes?.policySources ?? []).length > 0)
    .map(({ pkg }) => pkg.credroam.id);
}

interface FirstPartyPackage {
  readonly dir: string;
  readonly pkg: {
    readonly version: string;
    readonly credroam: { readonly id: string; readonly contributes?: { readonly policySources?: unknown[] } };
  };
}

/** The package folder and package.json of each first-party plugin as installed here. */
async function firstPartyPackages(config: Pick<AgentConfig, 'file'>): Promise<FirstPartyPackage[]> {
  const found: FirstPartyPackage[] = [];
  for (const p of FIRST_PARTY_PLUGINS) {
    for (const nm of pluginFolders(config)) {
      const dir = path.join(nm, p.from);
      const pkg = await readFile(path.join(dir, 'package.json'), 'utf8').then(
        (text) => JSON.parse(text) as FirstPartyPackage['pkg'],
        () => undefined,
      );
      if (!pkg) continue;
      found.push({ dir, pkg });
      break;
    }
  }
  return found;
}

/**
 * Reads the unsigned local policy file (the manifest's string form). A signed bundle named there
 * (DER: a SEQUENCE, 0x30) is refused with where it goes instead, rather than as JSON that is not.
 */
export async function readLocalPolicy(file: string): Promise<SitePolicy> {
  let raw: unknown;
  try {
    const data = await readFile(file);
    if (data[0] === 0x30)
      throw new Error(
        'it is a signed policy bundle, not an unsigned policy file: an endpoint fetches a bundle through ' +
          'the agent manifest\'s "policy": { "root", "siteId", "sources" } (docs/admin/policy.md)',
      );
    raw = JSON.parse(data.toString('utf8'));
  } catch (error) {
    throw new CredroamError('E_POLICY', `cannot read the policy ${file}: ${(error as Error).message}`, {
      file,
    });
  }
  return withEscrowKey(parseSitePolicy(raw), file);
}

/** `protection.escrowPublicKeyFile`, relative to the local policy file, read into `escrowPublicKeyPem`. */
async function withEscrowKey(policy: SitePolicy, file: string | undefined): Promise<SitePolicy> {
  const escrow = policy.protection.escrowPublicKeyFile;
  if (typeof escrow !== 'string' || file === undefined) return policy;
  const pem = await readFile(path.resolve(path.dirname(file), escrow), 'utf8');
  return {
    ...policy,
    protection: { ...policy.protection, escrowPublicKeyFile: undefined, escrowPublicKeyPem: pem },
  };
}

/** One line: which policy is in force (`status`, `doctor`, `policy show`). */
export function describePolicyOrigin(origin: PolicyOrigin): string {
  switch (origin.kind) {
    case 'defaults':
      return `built-in defaults (${origin.reason})`;
    case 'local-file':
      return `unsigned local file ${origin.file} (no site root: plugins unrestricted)`;
    case 'bundle':
      return `signed bundle of site ${origin.siteId}, serial ${origin.serial}, from ${origin.source}, ${origin.expired ? 'EXPIRED at' : 'valid until'} ${origin.notAfter}`;
  }
}
