import test from 'ava';
import {
  associatedData,
  EventId,
  encodeHeader,
  encodeToken,
  KIND_CODES,
  type LocalItem,
  TokenFlag,
  type TokenKind,
  tokenKey,
} from '../../src/index.js';
import {
  FakeInspector,
  fakeContent,
  MemoryLocalStore,
  makeEngine,
  ReplicatedDirectory,
  SHARED_PROTECTOR,
  type TestProtector,
} from '../../src/testing/index.js';

function world() {
  const clock = { now: 1_700_000_000_000 };
  const dir = new ReplicatedDirectory(1);
  const endpoint = (user = 'alice') => {
    const local = new MemoryLocalStore(() => clock.now);
    const parts = makeEngine({ directory: dir.server(0), local, now: () => clock.now, user });
    return { local, ...parts, sync: () => parts.engine.sync({ full: true }) };
  };
  const values = () => [...dir.replicas[0]!.tokens].map((v) => new Uint8Array(Buffer.from(v, 'base64')));
  const setValues = (vs: Uint8Array[]) => {
    dir.replicas[0]!.tokens.clear();
    for (const v of vs) dir.replicas[0]!.tokens.add(Buffer.from(v).toString('base64'));
  };
  return { clock, dir, endpoint, values, setValues };
}

/** Seals a value the way an endpoint holding the key would. */
async function craft(o: {
  user?: string;
  kind?: TokenKind;
  flags?: number;
  modified: number;
  id: string;
  content: Uint8Array;
  protector?: TestProtector;
}): Promise<Uint8Array> {
  const kind = o.kind ?? 'cert';
  const flags = o.flags ?? 0;
  const unsized = encodeHeader({ kind, flags, modified: o.modified, id: o.id, payloadLength: 0 });
  const sealed = await (o.protector ?? SHARED_PROTECTOR).seal({
    kind,
    payload: o.content,
    aad: associatedData(o.user ?? 'alice', unsized),
  });
  return encodeToken(
    encodeHeader({ kind, flags, modified: o.modified, id: o.id, payloadLength: sealed.length }),
    sealed,
  );
}

const keyOf = (item: LocalItem) => tokenKey(item.kind, item.id);

/** Alice has one synced credential; the test then plants `planted` beside it. */
async function plantedWorld(plant: (w: ReturnType<typeof world>, item: LocalItem) => Promise<Uint8Array[]>) {
  const w = world();
  const a = w.endpoint();
  const item = a.local.userPut('cert', 'mine', 'v1');
  await a.sync();
  const planted = await plant(w, item);
  const b = w.endpoint();
  b.local.userPut('key', 'b-only', 'k1');
  const report = await b.sync();
  const reportA = await a.sync();
  return { w, a, b, item, planted, report, reportA };
}

const has = (w: ReturnType<typeof world>, v: Uint8Array) =>
  w.values().some((x) => Buffer.from(x).equals(Buffer.from(v)));

test('a value altered in the directory fails authentication (1012): skipped, kept, the rest goes on', async (t) => {
  const { w, b, report, reportA, planted, item } = await plantedWorld(async (w) => {
    const [v] = w.values();
    const altered = new Uint8Array(v!);
    altered[altered.length - 20]! ^= 0x01;
    w.setValues([altered]);
    return [altered];
  });
  t.true(report.skipped.some((s) => s.event === EventId.TokenAuthenticationFailed && s.id === item.id));
  t.true(b.events.some((e) => e.event === EventId.TokenAuthenticationFailed && e.id === item.id));
  t.is(report.counts.uploaded, 1, "b's own key still roams");
  t.false(b.local.items.has(keyOf(item)));
  t.true(has(w, planted[0]!), 'an unauthenticated value is never removed');
  t.is(reportA.counts.uploaded, 1, 'a writes its authentic copy again beside the altered value');
  t.true(has(w, planted[0]!), 'and still leaves the altered value alone');
  await b.sync();
  t.true(b.local.items.has(keyOf(item)), 'so the credential roams again');
});

test("a value moved from another user's entry fails authentication", async (t) => {
  const { report, item } = await plantedWorld(async (w, mine) => {
    const bobs = await craft({
      user: 'bob',
      modified: w.clock.now + 1,
      id: mine.id,
      content: fakeContent('mine', 'bob'),
    });
    w.setValues([...w.values(), bobs]);
    return [bobs];
  });
  t.true(report.skipped.some((s) => s.event === EventId.TokenAuthenticationFailed && s.id === item.id));
});

