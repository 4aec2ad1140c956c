import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ExecutionContext } from 'ava';

const run = promisify(execFile);
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

export interface Pki {
  readonly dir: string;
  /** The site's CA (PEM), what caFile names. */
  readonly ca: string;
  /** Another CA, which did not issue the server's certificate. */
  readonly otherCa: string;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** A CA and a server certificate for IP 127.0.0.1 and the name policy.test (not localhost), made by openssl; and another CA. */
export async function makePki(): Promise<Pki> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'credroam-https-'));
  const o = (args: string[]) => run('openssl', args, { cwd: dir });
  for (const name of ['ca', 'other-ca']) {
    await o([
      'req',
      '-x509',
      ...EC,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-subj',
      `/CN=credroam ${name}`,
    ]);
  }
  await o(['req', ...EC, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=policy.test']);
  await writeFile(
    path.join(dir, 'server.cnf'),
    'subjectAltName=IP:127.0.0.1,DNS:policy.test\nextendedKeyUsage=serverAuth\n',
  );
  await o([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '2',
    '-extfile',
    'server.cnf',
  ]);
  return {
    dir,
    ca: path.join(dir, 'ca.crt'),
    otherCa: path.join(dir, 'other-ca.crt'),
    cert: await readFile(path.join(dir, 'server.crt')),
    key: await readFile(path.join(dir, 'server.key')),
  };
}

export async function removePki(pki: Pki | undefined): Promise<void> {
  if (pki) await rm(pki.dir, { recursive: true, force: true });
}

export interface TestServer {
  readonly port: number;
  /** https://127.0.0.1:<port> */
  readonly origin: string;
  /** Requests the handler received. */
  readonly requests: IncomingMessage[];
}

/**
 * An HTTPS server on 127.0.0.1 (a port picked by the system) answering with `handler`, closed with
 * every connection when the test ends: nothing it starts outlives the test.
 */
export async function serve(
  t: ExecutionContext,
  pki: Pki,
  handler: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<TestServer> {
  const requests: IncomingMessage[] = [];
  const server = https.createServer({ cert: pki.cert, key: pki.key }, (request, response) => {
    requests.push(request);
    handler(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  const { port } = server.address() as AddressInfo;
  return { port, origin: `https://127.0.0.1:${port}`, requests };
}
