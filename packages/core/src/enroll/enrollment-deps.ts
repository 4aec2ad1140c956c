import type { LogLevel } from '../api/events.js';
import type { DirectoryStore, LocalStore, TokenProtector } from '../api/extension-points.js';
import type { Enroller, EnrollmentKey } from '../api/points/enroller.js';
import type { RoamingPolicy } from '../policy/policy.js';
import type { EnrollmentKeySpec, EnrollmentPolicy, EnrollmentProfile } from './profile.js';

/** What the enrollment service is given (the agent, the composition root, wires it). */
export interface EnrollmentDeps {
  readonly user: string;
  /** The user's data folder on this endpoint (enrollment.json lives there). */
  readonly home: string;
  readonly directory: DirectoryStore;
  readonly local: LocalStore;
  readonly protector: TokenProtector;
  /** Read at each run: a policy refresh applies to the next. */
  readonly policy: () => { readonly enrollment: EnrollmentPolicy; readonly roaming: RoamingPolicy };
  /** The profile's enroller (the agent asks the plugin host, with the profile's `ca.settings`). */
  readonly enroller: (profile: EnrollmentProfile) => Promise<Enroller>;
  /** R4: the sync that follows an enrollment that changed the local store (before claims are released). */
  readonly sync: () => Promise<unknown>;
  readonly event: (level: LogLevel, event: number, message: string, fields?: Record<string, unknown>) => void;
  /** The user's directory attributes, for `{attr:NAME}` templates. */
  readonly attributes?: (names: readonly string[]) => Promise<Readonly<Record<string, readonly string[]>>>;
  readonly now?: () => number;
  /**
   * The private keys this endpoint's sync state knows (`key:` base entries: held, or deleted since,
   * until the tombstone's lifetime ends). A pending request's key is never among them: it is in
   * the request token alone until its certificate is issued.
   */
  readonly syncedKeys?: () => Promise<ReadonlySet<string>>;
  readonly makeKey?: (spec: EnrollmentKeySpec) => Promise<EnrollmentKey>;
}

/** How one run goes. */
export interface EnrollOptions {
  /** List what would be done; change nothing (no claim, no request, no local write). */
  readonly dryRun?: boolean;
  /** On demand (`credroam enroll`): try profiles whose retry time has not come. */
  readonly now?: boolean;
}
