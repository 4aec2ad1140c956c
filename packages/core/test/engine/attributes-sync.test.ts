import { createHash, randomBytes } from 'node:crypto';
import test from 'ava';
import {
  associatedData,
  decodeCredentialAttributes,
  EventId,
  encodeCredentialAttributes,
  encodeHeader,
  encodeToken,
  type LocalItem,
  type SyncReport,
  TokenFlag,
  type TokenKind,
  tokenKey,
  X509ContentInspector,
} from '../../src/index.js';
import {
  MemoryLocalStore,
  makeEngine,
  type OpensslChain,
  opensslChain,
  ReplicatedDirectory,
  SHARED_PROTECTOR,
} from '../../src/testing/index.js';
import { tempDir } from '../support/temp.js';

/**
 * Attributes (friendly name, CA chain) roam as tokens of kind `attrs` with their certificate, and a
 * directory writer who can seal (a compromised endpoint of the user, a buggy version) cannot use
 * them to cost the user a certificate or a key: every bad one is skipped with its event.
 */

const sha256 = (d: Uint8Array) => createHash('sha256').update(d).digest('hex');
const inspector = new X509ContentInspector();

let chains: Promise<{ mine: OpensslChain; other: OpensslChain }> | undefined;
function certificates(t: Parameters<typeof tempDir>[0]) {
  chains ??= (async () => ({
    mine: await opensslChain(await tempDir(t, 'credroam-attrs-'), 'alice'),
    other: await opensslChain(await tempDir(t, 'credroam-attrs-'), 'someone else'),
  }))();
  return chains;
}

function world(policy: Record<string, unknown> = {}) {
  const clock = { now: 1_700_000_000_000 };
  const dir = new ReplicatedDirectory(1);
  const endpoint = () => {
    const local = new MemoryLocalStore(() => clock.now);
    const parts = makeEngine({ directory: dir.server(0), local, now: () => clock.now, inspector, policy });
    return { local, ...parts, sync: () => parts.engine.sync({ full: true }) };
  };
  const values = () => [...dir.replicas[0]!.tokens].map((v) => new Uint8Array(Buffer.from(v, 'base64')));
  const add = (vs: Uint8Array[]) => {
    for (const v of vs) dir.replicas[0]!.tokens.add(Buffer.from(v).toString('base64'));
  };
  return { clock, dir, endpoint, values, add };
}

function item(kind: TokenKind, content: Uint8Array, modified: number): LocalItem {
  return { kind, id: inspector.inspect(kind, content).id, content, archived: false, modified };
}

/** A credential as the agent stores it: key, certificate, attributes. */
function credential(c: OpensslChain, now: number, name = 'My VPN'): LocalItem[] {
  const cert = item('cert', c.leaf, now);
  const attrs = encodeCredentialAttributes({
    cert: cert.id,
    friendlyName: name,
    chain: [c.intermediate, c.root],
  });
  return [item('key', c.leafKey, now), cert, item('attrs', attrs, now)];
}

function put(local: MemoryLocalStore, items: readonly LocalItem[]) {
  for (const i of items) local.items.set(tokenKey(i.kind, i.id), i);
}

/** Seals a value as an endpoint holding the user's key would: what a compromised endpoint can write. */
async function craft(o: {
  kind?: TokenKind;
  id: string;
  content: Uint8Array;
  modified: number;
  flags?: number;
}) {
  const kind = o.kind ?? 'attrs';
  const flags = o.flags ?? 0;
  const unsized = encodeHeader({ kind, flags, modified: o.modified, id: o.id, payloadLength: 0 });
  const sealed = await SHARED_PROTECTOR.seal({
    kind,
    payload: o.content,
    aad: associatedData('alice', unsized),
  });
  return encodeToken(
    encodeHeader({ kind, flags, modified: o.modified, id: o.id, payloadLength: sealed.length }),
    sealed,
  );
}

const skippedWith = (r: SyncReport, event: number, id?: string) =>
  r.skipped.some((s) => s.event === event && (id === undefined || s.id === id));

/** The three parts of `items` are on `local`, byte for byte. */
function holds(
  t: Parameters<typeof tempDir>[0],
  local: MemoryLocalStore,
  items: readonly LocalItem[],
  what: string,
) {
  for (const i of items) {
    const got = local.items.get(tokenKey(i.kind, i.id));
    t.truthy(got, `${what}: ${i.kind} is there`);
    t.true(
      got !== undefined && Buffer.from(got.content).equals(Buffer.from(i.content)),
      `${what}: ${i.kind} unchanged`,
    );
  }
}

