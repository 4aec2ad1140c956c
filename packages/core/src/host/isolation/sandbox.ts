import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { CredroamError } from '../../api/errors.js';
import { CHANNEL_FD } from './channel.js';
import { folderGrants } from './permissions.js';

/**
 * How an isolated plugin's process is started (decision 016, docs/plugins/isolation.md):
 *
 * - Node's permission model: reads limited to the plugin's package folder, its state folder, the
 *   runner and the plugin API it imports, and folders granted `read:`/`write:`; writes to its state
 *   folder and `write:` folders; no child processes, no workers, no native addons, no WASI (none of
 *   `--allow-child-process`, `--allow-worker`, `--allow-addons`, `--allow-wasi` is given). Node
 *   follows links out of a granted folder: the package folder is checked for them before each
 *   start (package-links.ts); `read:`/`write:` folders are not (a check could not hold against a
 *   link made after it), so granting a folder grants what its links reach (docs/plugins/isolation.md).
 * - No network unless granted `network`: Node's model does not cover sockets, so the process runs
 *   in a network namespace of its own (`unshare --net`, with `--user --map-root-user` when the
 *   agent is not root), which has no interface but a loopback that is down. Where no namespace can
 *   be made, a plugin without `network` is refused, never run with the network.
 * - An explicit, minimal environment: `HOME` and `TMPDIR` are its state folder, nothing else of the
 *   agent's (no session bus address, no secrets).
 * - `setpriv --pdeathsig KILL` when present, and the runner exits when its channel (channel.ts) closes: the
 *   process never outlives the host.
 */
export interface LaunchSpec {
  /** The plugin's package folder, links resolved. */
  readonly dir: string;
  readonly stateDir: string;
  readonly granted: readonly string[];
  /** The runner module (child-runner.js). */
  readonly runner: string;
  /** Folders the runner needs to read (its own, the API's) and files (core's package.json). */
  readonly hostReads: readonly string[];
}

export interface Launch {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** How the network is cut: `netns`, or `granted` (not cut). */
  readonly network: 'netns' | 'granted';
}

const TOOL_FOLDERS = ['/usr/bin', '/bin', '/usr/sbin', '/sbin'];

function tool(name: string): string | undefined {
  return TOOL_FOLDERS.map((d) => path.join(d, name)).find((f) => existsSync(f));
}

type NetworkCut = { ok: true; prefix: string[] } | { ok: false; reason: string };
let cachedCut: NetworkCut | undefined;

/**
 * Whether this machine can give a process a network namespace of its own, and the command prefix
 * that does (`unshare --net --`, or unprivileged `unshare --user --map-root-user --net --`). Tried
 * once per process with a real namespace (`unshare … node -e 0`).
 */
export function networkCut(): NetworkCut {
  cachedCut ??= probeNetworkCut();
  return cachedCut;
}

function probeNetworkCut(): NetworkCut {
  const unshare = tool('unshare');
  if (!unshare) return { ok: false, reason: 'unshare (util-linux) is not installed' };
  const tries =
    process.getuid?.() === 0
      ? [
          [unshare, '--net', '--'],
          [unshare, '--user', '--map-root-user', '--net', '--'],
        ]
      : [[unshare, '--user', '--map-root-user', '--net', '--']];
  let last = '';
  for (const prefix of tries) {
    const probe = spawnSync(prefix[0]!, [...prefix.slice(1), process.execPath, '-e', '0'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {},
      timeout: 10_000,
    });
    if (probe.status === 0) return { ok: true, prefix };
    last = probe.stderr?.toString().trim() || `exit ${probe.status ?? probe.signal}`;
  }
  return {
    ok: false,
    reason: `no network namespace can be made here (${last}); check sysctl user.max_user_namespaces and kernel.unprivileged_userns_clone`,
  };
}

/** `--permission` from Node 22.13 and 23.5; `--experimental-permission` before (Node 20). */
function permissionFlag(): string {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major >= 24 || (major === 23 && minor >= 5) || (major === 22 && minor >= 13)
    ? '--permission'
    : '--experimental-permission';
}

/** The command that starts an isolated plugin's process; throws E_PLUGIN_SANDBOX when it cannot be cut off as granted. */
export function planLaunch(spec: LaunchSpec): Launch {
  const folders = folderGrants(spec.granted);
  const reads = [spec.dir, spec.stateDir, ...spec.hostReads, ...folders.read, ...folders.write];
  const writes = [spec.stateDir, ...folders.write];
  const nodeArgs = [
    permissionFlag(),
    '--disable-warning=ExperimentalWarning',
    ...reads.map((r) => `--allow-fs-read=${r}`),
    ...writes.map((w) => `--allow-fs-write=${w}`),
    spec.runner,
  ];
  let prefix: string[] = [];
  const network = spec.granted.includes('network') ? 'granted' : 'netns';
  if (network === 'netns') {
    const cut = networkCut();
    if (!cut.ok) {
      throw new CredroamError('E_PLUGIN_SANDBOX', `the plugin's network cannot be cut off: ${cut.reason}`);
    }
    prefix = cut.prefix;
  }
  const setpriv = tool('setpriv');
  const death = setpriv ? [setpriv, '--pdeathsig', 'KILL', '--'] : [];
  const [command, ...rest] = [...death, ...prefix, process.execPath, ...nodeArgs];
  return {
    command: command!,
    args: rest,
    env: {
      HOME: spec.stateDir,
      TMPDIR: spec.stateDir,
      LANG: 'C.UTF-8',
      CREDROAM_PLUGIN_CHANNEL: String(CHANNEL_FD),
    },
    network,
  };
}
