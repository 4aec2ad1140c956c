import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { ConflictError } from '@credroam/core/api';
import { MemoryLocalStore, makeEngine } from '@credroam/core/testing';
import test from 'ava';
import { ldapDirectoryStore } from '../src/index.js';
import {
  makeClientCert,
  makeTls,
  type Slapd,
  SUFFIX,
  settledLog,
  startProviders,
  userDn,
} from '../src/testing/slapd.js';
import { dec, enc, storeFor } from './support/stores.js';

const USERS = [
  'alice',
  'bob',
  'carol',
  'dave',
  'erin',
  'frank',
  'grace',
  'heidi',
  'ivan',
  'judy',
  'mallory',
  'oscar',
  'peggy',
];
let server: Slapd;
let stop: () => Promise<void>;

test.before(async () => {
  const started = await startProviders(1, { users: USERS });
  server = started.servers[0]!;
  stop = started.stop;
});
test.after.always(async () => {
  await stop?.();
});

test('values round-trip as binary; a write deletes exact values and adds new ones in one modify', async (t) => {
  const s = storeFor(server, 'alice');
  t.teardown(() => s.close());
  const binary = new Uint8Array([0, 255, 10, 13, 0x80, 0xc3]);
  await s.write({
    tokens: { remove: [], add: [binary, enc('t2')] },
    keys: { remove: [], add: [enc('k1')] },
    stamp: { remove: [], add: [enc('s1')] },
  });
  let snap = await s.read();
  t.deepEqual(
    snap.tokens.map((v) => Buffer.from(v).toString('hex')).sort(),
    [Buffer.from(binary).toString('hex'), Buffer.from('t2').toString('hex')].sort(),
  );
  t.deepEqual(dec(snap.keys), ['k1']);
  await s.write({
    tokens: { remove: [binary], add: [enc('t3')] },
    stamp: { remove: [enc('s1')], add: [enc('s2')] },
  });
  snap = await s.read();
  t.deepEqual(dec(snap.tokens), ['t2', 't3']);
  t.deepEqual(dec(snap.stamp), ['s2']);
  t.deepEqual(dec(await s.readStamp()), ['s2']);
  t.deepEqual(dec((await s.readKeys()).keys), ['k1']);
});

test('compare-and-swap: a value to remove that is gone fails with ConflictError (code 16) and applies nothing', async (t) => {
  const s = storeFor(server, 'bob');
  t.teardown(() => s.close());
  await s.write({ tokens: { remove: [], add: [enc('t1')] }, stamp: { remove: [], add: [enc('s1')] } });
  const error = await t.throwsAsync(
    s.write({
      tokens: { remove: [enc('t1')], add: [enc('t2')] },
      stamp: { remove: [enc('stale')], add: [enc('s9')] },
    }),
  );
  t.true(error instanceof ConflictError);
  const snap = await s.read();
  t.deepEqual(dec(snap.tokens), ['t1']);
  t.deepEqual(dec(snap.stamp), ['s1']);
});

test('compare-and-swap: a value to add that is already there (two first uploads at once) fails with ConflictError (code 20) and applies nothing', async (t) => {
  const s = storeFor(server, 'oscar');
  t.teardown(() => s.close());
  await s.write({ tokens: { remove: [], add: [enc('t1')] }, stamp: { remove: [], add: [enc('s1')] } });
  const error = await t.throwsAsync(
    s.write({ tokens: { remove: [], add: [enc('t2'), enc('t1')] }, stamp: { remove: [], add: [enc('s2')] } }),
  );
  t.true(error instanceof ConflictError);
  const snap = await s.read();
  t.deepEqual(dec(snap.tokens), ['t1']);
  t.deepEqual(dec(snap.stamp), ['s1']);
});

test('two endpoints roaming for the first time at once, on an entry without the credroamUser class: both syncs succeed and both credentials land', async (t) => {
  // Both first writes leave together, after both endpoints read the entry without the class.
  let arrived = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const endpoints = ['laptop', 'desktop'].map((name) => {
    const directory = storeFor(server, 'peggy');
    t.teardown(() => directory.close());
    const write = directory.write.bind(directory);
    directory.write = async (change) => {
      if (++arrived === 2) release();
      await gate;
      return write(change);
    };
    const local = new MemoryLocalStore();
    local.userPut('cert', name, 'v1');
    return { local, ...makeEngine({ directory, local, user: 'peggy' }) };
  });
  const reports = await Promise.all(endpoints.map((e) => e.engine.sync()));
  t.deepEqual(
    reports.map((r) => r.outcome),
    ['synced', 'synced'],
  );
  for (const e of endpoints) await e.engine.sync();
  for (const e of endpoints) t.is(e.local.items.size, 2);
  const s = storeFor(server, 'peggy');
  t.teardown(() => s.close());
  t.is((await s.read()).tokens.length, 2);
});

