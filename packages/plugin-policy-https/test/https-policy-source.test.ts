import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { type PluginContext, POLICY_BUNDLE_MAX_BYTES, PolicySource } from '@credroam/core/api';
import test from 'ava';
import { activate, httpsPolicySource } from '../src/index.js';
import { makePki, type Pki, removePki, serve } from './support/server.js';

let pki: Pki;
test.before(async () => {
  pki = await makePki();
});
test.after.always(() => removePki(pki));

/** The plugin's `https` policy source, made as the agent makes it (its contribution factory). */
function sourceFor(settings: Record<string, unknown>): PolicySource {
  let factory: ((request: unknown) => PolicySource) | undefined;
  activate({
    contribute: (point: symbol, id: string, f: (request: unknown) => PolicySource) => {
      if (point === PolicySource && id === 'https') factory = f;
      return { dispose() {} };
    },
  } as unknown as PluginContext);
  return factory!({ user: 'alice', home: pki.dir, settings: { caFile: pki.ca, ...settings }, policy: {} });
}

test('the bundle comes back byte for byte, over TLS verified against the site CA', async (t) => {
  const bundle = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(50_000)]);
  const server = await serve(t, pki, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/pkcs7-mime' });
    res.end(bundle);
  });
  const fetched = await sourceFor({ url: `${server.origin}/site/policy.p7b` }).fetch();
  t.true(fetched instanceof Uint8Array);
  t.true(Buffer.from(fetched!).equals(bundle));
  t.is(server.requests[0]?.url, '/site/policy.p7b');
  t.is(server.requests[0]?.method, 'GET');
});

test('exactly the bound is handed over, sent in chunks without a length', async (t) => {
  const bundle = randomBytes(POLICY_BUNDLE_MAX_BYTES);
  const server = await serve(t, pki, (_req, res) => {
    res.writeHead(200);
    for (let i = 0; i < bundle.length; i += 10_000) res.write(bundle.subarray(i, i + 10_000));
    res.end();
  });
  t.true(Buffer.from((await sourceFor({ url: `${server.origin}/p` }).fetch())!).equals(bundle));
});

test('404: no bundle published (undefined)', async (t) => {
  const server = await serve(t, pki, (_req, res) => {
    res.writeHead(404);
    res.end('not here');
  });
  t.is(await sourceFor({ url: `${server.origin}/p` }).fetch(), undefined);
});

test('attacker: a certificate from another CA is refused before any request is sent', async (t) => {
  const server = await serve(t, pki, (_req, res) => res.end('x'));
  await t.throwsAsync(sourceFor({ url: `${server.origin}/p`, caFile: pki.otherCa }).fetch(), {
    code: 'E_TLS_UNTRUSTED',
    message: /not trusted .*set caFile/,
  } as never);
  t.is(server.requests.length, 0);
});

test('attacker: a certificate that does not name the host is refused; serverName names the one it carries', async (t) => {
  const server = await serve(t, pki, (_req, res) => res.end('bundle'));
  // The certificate names 127.0.0.1 and policy.test, not localhost.
  await t.throwsAsync(sourceFor({ url: `https://localhost:${server.port}/p` }).fetch(), {
    code: 'E_TLS_HOSTNAME',
  } as never);
  await t.throwsAsync(sourceFor({ url: `${server.origin}/p`, serverName: 'policy.elsewhere.test' }).fetch(), {
    code: 'E_TLS_HOSTNAME',
    message: /set serverName/,
  } as never);
  t.is(server.requests.length, 0);
  const right = await sourceFor({ url: `${server.origin}/p`, serverName: 'policy.test' }).fetch();
  t.is(Buffer.from(right!).toString(), 'bundle');
});

test('attacker: an endless body is refused past the bound, and the rest is never read', async (t) => {
  const total = 256 * 1024 * 1024;
  let sent = 0;
  let cut: () => void = () => {};
  const closed = new Promise<void>((resolve) => {
    cut = resolve;
  });
  const server = await serve(t, pki, (_req, res) => {
    res.writeHead(200); // chunked: no length announced
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('close', () => cut());
    pump();
  });
  await t.throwsAsync(sourceFor({ url: `${server.origin}/p` }).fetch(), {
    code: 'E_POLICY_TOO_LARGE',
    message: new RegExp(`sent more than ${POLICY_BUNDLE_MAX_BYTES} bytes`),
  } as never);
  await closed;
  t.true(sent < total, `the server could send only ${sent} of ${total} bytes before the client cut it`);
});

test('a body announced larger than the bound is refused on its Content-Length, before its body', async (t) => {
  const server = await serve(t, pki, (_req, res) => {
    res.writeHead(200, { 'content-length': String(POLICY_BUNDLE_MAX_BYTES + 1) });
    res.write(Buffer.alloc(10)); // the rest never comes: the client must not wait for it
  });
  await t.throwsAsync(sourceFor({ url: `${server.origin}/p`, timeoutSeconds: 60 }).fetch(), {
    code: 'E_POLICY_TOO_LARGE',
    message: new RegExp(`announces ${POLICY_BUNDLE_MAX_BYTES + 1} bytes`),
  } as never);
});

test('a server that never answers, or stops halfway: E_UNREACHABLE after timeoutSeconds', async (t) => {
  const silent = await serve(t, pki, () => {
    // accepts the request, never answers
  });
  await t.throwsAsync(sourceFor({ url: `${silent.origin}/p`, timeoutSeconds: 1 }).fetch(), {
    code: 'E_UNREACHABLE',
    message: /did not deliver the policy bundle within 1 s/,
  } as never);
  const trickle = await serve(t, pki, (_req, res) => {
    res.writeHead(200, { 'content-length': '1000' });
    res.write(Buffer.alloc(10));
  });
  await t.throwsAsync(sourceFor({ url: `${trickle.origin}/p`, timeoutSeconds: 1 }).fetch(), {
    code: 'E_UNREACHABLE',
  } as never);
});

