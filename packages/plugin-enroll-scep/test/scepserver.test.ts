import { execFile } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { EnrollmentKey, EnrollmentRequest } from '@credroam/core/api';
import test from 'ava';
import { ScepEnroller } from '../src/index.js';
import { type ScepServer, startScepServer } from '../src/testing/index.js';
import { signedMessage } from './support/pki-message.js';

const run = promisify(execFile);
let dir: string;
let server: ScepServer;

// One scepserver for the file; tests run one at a time so that each can read the operations it caused.
test.before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'credroam-scep-'));
  server = await startScepServer(dir, 'let-me-in');
});
test.after.always(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

const enroller = () => new ScepEnroller({ timeoutSeconds: 30 });

function rsaKey(): EnrollmentKey {
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

/** `openssl verify -CAfile <the depot's ca.pem>` on a certificate (DER). */
async function opensslVerify(der: Uint8Array): Promise<string> {
  const file = path.join(dir, `verify-${Math.random().toString(36).slice(2)}.pem`);
  await writeFile(file, new X509Certificate(der).toString());
  const { stdout } = await run('openssl', ['verify', '-CAfile', server.caPem, file]);
  return stdout;
}

/** The operations that reach the server while `f` runs. */
async function operationsDuring(f: () => Promise<unknown>): Promise<string[]> {
  const before = server.operations.length;
  await f().catch(() => undefined);
  return server.operations.slice(before);
}

test.serial(
  'a request is issued: it verifies against the CA, with the subject, SANs and key asked for',
  async (t) => {
    const key = rsaKey();
    const request = requestFor({
      key,
      subject: 'CN=alice\\, jr,OU=Staff,O=Example,C=FR',
      subjectAltNames: [
        { type: 'email', value: 'alice@example.org' },
        { type: 'dns', value: 'alice.example.org' },
        { type: 'uri', value: 'https://example.org/alice' },
      ],
    });
    const ops = await operationsDuring(async () => {
      const outcome = await enroller().request(request);
      t.is(outcome.status, 'issued');
      if (outcome.status !== 'issued') return;
      t.regex(await opensslVerify(outcome.certificate), /: OK/);
      const cert = new X509Certificate(outcome.certificate);
      // RFC 4514 names the most specific RDN first; the certificate holds C first, CN last.
      t.is(cert.subject, 'C=FR\nO=Example\nOU=Staff\nCN=alice\\, jr');
      t.is(
        cert.subjectAltName,
        'DNS:alice.example.org, email:alice@example.org, URI:https://example.org/alice',
      );
      t.true(
        cert.publicKey.equals(
          createPublicKey({ key: Buffer.from(key.publicKey), format: 'der', type: 'spki' }),
        ),
      );
      const ca = new X509Certificate(await readFile(server.caPem));
      t.deepEqual(
        outcome.caCertificates.map((c) => Buffer.from(c).toString('hex')),
        [ca.raw.toString('hex')],
      );
    });
    t.deepEqual(ops, ['GetCACert', 'GetCACaps', 'PKIOperation']);
  },
);

test.serial(
  'a wrong challenge is refused by the CA: E_ENROLL_REFUSED, the challenge in no message',
  async (t) => {
    const error = await t.throwsAsync(enroller().request(requestFor({ challenge: 'not-the-challenge' })), {
      code: 'E_ENROLL_REFUSED',
    } as never);
    t.log(error?.message);
    t.false(error?.message.includes('not-the-challenge'));
    t.false(JSON.stringify((error as { details?: unknown })?.details).includes('not-the-challenge'));
  },
);

test.serial(
  'a wrong pinned fingerprint: E_ENROLL_CA_MISMATCH, and no PKIOperation reaches the server',
  async (t) => {
    const ops = await operationsDuring(() =>
      t.throwsAsync(
        enroller().request(requestFor({ ca: { url: server.url, fingerprint: 'ab'.repeat(32) } })),
        {
          code: 'E_ENROLL_CA_MISMATCH',
        } as never,
      ),
    );
    t.deepEqual(ops, ['GetCACert']);
  },
);

test.serial(
  'renewal: signed with the old certificate and key, a new certificate for the new key',
  async (t) => {
    const old = requestFor({ subject: 'CN=renewer' });
    const first = await enroller().request(old);
    if (first.status !== 'issued') return t.fail('the first request was not issued');
    const key = rsaKey();
    const renewed = await enroller().request(
      requestFor({
        subject: 'CN=renewer',
        key,
        renewing: { certificate: first.certificate, privateKey: old.key.privateKey },
      }),
    );
    t.is(renewed.status, 'issued');
    if (renewed.status !== 'issued') return;
    t.regex(await opensslVerify(renewed.certificate), /: OK/);
    const cert = new X509Certificate(renewed.certificate);
    t.true(
      cert.publicKey.equals(
        createPublicKey({ key: Buffer.from(key.publicKey), format: 'der', type: 'spki' }),
      ),
    );
    t.not(cert.serialNumber, new X509Certificate(first.certificate).serialNumber);
    // What reached the server: a RenewalReq (scepserver offers Renewal) carrying the old certificate as its signer.
    const sent = signedMessage(server.pkiMessages.at(-1)!);
    t.is(sent.messageType, '17');
    t.true(Buffer.from(sent.signer).equals(Buffer.from(first.certificate)));
  },
);

test.serial('an EC key: E_POLICY before anything is sent', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = {
    privateKey: new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' })),
    publicKey: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })),
  };
  const ops = await operationsDuring(() =>
    t.throwsAsync(enroller().request(requestFor({ key })), {
      code: 'E_POLICY',
      message: /SCEP needs an RSA key/,
    } as never),
  );
  t.deepEqual(ops, []);
});

test.serial('the CA down: E_UNREACHABLE', async (t) => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const address = closed.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  await t.throwsAsync(
    enroller().request(
      requestFor({ ca: { url: `http://127.0.0.1:${port}/scep`, fingerprint: server.fingerprint } }),
    ),
    { code: 'E_UNREACHABLE', message: /ECONNREFUSED/ } as never,
  );
});

test.serial("cross-check: Debian's scepclient enrolls against the same server", async (t) => {
  const work = path.join(dir, 'scepclient');
  await run('mkdir', ['-p', work]);
  await run(
    'scepclient',
    [
      '-server-url',
      server.url,
      '-challenge',
      server.challenge,
      '-ca-fingerprint',
      server.fingerprint,
      '-private-key',
      path.join(work, 'key.pem'),
      '-certificate',
      path.join(work, 'cert.pem'),
      '-cn',
      'bob',
    ],
    { cwd: work },
  );
  const cert = new X509Certificate(await readFile(path.join(work, 'cert.pem')));
  t.regex(await opensslVerify(cert.raw), /: OK/);
});