test('a re-labelled, re-dated or re-flagged value fails authentication', async (t) => {
  for (const [offset, change] of [
    [14, 0x01], // id
    [12, 0x01], // modified
    [4, TokenFlag.Tombstone], // flags: a forged tombstone from a real value
  ] as const) {
    const { report, a, item } = await plantedWorld(async (w) => {
      const [v] = w.values();
      const forged = new Uint8Array(v!);
      forged[offset]! ^= change;
      w.setValues([forged]);
      return [forged];
    });
    t.true(
      report.skipped.some((s) => s.event === EventId.TokenAuthenticationFailed),
      `byte ${offset}: ${JSON.stringify(report.skipped)}`,
    );
    t.true(a.local.items.has(keyOf(item)), 'the local credential is untouched');
  }
});

test('a tombstone forged by a directory writer without the key removes nothing', async (t) => {
  const { a, item, reportA } = await plantedWorld(async (w, mine) => {
    const forged = encodeToken(
      encodeHeader({
        kind: 'cert',
        flags: TokenFlag.Tombstone,
        modified: w.clock.now + 5,
        id: mine.id,
        payloadLength: 28,
      }),
      new Uint8Array(28),
    );
    w.setValues([...w.values(), forged]);
    return [forged];
  });
  t.true(a.local.items.has(keyOf(item)));
  t.true(reportA.skipped.some((s) => s.event === EventId.TokenAuthenticationFailed && s.id === item.id));
});

test('a value over the size limit is skipped with event 1011 before any work', async (t) => {
  const { report } = await plantedWorld(async (w) => {
    const big = new Uint8Array(70_000);
    w.setValues([...w.values(), big]);
    return [big];
  });
  const s = report.skipped.find((x) => x.event === EventId.TokenTooLarge);
  t.is(s?.reason, 'value is 70000 bytes, the limit is 65535');
});

test('malformed headers are skipped with event 1013 and name the problem', async (t) => {
  const { report, w } = await plantedWorld(async (w) => {
    const [v] = w.values();
    const badMagic = new Uint8Array(v!);
    badMagic[0] = 0x58;
    const truncated = v!.subarray(0, 30);
    const wrongLength = v!.subarray(0, v!.length - 1);
    const badFlags = new Uint8Array(v!);
    badFlags[4] = 0x80;
    const badVersion = new Uint8Array(v!);
    badVersion[2] = 7;
    return [badMagic, truncated, wrongLength, badFlags, badVersion].map((x, i) => {
      const copy = new Uint8Array(x);
      if (i !== 1 && i !== 2) copy[45] = i; // distinct bytes, so the set keeps all
      w.setValues([...w.values(), copy]);
      return copy;
    });
  });
  const reasons = report.skipped.filter((s) => s.event === EventId.TokenMalformed).map((s) => s.reason);
  t.true(reasons.includes('bad magic'));
  t.true(reasons.includes('value is 30 bytes, shorter than a header'));
  t.true(reasons.some((r) => /^header says \d+ payload bytes, the value has \d+$/.test(r)));
  t.true(reasons.includes('unknown flags 0x80'));
  t.true(reasons.includes('unsupported format version 7'));
  t.is(w.values().length, 7);
});

test('an unknown kind (from a newer credroam) is skipped with event 1014 and never removed', async (t) => {
  const { report, w, planted } = await plantedWorld(async (w) => {
    const [v] = w.values();
    const future = new Uint8Array(v!);
    future[3] = 9;
    future[45]! ^= 0xff;
    w.setValues([...w.values(), future]);
    return [future];
  });
  t.true(
    report.skipped.some((s) => s.event === EventId.TokenUnknownKind && s.reason === 'unknown token kind 9'),
  );
  t.true(has(w, planted[0]!));
  t.is(KIND_CODES.cert, 1);
});

test('a value dated beyond the clock-skew allowance is skipped with event 1015', async (t) => {
  const { report, b } = await plantedWorld(async (w) => {
    const content = fakeContent('future', 'x');
    const id = new FakeInspector().inspect('cert', content).id;
    const v = await craft({ modified: w.clock.now + 86_400_000, id, content });
    w.setValues([...w.values(), v]);
    return [v];
  });
  t.true(report.skipped.some((s) => s.event === EventId.TokenFromFuture));
  t.is(b.local.items.size, 2, 'the future value was not downloaded');
});

test('a value rolled back below what this endpoint saw is skipped (1016) and the newer version written again', async (t) => {
  const w = world();
  const a = w.endpoint();
  const item = a.local.userPut('cert', 'doc', 'v1');
  await a.sync();
  const old = w.values();
  w.clock.now += 1000;
  a.local.userPut('cert', 'doc', 'v2');
  await a.sync();
  w.setValues(old); // a replay of the old value (or a lagging server)
  const report = await a.sync();
  t.true(report.skipped.some((s) => s.event === EventId.TokenRolledBack && s.id === item.id));
  t.is(report.counts.uploaded, 1);
  const b = w.endpoint();
  await b.sync();
  t.is(
    Buffer.from(b.local.items.get(keyOf(item))!.content)
      .subarray(16)
      .toString(),
    'v2',
  );
  t.is(w.values().length, 1, 'the replayed value was replaced');
});

