/**
 * Engine benchmark: prints JSON. Figures, never assertions.
 *   merge: planSync over N tokens (a typical sync: most unchanged, some changed on each side, a few
 *          deleted), median of repeated runs, against a floor measured in the same run (building the
 *          same maps and sorting the keys, which any merge must do); goal ≤ 50 ms at 10 000, linear.
 *   noChangeSync: directory operations of a sync with nothing to do (goal: exactly one stamp read),
 *          with the in-memory directory and with the embedded folder directory on disk.
 */
import 'reflect-metadata';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  type BaseEntry,
  type DirectoryStore,
  type DirectoryValue,
  FolderDirectoryStore,
  type LocalVersion,
  planSync,
  type TokenVersion,
} from '../src/index.js';
import { MemoryLocalStore, makeEngine, ReplicatedDirectory } from '../src/testing/index.js';

const hex = (n: number) => createHash('sha256').update(String(n)).digest('hex');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function inputs(n: number) {
  const local = new Map<string, LocalVersion>();
  const directory = new Map<string, DirectoryValue[]>();
  const base = new Map<string, BaseEntry>();
  const value = new Uint8Array(16);
  for (let i = 0; i < n; i++) {
    const id = hex(i);
    const key = `cert:${id}`;
    const h0 = hex(i + 1e7);
    const v: TokenVersion = { kind: 'cert', id, flags: 0, modified: 1000 + i, hash: h0 };
    const changedHere = i % 50 === 0;
    const changedThere = i % 70 === 1;
    const deletedHere = i % 90 === 2;
    base.set(key, { hash: h0, modified: v.modified, flags: 0 });
    if (!deletedHere) {
      const lv = changedHere ? { ...v, hash: hex(i + 2e7), modified: v.modified + 5 } : v;
      local.set(key, {
        version: lv,
        item: { kind: 'cert', id, content: value, archived: false, modified: lv.modified },
        archivedNow: false,
      });
    }
    const rv = changedThere ? { ...v, hash: hex(i + 3e7), modified: v.modified + 7 } : v;
    directory.set(key, [{ version: rv, value, valueHash: hex(i + 4e7) }]);
  }
  return { local, directory, base };
}

function timeMerge(n: number) {
  const data = inputs(n);
  const merge: number[] = [];
  const floor: number[] = [];
  let planned = 0;
  for (let r = 0; r < 15; r++) {
    let t0 = performance.now();
    const out = planSync({
      ...data,
      now: 10_000_000,
      tombstoneLifetimeMs: 60 * 86_400_000,
      maxTokens: n * 2,
      handsOff: new Set(),
      suppressTombstones: false,
    });
    merge.push(performance.now() - t0);
    planned = out.entries.filter((e) => e.action !== 'none').length;
    t0 = performance.now();
    const keys = new Set([...data.local.keys(), ...data.directory.keys(), ...data.base.keys()]);
    const sorted = [...keys].sort();
    let touched = 0;
    for (const k of sorted) touched += (data.local.get(k) ? 1 : 0) + (data.directory.get(k)?.length ?? 0);
    floor.push(performance.now() - t0);
    if (touched !== n + data.local.size) throw new Error('floor visited the wrong number of entries');
  }
  return {
    tokens: n,
    mergeMs: round(median(merge)),
    floorMs: round(median(floor)),
    ratioToFloor: round(median(merge) / median(floor)),
    changesPlanned: planned,
  };
}

async function noChangeOps(
  directory: DirectoryStore,
  countOps: () => { readStamp: number; read: number; write: number },
  tokens: number,
) {
  const local = new MemoryLocalStore();
  for (let i = 0; i < tokens; i++)
    local.userPut('cert', `n${i}`.padEnd(8, '_').slice(0, 8), randomBytes(8).toString('hex'));
  const { engine } = makeEngine({ directory, local });
  await engine.sync();
  await engine.sync();
  const before = { ...countOps() };
  const t0 = performance.now();
  const report = await engine.sync();
  const ms = performance.now() - t0;
  const after = countOps();
  return {
    outcome: report.outcome,
    operations: {
      readStamp: after.readStamp - before.readStamp,
      read: after.read - before.read,
      write: after.write - before.write,
    },
    ms: round(ms),
  };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

const m1 = timeMerge(1000);
const m10 = timeMerge(10_000);
const memDir = new ReplicatedDirectory(1);
const memory = await noChangeOps(memDir.server(0), () => memDir.ops, 1000);
const root = await mkdtemp(path.join(os.tmpdir(), 'credroam-bench-'));
const folderOps = { readStamp: 0, read: 0, write: 0 };
const folder = new FolderDirectoryStore(root, 'alice');
const counted: DirectoryStore = {
  readStamp: () => {
    folderOps.readStamp++;
    return folder.readStamp();
  },
  read: () => {
    folderOps.read++;
    return folder.read();
  },
  readKeys: () => folder.readKeys(),
  write: (c) => {
    folderOps.write++;
    return folder.write(c);
  },
};

const onDisk = await noChangeOps(counted, () => folderOps, 1000);
await rm(root, { recursive: true, force: true });

console.log(
  JSON.stringify(
    {
      merge: [m1, m10],
      linearity: {
        perTokenUs1k: round((m1.mergeMs * 1000) / 1000),
        perTokenUs10k: round((m10.mergeMs * 1000) / 10_000),
      },
      goal: { mergeMsAt10k: 50, met: m10.mergeMs <= 50 },
      noChangeSync: { memoryDirectory: memory, folderDirectory: onDisk, goal: 'exactly one stamp read' },
    },
    null,
    2,
  ),
);