test('a large first upload is split into bounded modifies, the new stamp in the last', async (t) => {
  const s = storeFor(server, 'carol', { maxRequestBytes: 70_000 });
  t.teardown(() => s.close());
  const values = Array.from({ length: 60 }, (_, i) => new Uint8Array(3000).fill(i));
  await s.write({ tokens: { remove: [], add: values }, stamp: { remove: [], add: [enc('s1')] } });
  const snap = await s.read();
  t.is(snap.tokens.length, 60);
  t.deepEqual(dec(snap.stamp), ['s1']);
  const log = await settledLog(server);
  const mods = log.split('\n').filter((l) => l.includes(`MOD dn="${userDn('carol')}"`)).length;
  t.true(mods >= 3, `${mods} modifies`);
});

test('a user writes only their own roaming attributes: writing another user’s entry is refused (ACL)', async (t) => {
  const s = storeFor(server, 'dave', { bindAs: 'mallory' });
  t.teardown(() => s.close());
  await t.throwsAsync(
    s.write({ tokens: { remove: [], add: [enc('planted')] }, stamp: { remove: [], add: [enc('x')] } }),
    {
      code: 'E_ACCESS',
      message: /no permission to write the credroam attributes/,
    } as never,
  );
  t.deepEqual((await s.read()).tokens, [], 'and cannot read them either');
});

test('an untrusted certificate is refused before any bind', async (t) => {
  const other = await makeTls(`${server.dir}/other-ca`);
  const s = storeFor(server, 'erin', { caFile: other.ca });
  t.teardown(() => s.close());
  await t.throwsAsync(s.read(), { code: 'E_TLS_UNTRUSTED', message: /not trusted.*check caFile/ } as never);
  const starttls = storeFor(server, 'erin', { caFile: other.ca, url: server.ldapUrl });
  t.teardown(() => starttls.close());
  await t.throwsAsync(starttls.read(), { code: 'E_TLS_UNTRUSTED' } as never);
});

test('a certificate for another host name is refused', async (t) => {
  const s = storeFor(server, 'erin', { tlsServerName: 'ldap.elsewhere.test' });
  t.teardown(() => s.close());
  await t.throwsAsync(s.read(), { code: 'E_TLS_HOSTNAME' } as never);
  const right = storeFor(server, 'erin', { tlsServerName: 'ldap.test' });
  t.teardown(() => right.close());
  t.deepEqual((await right.read()).tokens, []);
});

test('a refused bind, a missing entry and an unknown attribute each have their own clear error', async (t) => {
  const wrong = storeFor(server, 'frank', { password: 'not it' });
  t.teardown(() => wrong.close());
  const bind = await t.throwsAsync(wrong.read(), { code: 'E_BIND', message: /refused the bind/ } as never);
  t.regex(
    String((bind as unknown as { details: { url?: unknown } }).details.url),
    /^ldaps?:\/\//,
    'names the server',
  );
  const missing = storeFor(server, 'frank', { userDn: `uid=nobody,ou=people,${SUFFIX}` });
  t.teardown(() => missing.close());
  const absent = await t.throwsAsync(missing.read(), { code: 'E_NO_ENTRY' } as never);
  t.like((absent as unknown as { details: object }).details, { dn: `uid=nobody,ou=people,${SUFFIX}` });
  const schema = storeFor(server, 'frank', { attributes: { tokens: 'credroamNoSuchAttribute' } });
  t.teardown(() => schema.close());
  await t.throwsAsync(
    schema.write({ tokens: { remove: [], add: [enc('x')] }, stamp: { remove: [], add: [enc('s')] } }),
    {
      code: 'E_SCHEMA',
    } as never,
  );
});

test('the user is found by base and filter, with the name escaped (RFC 4515)', async (t) => {
  const byFilter = storeFor(server, 'grace', { base: `ou=people,${SUFFIX}`, filter: '(uid={user})' });
  t.teardown(() => byFilter.close());
  t.is(await byFilter.dn(), userDn('grace'));
  const injected = storeFor(server, '*)(uid=grace', {
    base: `ou=people,${SUFFIX}`,
    filter: '(uid={user})',
    bindAs: 'grace',
  });
  t.teardown(() => injected.close());
  await t.throwsAsync(injected.dn(), {
    code: 'E_NO_ENTRY',
    message: /\(uid=\\2a\\29\\28uid=grace\)/,
  } as never);
});

test('SASL EXTERNAL with a client certificate binds as the user', async (t) => {
  const client = await makeClientCert(server.tls, 'heidi');
  const s = storeFor(server, 'heidi', {
    bind: 'external',
    clientCertFile: client.cert,
    clientKeyFile: client.key,
  });
  t.teardown(() => s.close());
  await s.write({
    tokens: { remove: [], add: [enc('by certificate')] },
    stamp: { remove: [], add: [enc('s1')] },
  });
  t.deepEqual(dec((await s.read()).tokens), ['by certificate']);
  const log = await settledLog(server);
  t.true(
    log.includes(`BIND dn="${userDn('heidi')}" mech=EXTERNAL`),
    'the certificate is mapped to the entry',
  );
});

