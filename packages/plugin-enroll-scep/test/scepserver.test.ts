import { execFile } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { EnrollmentRequest } from '@credroam/core/api';
import test from 'ava';
import { ScepEnroller } from '../src/index.js';
import { type ScepServer, startScepServer } from './support/scep-server.js';

const run = promisify(execFile);
let dir: string;
let server: ScepServer;

test.before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'credroam-scep-'));
  server = await startScepServer(dir, 'let-me-in');
});
test.after.always(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

function rsaKey() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKey: new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' })),
    publicKey: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })),
  };
}

function requestFor(overrides: Partial<EnrollmentRequest> = {}): EnrollmentRequest {
  return {
    profile: 'user-auth',
    ca: { url: server.url, fingerprint: server.fingerprint },
    subject: 'CN=alice,O=Example',
    subjectAltNames: [],
    key: rsaKey(),
    challenge: server.challenge,
    ...overrides,
  };
}

test('issued', async (t) => {
  const request = requestFor({
    subjectAltNames: [
      { type: 'email', value: 'alice@example.org' },
      { type: 'dns', value: 'alice.example.org' },
      { type: 'uri', value: 'https://example.org/alice' },
    ],
  });
  const outcome = await new ScepEnroller({ timeoutSeconds: 30 }).request(request);
  t.is(outcome.status, 'issued');
  if (outcome.status !== 'issued') return;
  const cert = new X509Certificate(outcome.certificate);
  t.log(cert.subject, cert.subjectAltName, server.operations);
  const file = path.join(dir, 'issued.pem');
  await writeFile(file, cert.toString());
  const { stdout } = await run('openssl', ['verify', '-CAfile', server.caPem, file]);
  t.regex(stdout, /OK/);
});
