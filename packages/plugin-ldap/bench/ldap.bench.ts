/**
 * LDAP benchmark against a real slapd started here (loopback, TLS). Prints JSON: figures and their
 * ratios to baselines measured in the same run. Operations are counted from slapd's own `stats` log.
 *
 *   noChangeSync:  2 000 tokens, warm connection: operations and time, against a bare ldapts read of
 *                  the stamp (goal: exactly one read, ≤ 2×).
 *   coldDownload:  2 000 × 3 KB tokens to an empty endpoint, against the floor: a bare ldapts fetch of
 *                  the same values plus writing the same bytes as files, atomically (goal ≤ 1.5×).
 *   oneChanged:    one changed credential among 2 000: operations and bytes sent (goal: one modify
 *                  plus the stamp; bytes ≤ 2× the token).
 *   dimsCeiling:   2 000 × 64 KB first upload (Windows' limits): completes; time.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { type LocalItem, type LocalListing, type LocalStore, type TokenKind } from '@credroam/core/api';
import { writeFileAtomic } from '@credroam/core/kit';
import { FakeInspector, fakeContent, makeEngine } from '@credroam/core/testing';
import { Client } from 'ldapts';
import { LdapDirectoryStore, LdapSession, OPENLDAP } from '../src/index.js';
import { type Slapd, startProviders, userDn } from '../src/testing/slapd.js';

const round = (x: number) => Math.round(x * 100) / 100;

/** Counts application bytes (before encryption) that this process writes to TLS sockets. */
let bytesSent = 0;
const write = net.Socket.prototype.write;
net.Socket.prototype.write = function (this: net.Socket, chunk: unknown, ...rest: unknown[]) {
  if (this instanceof tls.TLSSocket)
    bytesSent += typeof chunk === 'string' ? Buffer.byteLength(chunk) : (chunk as Uint8Array).length;
  return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
} as typeof write;

/** A local store of fake credentials as files, written atomically (what the floor writes too). */
class FileLocalStore implements LocalStore {
  readonly items = new Map<string, LocalItem>();
  #rev = 0;
  constructor(readonly dir: string) {}
  async revision() {
    return String(this.#rev);
  }
  async list(): Promise<LocalListing> {
    return { items: [...this.items.values()], unreadable: [] };
  }
  async put(item: LocalItem) {
    await writeFileAtomic(path.join(this.dir, `${item.kind}-${item.id}`), item.content);
    this.items.set(`${item.kind}:${item.id}`, item);
    this.#rev++;
  }
  async remove(kind: TokenKind, id: string) {
    this.items.delete(`${kind}:${id}`);
    this.#rev++;
  }
}

function store(server: Slapd, uid: string): LdapDirectoryStore {
  const settings = {
    url: server.ldapsUrl,
    caFile: server.tls.ca,
    bind: 'simple' as const,
    profile: 'openldap' as const,
    timeoutMs: 600_000,
    maxRequestBytes: 4_000_000,
  };
  const session = new LdapSession(settings, async () => ({
    dn: userDn(uid),
    password: async () => `${uid} password`,
  }));
  return new LdapDirectoryStore(session, OPENLDAP, { dn: userDn(uid), name: uid }, settings.maxRequestBytes);
}

async function opsDuring<T>(
  server: Slapd,
  uid: string,
  work: () => Promise<T>,
): Promise<{ result: T; reads: number; modifies: number }> {
  const before = (await readFile(server.log, 'utf8')).length;
  const result = await work();
  await new Promise((r) => setTimeout(r, 50)); // let slapd flush its log
  const lines = (await readFile(server.log, 'utf8')).slice(before).split('\n');
  const dn = userDn(uid);
  return {
    result,
    reads: lines.filter((l) => l.includes(`SRCH base="${dn}"`)).length,
    modifies: lines.filter((l) => l.includes(`MOD dn="${dn}"`)).length,
  };
}

function localWith(dir: string, count: number, bodyBytes: number, now: number): FileLocalStore {
  const local = new FileLocalStore(dir);
  const inspector = new FakeInspector();
  for (let i = 0; i < count; i++) {
    const content = fakeContent(
      `c${i.toString(36).padStart(7, '0')}`,
      randomBytes(bodyBytes / 2).toString('hex'),
    );
    local.items.set(`cert:${inspector.inspect('cert', content).id}`, {
      kind: 'cert',
      id: inspector.inspect('cert', content).id,
      content,
      archived: false,
      modified: now,
    });
  }
  return local;
}

async function median(n: number, f: () => Promise<number>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) xs.push(await f());
  return xs.sort((a, b) => a - b)[Math.floor(n / 2)]!;
}

