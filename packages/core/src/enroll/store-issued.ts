import { createHash, type X509Certificate } from 'node:crypto';
import type { LocalStore } from '../api/extension-points.js';
import type { EnrollmentKey, EnrollmentOutcome } from '../api/points/enroller.js';
import { encodeCredentialAttributes } from '../engine/attributes.js';
import { checkIssuedCertificate, checkIssuedUsable, pinnedCertificate, verifiedChain } from './pin.js';
import type { EnrollmentProfile } from './profile.js';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** What the CA issued, as stored: the certificate's id, the certificate, and whether it renewed one. */
export interface StoredCertificate {
  readonly certId: string;
  readonly issued: X509Certificate;
  /** The certificate it replaces was in the local store (and is now archived). */
  readonly renewed: boolean;
}

/**
 * Checks what the CA issued against the pinned CA certificate and the key made here, then stores
 * the key, the certificate and its attributes (named after the profile, with the verified chain)
 * in the local store; nothing is stored when a check fails (E_ENROLL_CA_MISMATCH and the like).
 * R8: the certificate it renews is archived once its successor is in place.
 */
export async function storeIssued(
  deps: { readonly local: LocalStore; readonly now: () => number; readonly clockSkewMs: number },
  input: {
    readonly profile: EnrollmentProfile;
    readonly key: EnrollmentKey;
    readonly outcome: Extract<EnrollmentOutcome, { status: 'issued' }>;
    /** The id of the local certificate the request renews. */
    readonly renewing: string | undefined;
  },
): Promise<StoredCertificate> {
  const { profile, key, outcome } = input;
  const caCert = pinnedCertificate(outcome.caCertificates, profile.ca.fingerprint);
  const issued = checkIssuedCertificate(outcome.certificate, caCert, key.publicKey);
  checkIssuedUsable(issued, deps.now(), deps.clockSkewMs);
  const certId = sha256(outcome.certificate);
  const chain = verifiedChain(caCert, outcome.caCertificates, 10);
  const modified = deps.now();
  await deps.local.put({
    kind: 'key',
    id: sha256(key.publicKey),
    content: key.privateKey,
    archived: false,
    modified,
  });
  await deps.local.put({
    kind: 'cert',
    id: certId,
    content: outcome.certificate,
    archived: false,
    modified,
  });
  await deps.local.put({
    kind: 'attrs',
    id: certId,
    content: encodeCredentialAttributes({ cert: certId, friendlyName: profile.id, chain }),
    archived: false,
    modified,
  });
  const renewed = input.renewing ? await archive(deps.local, input.renewing, modified) : false;
  return { certId, issued, renewed };
}

/** Archives the local certificate `id` (R8), if it is still active; true when it was there. */
async function archive(local: LocalStore, id: string, modified: number): Promise<boolean> {
  const old = (await local.list()).items.find((i) => i.kind === 'cert' && i.id === id);
  if (!old) return false;
  if (!old.archived) await local.put({ ...old, archived: true, modified });
  return true;
}