test('nothing listening: E_UNREACHABLE', async (t) => {
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port: p } = s.address() as net.AddressInfo;
      s.close(() => resolve(p));
    });
  });
  await t.throwsAsync(sourceFor({ url: `https://127.0.0.1:${port}/p` }).fetch(), {
    code: 'E_UNREACHABLE',
    message: /ECONNREFUSED/,
  } as never);
});

test('attacker: a redirect is never followed, to http: nor to https: (the error names where it pointed, without its query)', async (t) => {
  const server = await serve(t, pki, (req, res) => {
    if (req.url === '/to-http')
      res.writeHead(302, { location: `http://127.0.0.1:${server.port}/p.p7b?token=s3cret` });
    else if (req.url === '/to-https') res.writeHead(301, { location: '/elsewhere.p7b' });
    else res.writeHead(200);
    res.end('bundle');
  });
  const toHttp = await t.throwsAsync(sourceFor({ url: `${server.origin}/to-http` }).fetch(), {
    code: 'E_POLICY_SOURCE',
    message: new RegExp(
      `answered 302, a redirect to http://127.0.0.1:${server.port}/p.p7b: credroam follows no redirect`,
    ),
  } as never);
  t.false(toHttp!.message.includes('s3cret'));
  await t.throwsAsync(sourceFor({ url: `${server.origin}/to-https` }).fetch(), {
    code: 'E_POLICY_SOURCE',
    message: /answered 301, a redirect to https:\/\/127\.0\.0\.1:\d+\/elsewhere\.p7b/,
  } as never);
  t.deepEqual(
    server.requests.map((r) => r.url),
    ['/to-http', '/to-https'],
  );
});

test('any other status, or a compressed body, is a clear error naming it', async (t) => {
  const server = await serve(t, pki, (req, res) => {
    if (req.url === '/gz') res.writeHead(200, { 'content-encoding': 'gzip' });
    else res.writeHead(503, 'Service Unavailable');
    res.end('x');
  });
  await t.throwsAsync(sourceFor({ url: `${server.origin}/p` }).fetch(), {
    code: 'E_POLICY_SOURCE',
    message: /answered 503 Service Unavailable, where 200 \(the bundle\) or 404/,
  } as never);
  await t.throwsAsync(sourceFor({ url: `${server.origin}/gz` }).fetch(), {
    code: 'E_POLICY_SOURCE',
    message: /Content-Encoding gzip/,
  } as never);
});

test('settings: http: is refused before anything runs, and so are a missing caFile and credentials in the URL', (t) => {
  const make = (settings: Record<string, unknown>) => () =>
    httpsPolicySource({ settings: { caFile: pki.ca, ...settings } });
  t.throws(make({ url: 'http://policy.example.org/policy.p7b' }), {
    code: 'E_CONFIG',
    message: /must be https:, not http:/,
  } as never);
  t.throws(() => httpsPolicySource({ settings: { url: 'https://policy.example.org/p' } }), {
    code: 'E_CONFIG',
    message: /caFile/,
  } as never);
  const withSecret = t.throws(make({ url: 'https://admin:pa55@policy.example.org/p' }), {
    code: 'E_CONFIG',
    message: /user name or password/,
  } as never);
  t.false(withSecret!.message.includes('pa55'));
  t.throws(make({ url: 'https://policy.example.org/p', timeoutSeconds: 0 }), { code: 'E_CONFIG' } as never);
  t.throws(make({ url: 'https://policy.example.org/p', rejectUnauthorized: false }), {
    code: 'E_CONFIG',
  } as never);
  t.notThrows(make({ url: 'https://policy.example.org/p' }));
});

test('an unreadable caFile is a configuration error naming it', async (t) => {
  await t.throwsAsync(sourceFor({ url: 'https://127.0.0.1:1/p', caFile: `${pki.dir}/missing.crt` }).fetch(), {
    code: 'E_CONFIG',
    message: /cannot read caFile .*missing\.crt: ENOENT/,
  } as never);
});

test('conditional GET: after a 200 with an ETag the next fetch sends If-None-Match, and a 304 gives the same bytes; a new bundle replaces them', async (t) => {
  let bundle = randomBytes(2000);
  let etag = '"v1"';
  const server = await serve(t, pki, (req, res) => {
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag });
      res.end();
      return;
    }
    res.writeHead(200, { etag });
    res.end(bundle);
  });
  const source = sourceFor({ url: `${server.origin}/p` });
  t.true(Buffer.from((await source.fetch())!).equals(bundle));
  t.true(Buffer.from((await source.fetch())!).equals(bundle));
  t.deepEqual(
    server.requests.map((r) => r.headers['if-none-match']),
    [undefined, '"v1"'],
  );
  bundle = randomBytes(2000);
  etag = '"v2"';
  t.true(Buffer.from((await source.fetch())!).equals(bundle));
  t.true(Buffer.from((await source.fetch())!).equals(bundle));
  t.deepEqual(
    server.requests.map((r) => r.headers['if-none-match']),
    [undefined, '"v1"', '"v1"', '"v2"'],
  );
});

test('a 304 to a request that was not conditional is an error, not an empty bundle', async (t) => {
  const server = await serve(t, pki, (_req, res) => {
    res.writeHead(304);
    res.end();
  });
  await t.throwsAsync(sourceFor({ url: `${server.origin}/p` }).fetch(), {
    code: 'E_POLICY_SOURCE',
    message: /answered 304 Not Modified, where 200 \(the bundle\) or 404/,
  } as never);
});
