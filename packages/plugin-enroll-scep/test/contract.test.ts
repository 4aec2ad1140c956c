import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { enrollerContract } from '@credroam/core/testing';
import test from 'ava';
import { ScepEnroller } from '../src/index.js';
import { type ScepServer, startScepServer } from '../src/testing/index.js';

// The Enroller contract against Debian's scepserver (in its own loopback-only namespace).
let dir: string;
let server: ScepServer;
test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'credroam-scep-contract-'));
  server = await startScepServer(dir, 'contract-challenge');
});
test.after.always(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

enrollerContract(test, 'scep', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    enroller: new ScepEnroller({ timeoutSeconds: 30 }),
    ca: {
      url: server.url,
      certificate: new Uint8Array(new X509Certificate(await readFile(server.caPem)).raw),
    },
    request: {
      subject: 'CN=contract,O=Example',
      subjectAltNames: [],
      key: {
        privateKey: new Uint8Array(privateKey.export({ type: 'pkcs8', format: 'der' })),
        publicKey: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })),
      },
      challenge: server.challenge,
    },
  };
});