test.serial(
  'the friendly name and chain roam with the certificate, and a removal takes them away',
  async (t) => {
    const { mine } = await certificates(t);
    const w = world();
    const a = w.endpoint();
    const parts = credential(mine, w.clock.now);
    put(a.local, parts);
    const ra = await a.sync();
    t.is(ra.counts.uploaded, 3);
    t.deepEqual(ra.skipped, []);
    const b = w.endpoint();
    const rb = await b.sync();
    t.is(rb.counts.downloaded, 3);
    holds(t, b.local, parts, 'b');
    const attrs = decodeCredentialAttributes(b.local.items.get(tokenKey('attrs', parts[1]!.id))!.content);
    t.is(attrs.friendlyName, 'My VPN');
    t.is(attrs.chain.length, 2);
    // A new name roams as a new version of the same token.
    w.clock.now += 1000;
    const renamed = item(
      'attrs',
      encodeCredentialAttributes({ ...attrs, friendlyName: 'Work VPN' }),
      w.clock.now,
    );
    put(b.local, [renamed]);
    t.is((await b.sync()).counts.uploaded, 1);
    t.is((await a.sync()).counts.downloaded, 1);
    t.is(
      decodeCredentialAttributes(a.local.items.get(tokenKey('attrs', renamed.id))!.content).friendlyName,
      'Work VPN',
    );
    // `credroam remove` takes the certificate, its key and its attributes: three tombstones roam.
    w.clock.now += 1000;
    for (const p of parts) a.local.userDelete(tokenKey(p.kind, p.id));
    t.is((await a.sync()).counts.tombstoned, 3);
    t.is((await b.sync()).counts.removed, 3);
    t.is(b.local.items.size, 0);
  },
);

async function attacked(
  t: Parameters<typeof tempDir>[0],
  plant: (w: ReturnType<typeof world>, certId: string) => Promise<Uint8Array[]>,
  policy: Record<string, unknown> = {},
) {
  const { mine } = await certificates(t);
  const w = world(policy);
  const a = w.endpoint();
  const parts = credential(mine, w.clock.now);
  // The attack targets a credential without attributes too: its cert and key must not suffer.
  put(a.local, parts.slice(0, 2));
  await a.sync();
  w.clock.now += 1000;
  const planted = await plant(w, parts[1]!.id);
  w.add(planted);
  const b = w.endpoint();
  const rb = await b.sync();
  const ra = await a.sync();
  holds(t, a.local, parts.slice(0, 2), 'a');
  holds(t, b.local, parts.slice(0, 2), 'b');
  for (const v of planted)
    t.true(
      w.values().some((x) => Buffer.from(x).equals(Buffer.from(v))),
      'left in place',
    );
  return { w, a, b, ra, rb, parts, mine };
}

test.serial(
  'attributes whose chain holds junk are skipped (1013); the certificate and key stay everywhere',
  async (t) => {
    const { rb, ra, b } = await attacked(t, async (w, certId) => {
      const junk = Buffer.from(
        `{"v":1,"cert":"${certId}","chain":["${Buffer.from('junk junk junk').toString('base64')}"]}`,
      );
      return [await craft({ id: certId, content: junk, modified: w.clock.now })];
    });
    t.true(skippedWith(rb, EventId.TokenMalformed), JSON.stringify(rb.skipped));
    t.true(skippedWith(ra, EventId.TokenMalformed));
    t.true(rb.skipped.some((s) => /chain certificate 0 is not an X\.509/.test(s.reason)));
    t.false([...b.local.items.keys()].some((k) => k.startsWith('attrs:')));
  },
);

test.serial('a huge friendly name is skipped (1013) before any parsing of it', async (t) => {
  const { rb } = await attacked(t, async (w, certId) => {
    const huge = Buffer.from(`{"v":1,"cert":"${certId}","friendlyName":"${'A'.repeat(40_000)}"}`);
    return [await craft({ id: certId, content: huge, modified: w.clock.now })];
  });
  t.true(rb.skipped.some((s) => s.event === EventId.TokenMalformed && /longer than 256/.test(s.reason)));
});

test.serial('attributes naming another certificate than their id are skipped (1017)', async (t) => {
  const { rb, b, parts } = await attacked(t, async (w, certId) => {
    const other = encodeCredentialAttributes({ cert: 'f'.repeat(64), friendlyName: 'Bank', chain: [] });
    return [await craft({ id: certId, content: other, modified: w.clock.now })];
  });
  t.true(skippedWith(rb, EventId.TokenIdMismatch, parts[1]!.id));
  t.false(b.local.items.has(tokenKey('attrs', parts[1]!.id)));
});