test('content that does not match the id it is filed under is skipped (1017), never planted', async (t) => {
  const { report, b } = await plantedWorld(async (w) => {
    const victimId = new FakeInspector().inspect('cert', fakeContent('victim', 'x')).id;
    const v = await craft({ modified: w.clock.now, id: victimId, content: fakeContent('attackr', 'evil') });
    w.setValues([...w.values(), v]);
    return [v];
  });
  t.true(report.skipped.some((s) => s.event === EventId.TokenIdMismatch));
  t.false([...b.local.items.values()].some((i) => Buffer.from(i.content).includes(Buffer.from('evil'))));
});

test('more values than twice the token limit: the synced tokens are read first, the flood is one event, the sync goes on', async (t) => {
  const w = world();
  const clock = w.clock;
  const local = new MemoryLocalStore(() => clock.now);
  const a = makeEngine({ directory: w.dir.server(0), local, policy: { maxTokens: 3 }, now: () => clock.now });
  const mine = local.userPut('cert', 'mine', 'v1');
  await a.engine.sync();
  const [genuine] = w.values();
  // A writer plants 10 values ahead of the genuine one; 7 of them look like alice's own token.
  const lookalike = (i: number) => {
    const v = new Uint8Array(genuine!);
    v[v.length - 1 - i]! ^= 0xff;
    return v;
  };
  w.setValues([
    ...Array.from({ length: 3 }, (_, i) => new Uint8Array([i])),
    ...Array.from({ length: 7 }, (_, i) => lookalike(i)),
    genuine!,
  ]);
  const b = makeEngine({
    directory: w.dir.server(0),
    local: new MemoryLocalStore(() => clock.now),
    policy: { maxTokens: 3 },
    now: () => clock.now,
  });
  const fresh = await b.engine.sync({ full: true });
  t.true(
    fresh.skipped.some(
      (s) => s.event === EventId.TooManyTokens && /holds 11 token values.*5 beyond 6/.test(s.reason),
    ),
  );
  const again = await a.engine.sync({ full: true });
  t.true(again.skipped.some((s) => s.event === EventId.TooManyTokens));
  t.is(again.counts.uploaded, 0, 'a token with values left unread is not written over');
  t.true(local.items.has(keyOf(mine)));
  t.is(w.values().length, 11, 'nothing the writer planted was removed');
});

test('uploads beyond the token limit are refused with event 1008 naming each, never silently dropped', async (t) => {
  const w = world();
  const local = new MemoryLocalStore(() => w.clock.now);
  const { engine, events } = makeEngine({ directory: w.dir.server(0), local, policy: { maxTokens: 2 } });
  for (const n of ['a', 'b', 'c']) local.userPut('cert', n, 'v1');
  const report = await engine.sync();
  t.is(report.counts.uploaded, 2);
  const refused = report.skipped.filter((s) => s.event === EventId.TooManyTokens);
  t.is(refused.length, 1);
  t.true(events.some((e) => e.event === EventId.TooManyTokens && e.id === refused[0]!.id));
  t.true(local.items.size === 3, 'the refused credential stays on the endpoint');
});

test('a local entry that cannot be read is reported and never turned into a tombstone', async (t) => {
  const w = world();
  const a = w.endpoint();
  const item = a.local.userPut('cert', 'doc', 'v1');
  const other = a.local.userPut('cert', 'other', 'v1');
  await a.sync();
  // The file for `doc` became unreadable (id known from its name) and `other`'s too (id unknown).
  a.local.items.delete(keyOf(item));
  a.local.items.delete(keyOf(other));
  a.local.unreadable.push({ name: 'doc.p12', kind: 'cert', id: item.id, reason: 'bad password' });
  a.local.unreadable.push({ name: 'mystery.bin', reason: 'not a credential' });
  const report = await a.sync();
  t.is(report.counts.tombstoned, 0);
  t.is(report.skipped.filter((s) => s.event === EventId.LocalItemUnreadable).length, 2);
  t.is(w.values().length, 2);
  const b = w.endpoint();
  await b.sync();
  t.is(b.local.items.size, 2, 'the directory still roams both to other endpoints');
});

test('a local item whose content does not match its id is left untouched and not uploaded', async (t) => {
  const w = world();
  const a = w.endpoint();
  const item = a.local.userPut('cert', 'doc', 'v1');
  a.local.items.set(keyOf(item), { ...item, content: fakeContent('other', 'v1') });
  const report = await a.sync();
  t.is(report.counts.uploaded, 0);
  t.regex(report.skipped[0]?.reason ?? '', /unusable local cert: its content has id/);
});
