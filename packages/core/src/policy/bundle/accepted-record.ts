import { lstat, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { CredroamError } from '../../api/errors.js';
import { POLICY_BUNDLE_MAX_BYTES } from '../../api/extension-points.js';
import { readFileNoFollow, writeFileAtomic } from '../../fs/atomic-file.js';

/**
 * This endpoint's record of the bundle in force, under the agent's `home`: `policy/accepted.json`
 * (what follows) beside `policy/accepted.p7m` (the bundle's bytes, re-verified at each start).
 * Written atomically and owner-only, only after a bundle passed every check; the serial in it is
 * the rollback floor. The record is the user's file: it bounds what a directory writer, a share or
 * a network can do, not what the user can do to their own endpoint (docs/decisions/011).
 */
export interface AcceptedBundleRecord {
  readonly version: 1;
  readonly siteId: string;
  readonly serial: number;
  /** SHA-256 hex of the document. */
  readonly digest: string;
  /** The source it came from (`file`, `ldap`, `https`, …). */
  readonly source: string;
  readonly acceptedAt: string;
  readonly issuedAt: string;
  readonly notAfter: string;
  readonly signer: string;
  /**
   * The bundle's `nextSigners`, when it named them: kept with the serial as the floor when the
   * bundle itself no longer verifies, so a retired signer stays retired while the record is damaged.
   */
  readonly nextSigners?: readonly string[];
}

export const policyFolder = (home: string): string => path.join(home, 'policy');
const recordFile = (home: string) => path.join(policyFolder(home), 'accepted.json');
const bundleFile = (home: string) => path.join(policyFolder(home), 'accepted.p7m');

export type AcceptedRecordRead =
  | { readonly state: 'none' }
  | { readonly state: 'damaged'; readonly file: string; readonly reason: string }
  | { readonly state: 'ok'; readonly record: AcceptedBundleRecord; readonly bytes: Uint8Array };

/** Reads the record and the bundle bytes; never throws for what is in them (a damaged record is a value). */
export async function readAcceptedRecord(home: string): Promise<AcceptedRecordRead> {
  const file = recordFile(home);
  const damaged = (reason: string): AcceptedRecordRead => ({ state: 'damaged', file, reason });
  let text: Buffer | undefined;
  let bytes: Buffer | undefined;
  try {
    text = await readFileNoFollow(file, { maxBytes: 65_536 });
    if (!text) return { state: 'none' };
    bytes = await readFileNoFollow(bundleFile(home), { maxBytes: POLICY_BUNDLE_MAX_BYTES });
  } catch (error) {
    return damaged((error as Error).message);
  }
  if (!bytes) return damaged(`${bundleFile(home)} is missing`);
  let record: AcceptedBundleRecord;
  try {
    record = JSON.parse(text.toString('utf8')) as AcceptedBundleRecord;
  } catch (error) {
    return damaged(`not JSON: ${(error as Error).message}`);
  }
  const fields = ['siteId', 'digest', 'source', 'acceptedAt', 'issuedAt', 'notAfter', 'signer'] as const;
  if (
    typeof record !== 'object' ||
    record === null ||
    record.version !== 1 ||
    !Number.isSafeInteger(record.serial) ||
    record.serial < 1 ||
    fields.some((f) => typeof record[f] !== 'string')
  )
    return damaged('not a version 1 record');
  return { state: 'ok', record, bytes: new Uint8Array(bytes) };
}

/**
 * Records a bundle that passed every check: its bytes first, then the record that names its
 * serial and digest, each atomically and owner-only, in an owner-only folder that is not a link.
 */
export async function writeAcceptedRecord(
  home: string,
  record: AcceptedBundleRecord,
  bytes: Uint8Array,
): Promise<void> {
  const dir = policyFolder(home);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  if (!st.isDirectory())
    throw new CredroamError(
      'E_STORE_LINK',
      `${dir} is not a folder (a link is not followed): nothing written`,
      {
        path: dir,
      },
    );
  await writeFileAtomic(bundleFile(home), bytes);
  await writeFileAtomic(recordFile(home), `${JSON.stringify(record, null, 2)}\n`);
}