test.serial(
  'attributes for a certificate the user does not have are not copied (1050), and left in place',
  async (t) => {
    const { other } = await certificates(t);
    const { rb, ra, b } = await attacked(t, async (w) => {
      const id = sha256(other.leaf);
      const attrs = encodeCredentialAttributes({ cert: id, friendlyName: 'Not yours', chain: [other.root] });
      return [await craft({ id, content: attrs, modified: w.clock.now })];
    });
    t.true(
      skippedWith(rb, EventId.AttributesWithoutCertificate, sha256(other.leaf)),
      JSON.stringify(rb.skipped),
    );
    t.true(skippedWith(ra, EventId.AttributesWithoutCertificate));
    t.false(b.local.items.has(tokenKey('attrs', sha256(other.leaf))));
    t.is(b.local.items.size, 2);
  },
);

test.serial('attributes flagged as archived are skipped (1013): they follow their certificate', async (t) => {
  const { rb } = await attacked(t, async (w, certId) => {
    const attrs = encodeCredentialAttributes({ cert: certId, friendlyName: 'x', chain: [] });
    return [await craft({ id: certId, content: attrs, modified: w.clock.now, flags: TokenFlag.Archived })];
  });
  t.true(
    rb.skipped.some(
      (s) => s.event === EventId.TokenMalformed && s.reason === 'attributes flagged as archived',
    ),
  );
});

test.serial('a flood of attributes is bounded (1008, 1050) and costs no certificate or key', async (t) => {
  const { rb, ra } = await attacked(
    t,
    async (w) =>
      Promise.all(
        Array.from({ length: 30 }, async () => {
          const id = randomBytes(32).toString('hex');
          const attrs = encodeCredentialAttributes({ cert: id, friendlyName: 'flood', chain: [] });
          return craft({ id, content: attrs, modified: w.clock.now });
        }),
      ),
    { maxTokens: 10 },
  );
  for (const r of [rb, ra]) {
    t.true(skippedWith(r, EventId.TooManyTokens), 'values beyond twice maxTokens are not read');
    t.true(skippedWith(r, EventId.AttributesWithoutCertificate), 'the ones read are not copied');
  }
});

test.serial(
  'attributes do not travel without their certificate: an unreadable or over-limit certificate holds them back',
  async (t) => {
    const { mine } = await certificates(t);
    const w = world({ maxTokens: 2 });
    const a = w.endpoint();
    const parts = credential(mine, w.clock.now);
    put(a.local, parts);
    // Room for two tokens: the certificate and the key go, the attributes wait (they come last).
    const r = await a.sync();
    t.is(r.counts.uploaded, 2);
    t.true(skippedWith(r, EventId.TooManyTokens, parts[2]!.id));
    t.false(w.values().length > 2);
    // A certificate this endpoint cannot read: its attributes wait too, and nothing is deleted.
    const w2 = world();
    const c = w2.endpoint();
    put(c.local, [parts[2]!]);
    c.local.unreadable.push({ name: 'certs/x.der', kind: 'cert', id: parts[1]!.id, reason: 'damaged' });
    const rc = await c.sync();
    t.true(skippedWith(rc, EventId.AttributesWithoutCertificate, parts[2]!.id), JSON.stringify(rc.skipped));
    t.is(w2.values().length, 0);
    t.true(c.local.items.has(tokenKey('attrs', parts[2]!.id)));
    // Once the certificate is readable, both roam.
    c.local.unreadable.length = 0;
    put(c.local, [parts[1]!]);
    t.is((await c.sync()).counts.uploaded, 2);
  },
);

test.serial(
  'held-back attributes are downloaded once their certificate arrives, and never tombstoned meanwhile',
  async (t) => {
    const { mine } = await certificates(t);
    const w = world();
    const a = w.endpoint();
    const parts = credential(mine, w.clock.now);
    put(a.local, parts);
    await a.sync();
    // b cannot read the certificate's value yet (it is damaged in b's store): the attributes wait.
    const b = w.endpoint();
    b.local.unreadable.push({ name: 'certs/x.der', kind: 'cert', id: parts[1]!.id, reason: 'damaged' });
    const r1 = await b.sync();
    t.true(skippedWith(r1, EventId.AttributesWithoutCertificate));
    const r2 = await b.sync();
    t.is(r2.counts.tombstoned, 0, 'a held-back value is not taken for a local deletion');
    b.local.unreadable.length = 0;
    const r3 = await b.sync();
    t.is(r3.counts.downloaded, 2);
    holds(t, b.local, parts, 'b');
    t.is(w.values().length, 3);
  },
);
