import { ATTRIBUTE_LIMITS, CredroamError } from '@credroam/core';
import { credentialPartsOf, oneCredentialListing, storeCredentials } from '../cli/credentials.js';
import type { Session } from '../session.js';
import { AGENT_LOCKED, type AgentRequest } from './ipc.js';

const bytes = (b64: string): Uint8Array => new Uint8Array(Buffer.from(b64, 'base64'));
const base64 = (data: Uint8Array): string => Buffer.from(data).toString('base64');

/**
 * `import` and `export` for a CLI on the agent's owner-only socket, with the keys the agent holds:
 * the user is not asked for the roaming password again, and it never leaves the agent. A private
 * key comes in to be encrypted at rest, or goes out in clear to be written as a PKCS#12 file under
 * the password the user gives the CLI — over that socket only. `roam` schedules a sync.
 */
export async function credentialRequest(
  session: Session,
  request: Extract<AgentRequest, { cmd: 'import' | 'export' }>,
  roam: () => void,
): Promise<Record<string, unknown>> {
  if (session.protector.unlock && !session.protector.unlocked) {
    throw new CredroamError('E_LOCKED', AGENT_LOCKED);
  }
  if (request.cmd === 'import') {
    if (typeof request.cert !== 'string' || (request.key !== undefined && typeof request.key !== 'string'))
      throw new CredroamError('E_USAGE', 'import: cert (and key) must be base64 strings');
    const chain: unknown = request.chain;
    if (
      chain !== undefined &&
      !(
        Array.isArray(chain) &&
        chain.length <= ATTRIBUTE_LIMITS.chainCertificates &&
        chain.every((c) => typeof c === 'string')
      )
    )
      throw new CredroamError(
        'E_USAGE',
        `import: chain must be a list of at most ${ATTRIBUTE_LIMITS.chainCertificates} base64 strings`,
      );
    if (request.friendlyName !== undefined && typeof request.friendlyName !== 'string')
      throw new CredroamError('E_USAGE', 'import: friendlyName must be a string');
    const [imported] = await storeCredentials(session.local, [
      {
        cert: bytes(request.cert),
        ...(request.key !== undefined ? { key: bytes(request.key) } : {}),
        ...(chain !== undefined ? { chain: (chain as string[]).map(bytes) } : {}),
        ...(request.friendlyName !== undefined ? { friendlyName: request.friendlyName } : {}),
      },
    ]);
    roam();
    return { ...imported };
  }
  if (typeof request.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(request.sha256))
    throw new CredroamError('E_USAGE', 'export: sha256 must be a SHA-256 thumbprint (64 hex digits)');
  // That credential's own files when the store keeps them under their names, else a listing.
  const listing = (await oneCredentialListing(session.local, request.sha256)) ?? (await session.local.list());
  const parts = await credentialPartsOf(session.local, listing, request.sha256);
  return {
    sha256: parts.view.sha256,
    cert: base64(parts.cert),
    ...(parts.key ? { key: base64(parts.key) } : {}),
    ...(parts.chain ? { chain: parts.chain.map(base64) } : {}),
    ...(parts.friendlyName !== undefined ? { friendlyName: parts.friendlyName } : {}),
  };
}
