import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { type NamespacedServer, startInLoopbackNamespace } from '@credroam/core/testing';

const run = promisify(execFile);

/** Debian's scepserver (micromdm 2.1.0) in its own network namespace, behind a recording proxy. */
export interface ScepServer {
  /** The SCEP URL (through the proxy). */
  readonly url: string;
  /** The depot's CA certificate (PEM file) and its SHA-256 fingerprint (hex, lower case). */
  readonly caPem: string;
  readonly fingerprint: string;
  /** The operations that reached the server through the proxy, in order (`GetCACert`, `PKIOperation`, …). */
  readonly operations: string[];
  /** The body of each POST PKIOperation that reached it (a pkiMessage, DER), in order. */
  readonly pkiMessages: Uint8Array[];
  readonly challenge: string;
  stop(): Promise<void>;
}

/** The port scepserver listens on inside its namespace (nothing else is there). */
const INNER_PORT = 8080;

/**
 * Makes a CA in `dir/depot` (`scepserver ca -init`, RSA 2048 to be quick) and starts scepserver on
 * it with `challenge`, every request allowed (`-allowrenew 0`), certificates valid 30 days.
 */
export async function startScepServer(dir: string, challenge: string): Promise<ScepServer> {
  const depot = path.join(dir, 'depot');
  await run(
    'scepserver',
    ['ca', '-init', '-depot', depot, '-keySize', '2048', '-organization', 'credroam test CA'],
    {
      cwd: dir,
    },
  );
  const caPem = path.join(depot, 'ca.pem');
  const fingerprint = new X509Certificate(await readFile(caPem)).fingerprint256
    .replaceAll(':', '')
    .toLowerCase();
  const server: NamespacedServer = await startInLoopbackNamespace({
    command: 'scepserver',
    args: [
      '-depot',
      depot,
      '-port',
      String(INNER_PORT),
      '-challenge',
      challenge,
      '-allowrenew',
      '0',
      '-crtvalid',
      '30',
    ],
    port: INNER_PORT,
  });
  const operations: string[] = [];
  const pkiMessages: Uint8Array[] = [];
  const proxy = http.createServer((req, res) => {
    const operation = new URL(req.url ?? '/', 'http://x').searchParams.get('operation') ?? '?';
    operations.push(operation);
    if (operation === 'PKIOperation' && req.method === 'POST') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => pkiMessages.push(new Uint8Array(Buffer.concat(chunks))));
    }
    const upstream = http.request(
      {
        host: server.host,
        port: server.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
        agent: false,
      },
      (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/scep`,
    caPem,
    fingerprint,
    operations,
    pkiMessages,
    challenge,
    async stop() {
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
      await server.stop();
    },
  };
}
