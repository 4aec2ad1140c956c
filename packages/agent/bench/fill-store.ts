/**
 * Fills an endpoint's local store with credentials through the project's own store (the bench's
 * setup, not measured): opens the session its manifest describes, unlocks the keyring with the
 * roaming password (a first unlock creates the master key in the directory), writes each
 * certificate and its key as `import` would, and closes the session.
 */
import { createHash } from 'node:crypto';
import { EventLog } from '@credroam/core';
import { loadConfig } from '../src/config.js';
import { openSession } from '../src/session.js';
import type { BenchCredential } from './certificates.js';

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

export async function fillStore(
  configFile: string,
  password: string,
  credentials: readonly BenchCredential[],
): Promise<void> {
  const config = await loadConfig(configFile, {});
  const session = await openSession(config, new EventLog({ write: () => undefined, level: 'error' }), {
    password: async () => password,
  });
  try {
    await session.protector.unlock?.({ password });
    const { keyId } = await import('@credroam/plugin-pkcs12');
    const modified = Date.now();
    for (const c of credentials) {
      await session.local.put({
        kind: 'cert',
        id: sha256(c.cert),
        content: c.cert,
        archived: false,
        modified,
      });
      await session.local.put({ kind: 'key', id: keyId(c.key), content: c.key, archived: false, modified });
    }
  } finally {
    await session.dispose();
  }
}
