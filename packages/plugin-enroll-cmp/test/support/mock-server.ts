import { type NamespacedServer, startInLoopbackNamespace } from '@credroam/core/testing';
import type { Pki } from './pki.js';

export const REFERENCE = 'credroam-test';
export const SECRET = 'the shared secret 1234';
/** The port inside the server's own namespace (nothing else listens there). */
const PORT = 8080;

/**
 * OpenSSL's own mock CMP server (`openssl cmp -port`), which binds every interface: started only in
 * a private network namespace with only loopback (startInLoopbackNamespace). It answers every
 * request with `rspCert`, the CA certificate as caPubs, and PBM protection with SECRET.
 */
export async function startMockCa(
  pki: Pki,
  rspCert: string,
  extra: readonly string[] = [],
): Promise<NamespacedServer> {
  return startInLoopbackNamespace({
    command: 'openssl',
    port: PORT,
    args: [
      'cmp',
      '-port',
      String(PORT),
      '-srv_ref',
      REFERENCE,
      '-srv_secret',
      `pass:${SECRET}`,
      '-srv_cert',
      pki.caPem,
      '-srv_key',
      pki.caKey,
      '-rsp_cert',
      rspCert,
      '-rsp_capubs',
      pki.caPem,
      ...extra,
    ],
  });
}

export const urlOf = (server: NamespacedServer): string => `http://${server.host}:${server.port}/pkix/`;