const { servers, stop } = await startProviders(1, { users: ['bench', 'cold', 'dims'] });
const server = servers[0]!;
const work = await mkdtemp(path.join(os.tmpdir(), 'credroam-ldap-bench-'));
try {
  const now = Date.now();
  // --- 2 000 tokens of 3 KB uploaded by endpoint A.
  await mkdir(path.join(work, 'a'));
  const aDir = store(server, 'bench');
  const a = makeEngine({
    directory: aDir,
    local: localWith(path.join(work, 'a'), 2000, 3000, now),
    user: 'bench',
  });
  let t0 = performance.now();
  await a.engine.sync();
  const firstUploadMs = performance.now() - t0;
  await a.engine.sync();

  // --- no-change sync on a warm connection, against a bare ldapts stamp read.
  const noChange = await opsDuring(server, 'bench', async () => {
    const t = performance.now();
    const r = await a.engine.sync();
    return { ms: performance.now() - t, outcome: r.outcome };
  });
  const syncMs = await median(9, async () => {
    const t = performance.now();
    await a.engine.sync();
    return performance.now() - t;
  });
  const bare = new Client({ url: server.ldapsUrl, tlsOptions: { ca: await readFile(server.tls.ca) } });
  await bare.bind(userDn('bench'), 'bench password');
  const stampMs = await median(9, async () => {
    const t = performance.now();
    await bare.search(userDn('bench'), {
      scope: 'base',
      attributes: ['credroamStamp'],
      explicitBufferAttributes: ['credroamStamp'],
    });
    return performance.now() - t;
  });

  // --- cold download to an empty endpoint, against the floor.
  await mkdir(path.join(work, 'b'));
  const bLocal = new FileLocalStore(path.join(work, 'b'));
  const b = makeEngine({ directory: store(server, 'bench'), local: bLocal, user: 'bench' });
  t0 = performance.now();
  const cold = await b.engine.sync();
  const coldMs = performance.now() - t0;
  await mkdir(path.join(work, 'floor'));
  t0 = performance.now();
  const fetched = await bare.search(userDn('bench'), {
    scope: 'base',
    attributes: ['credroamToken'],
    explicitBufferAttributes: ['credroamToken'],
  });
  const values = ([] as Buffer[]).concat(fetched.searchEntries[0]!.credroamToken as Buffer[]);
  let n = 0;
  for (const v of values) await writeFileAtomic(path.join(work, 'floor', `t${n++}`), v);
  const floorMs = performance.now() - t0;

  // --- one changed credential among 2 000 (endpoint B, settled first).
  await b.engine.sync();
  const item = [...bLocal.items.values()][0]!;
  const name = Buffer.from(item.content.subarray(0, 8)).toString('latin1');
  await bLocal.put({
    ...item,
    content: fakeContent(name, randomBytes(1492).toString('hex')),
    modified: Date.now(),
  });
  const sentBefore = bytesSent;
  const one = await opsDuring(server, 'bench', async () => {
    const t = performance.now();
    const r = await b.engine.sync();
    return { ms: performance.now() - t, uploaded: r.counts.uploaded };
  });
  const oneBytes = bytesSent - sentBefore;

  // --- the DIMS ceiling: 2 000 × 64 KB first upload.
  await mkdir(path.join(work, 'd'));
  const dims = makeEngine({
    directory: store(server, 'dims'),
    local: localWith(path.join(work, 'd'), 2000, 65_400 - 16, now),
    user: 'dims',
  });
  t0 = performance.now();
  const dimsReport = await dims.engine.sync();
  const dimsMs = performance.now() - t0;
  await bare.unbind();

  console.log(
    JSON.stringify(
      {
        server: 'slapd 2.5 (Debian), back-mdb, TLS on loopback',
        firstUpload2000x3KB: { ms: round(firstUploadMs) },
        noChangeSync: {
          outcome: noChange.result.outcome,
          directoryOperations: { reads: noChange.reads, modifies: noChange.modifies },
          ms: round(syncMs),
          bareStampReadMs: round(stampMs),
          ratio: round(syncMs / stampMs),
          goal: 'one read, ≤ 2×',
        },
        coldDownload2000x3KB: {
          ms: round(coldMs),
          downloaded: cold.counts.downloaded,
          floorMs: round(floorMs),
          ratio: round(coldMs / floorMs),
          goal: '≤ 1.5×',
        },
        oneChangedAmong2000: {
          uploaded: one.result.uploaded,
          directoryOperations: { reads: one.reads, modifies: one.modifies },
          ms: round(one.result.ms),
          bytesSent: oneBytes,
          tokenBytes: 3000 + 90 + 36,
          ratio: round(oneBytes / (3000 + 90 + 36)),
          goal: 'one modify plus the stamp; bytes ≤ 2× the token',
        },
        dimsCeiling2000x64KB: { uploaded: dimsReport.counts.uploaded, ms: round(dimsMs) },
      },
      null,
      2,
    ),
  );
} finally {
  await stop();
  await rm(work, { recursive: true, force: true });
}
