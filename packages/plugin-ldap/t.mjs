import { AD, LdapDirectoryStore, LdapSession } from './dist/src/index.js';

const settings = {
  url: 'ldaps://127.0.0.1:636',
  caFile: '/tmp/s4/tls/ca.crt',
  bind: 'simple',
  profile: 'ad',
  timeoutMs: 5000,
  maxRequestBytes: 4e6,
};
const mk = (user, pw) =>
  new LdapDirectoryStore(
    new LdapSession(settings, async () => ({ dn: `${user}@credroam.test`, password: async () => pw })),
    AD,
    { dn: `CN=${user},CN=Users,DC=credroam,DC=test`, name: user },
    4e6,
  );
const a = mk('alice', 'Al1ce-Passw0rd!');
const enc = (s) => new TextEncoder().encode(s);
try {
  await a.write({
    tokens: { remove: [], add: [enc('t1'), new Uint8Array([0, 1, 255])] },
    stamp: { remove: [], add: [enc('s1')] },
  });
  console.log('write ok');
} catch (e) {
  console.log('write', e.code, e.message);
}
try {
  const r = await a.read();
  console.log(
    'read',
    r.tokens.map((v) => Buffer.from(v).toString('hex')),
    r.stamp.length,
  );
} catch (e) {
  console.log('read', e.code, e.message);
}
await a.close();