test('a simple bind with the roaming password is refused before connecting unless the site policy trusts the directory with it', async (t) => {
  const connections: net.Socket[] = [];
  const listener = net.createServer((socket) => {
    connections.push(socket);
    socket.destroy();
  });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => listener.close(() => r())));
  const port = (listener.address() as net.AddressInfo).port;
  for (const url of [`ldaps://127.0.0.1:${port}`, `ldap://127.0.0.1:${port}`]) {
    const s = storeFor(server, 'ivan', { url, trustWithPassword: false });
    t.teardown(() => s.close());
    const error = await t.throwsAsync(s.read(), { code: 'E_BIND_UNTRUSTED' } as never);
    t.regex(error!.message, /refusing a simple bind .* with the roaming password/);
    t.regex(error!.message, /"gssapi".*"external".*bindPasswordFile.*"trustWithPassword": true/);
  }
  t.is(connections.length, 0, 'nothing was sent, not even a connection');
});

test('the policy is read at each bind; a service account’s password file needs no trust', async (t) => {
  const policy: { trustWithPassword: boolean } = { trustWithPassword: false };
  const s = ldapDirectoryStore({
    user: 'judy',
    home: server.dir,
    settings: { url: server.ldapsUrl, caFile: server.tls.ca, bind: 'simple', userDn: userDn('judy') },
    policy,
    password: async () => 'judy password',
  });
  t.teardown(() => s.close());
  await t.throwsAsync(s.read(), { code: 'E_BIND_UNTRUSTED' } as never);
  policy.trustWithPassword = true; // a policy refresh in a running agent
  t.deepEqual((await s.read()).tokens, []);

  const file = `${server.dir}/judy.pw`;
  await writeFile(file, 'judy password\n', { mode: 0o600 });
  const service = storeFor(server, 'judy', {
    bindPasswordFile: file,
    trustWithPassword: false,
    password: 'unused',
  });
  t.teardown(() => service.close());
  t.deepEqual((await service.read()).tokens, []);
});

test('over ldap:// nothing but StartTLS is sent in clear: a server without TLS never sees the bind', async (t) => {
  const received: Buffer[] = [];
  const fake = net.createServer((socket) => {
    socket.on('data', (d) => {
      received.push(d);
      socket.destroy(); // no StartTLS answer: the client must give up, not fall back
    });
  });
  await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => fake.close(() => r())));
  const port = (fake.address() as net.AddressInfo).port;
  const s = storeFor(server, 'ivan', { url: `ldap://127.0.0.1:${port}`, password: 'THE-SECRET-PASSWORD' });
  t.teardown(() => s.close());
  await t.throwsAsync(s.read());
  const all = Buffer.concat(received);
  t.true(all.includes(Buffer.from('1.3.6.1.4.1.1466.20037')), 'the first thing sent is the StartTLS request');
  t.false(all.includes(Buffer.from('THE-SECRET-PASSWORD')));
  t.false(all.includes(Buffer.from(userDn('ivan'))));
});

test('ldap:// to a server without TLS: the error names StartTLS and what to do, and nothing else is sent', async (t) => {
  const plain = await startProviders(1, { users: ['ivan'], tls: false });
  t.teardown(() => plain.stop());
  const p = plain.servers[0]!;
  const s = storeFor(p, 'ivan', { url: p.ldapUrl, caFile: server.tls.ca });
  t.teardown(() => s.close());
  const error = await t.throwsAsync(s.read(), { code: 'E_STARTTLS' } as never);
  t.regex(error!.message, /refused StartTLS \(result code \d+/);
  t.regex(error!.message, /use ldaps:\/\/, or enable TLS on the server/);
  const log = await settledLog(p);
  t.true(log.includes('EXT oid=1.3.6.1.4.1.1466.20037'), 'slapd saw the StartTLS request');
  t.false(log.includes(' BIND '), 'and no bind');
});

test('server gone: a clear unreachable error; when it is back, the next call reconnects (TLS and bind again)', async (t) => {
  const { startProviders: start } = await import('../src/testing/slapd.js');
  const own = await start(1, { users: ['judy'] });
  t.teardown(() => own.stop());
  const s = storeFor(own.servers[0]!, 'judy');
  t.teardown(() => s.close());
  await s.write({ tokens: { remove: [], add: [enc('t1')] }, stamp: { remove: [], add: [enc('s1')] } });
  await own.servers[0]!.stop();
  await t.throwsAsync(s.read(), { code: 'E_UNREACHABLE' } as never);
  const again = await own.servers[0]!.restart();
  t.teardown(() => again.stop());
  await new Promise((r) => setTimeout(r, 600)); // past the first backoff pause
  t.deepEqual(dec((await s.read()).tokens), ['t1']);
});

test("the user's entry's attributes are read as text for enrollment templates; an attribute the entry lacks is left out", async (t) => {
  const s = storeFor(server, 'bob');
  t.teardown(() => s.close());
  const attrs = await s.readAttributes!(['mail', 'cn', 'displayName']);
  t.deepEqual(attrs, { mail: ['bob@example.org'], cn: ['bob'] });
});
