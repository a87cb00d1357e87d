#!/usr/bin/env node
// The floor of durable small-file writes on this disk, without HTTP, SQL or hashing: each file of
// the benchmark set is read, then written as the server's blob store does (create in staging/,
// write, fsync, close, stat, rename into one of 256 shard folders, fsync that folder), with
// `concurrency` files in flight. Prints files/s and the latency of each step (wall time of the
// promise, so with concurrency > 4 it includes waiting for one of libuv's 4 pool threads).
//
//   node bench/profile/durable-writes.mjs [files=10000] [concurrency=32] [mode=per-file|group] [group=256]
//
// mode=group: the files of a group are written and closed unsynced, then fsynced (all in flight),
// renamed, and each shard folder they touched is fsynced once: group durability, for comparison.
import { open, mkdir, readFile, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { makeJpegs, TMP } from "../lib.mjs";

const files = Number(process.argv[2] ?? 10_000);
const concurrency = Number(process.argv[3] ?? 32);
const mode = process.argv[4] ?? "per-file";
const groupSize = Number(process.argv[5] ?? 256);
const src = await makeJpegs(join(TMP, `jpegs-${files}`), files, 100_000);
const names = (await readdir(src)).sort();

const root = join(TMP, `durable-${process.pid}`);
const staging = join(root, "staging");
const blobs = join(root, "blobs");
const shards = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
await rm(root, { recursive: true, force: true });
await mkdir(staging, { recursive: true });
await Promise.all(shards.map((s) => mkdir(join(blobs, s), { recursive: true })));
const shardHandles = new Map();
const shardHandle = (s) => {
  if (!shardHandles.has(s)) shardHandles.set(s, open(join(blobs, s), "r"));
  return shardHandles.get(s);
};

const steps = new Map();
async function timed(step, promise) {
  const t0 = performance.now();
  const result = await promise;
  const list = steps.get(step) ?? [];
  list.push(performance.now() - t0);
  steps.set(step, list);
  return result;
}

// Spread over the shards as SHA-256 names are (a group of 256 touches about 160 of them).
const shardOf = (i) => shards[createHash("sha256").update(String(i)).digest()[0]];
async function stageOne(i, sync) {
  const bytes = await timed("read source", readFile(join(src, names[i])));
  const path = join(staging, `s-${i}`);
  const file = await timed("create (open wx)", open(path, "wx", 0o600));
  await timed("write", file.write(bytes, 0, bytes.length));
  if (sync) await timed("fsync file", file.sync());
  await timed("close", file.close());
  return path;
}
async function publishOne(i, path, syncDir) {
  await timed("stat", stat(path));
  await timed("rename", rename(path, join(blobs, shardOf(i), `b-${i}`)));
  if (syncDir) await timed("fsync folder", (await shardHandle(shardOf(i))).sync());
}

async function pool(items, n, work) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

const indexes = names.map((_, i) => i);
const t0 = performance.now();
const cpu0 = process.cpuUsage();
if (mode === "per-file") {
  await pool(indexes, concurrency, async (i) => publishOne(i, await stageOne(i, true), true));
} else {
  for (let g = 0; g < files; g += groupSize) {
    const group = indexes.slice(g, g + groupSize);
    const paths = new Map();
    await pool(group, concurrency, async (i) => paths.set(i, await stageOne(i, false)));
    // Each staged file still needs its own fsync (its data blocks), all in flight at once.
    await pool(group, concurrency, async (i) => {
      const file = await open(paths.get(i), "r");
      await timed("fsync file", file.sync());
      await file.close();
    });
    await pool(group, concurrency, (i) => publishOne(i, paths.get(i), false));
    const touched = [...new Set(group.map(shardOf))];
    await pool(touched, concurrency, async (s) => timed("fsync folder", (await shardHandle(s)).sync()));
  }
}
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
for (const h of shardHandles.values()) await (await h).close();
await rm(root, { recursive: true, force: true });

const q = (list, p) => list[Math.min(list.length - 1, Math.floor(list.length * p))];
const out = {
  files,
  concurrency,
  mode,
  ...(mode === "group" ? { groupSize } : {}),
  seconds: Math.round(seconds * 100) / 100,
  filesPerSecond: Math.round(files / seconds),
  cpuMsPerFile: { user: Math.round(cpu.user / files) / 1000, system: Math.round(cpu.system / files) / 1000 },
  steps: {},
};
for (const [step, list] of steps) {
  list.sort((a, b) => a - b);
  const sum = list.reduce((a, b) => a + b, 0);
  out.steps[step] = {
    calls: list.length,
    meanMs: Math.round((sum / list.length) * 1000) / 1000,
    p50Ms: Math.round(q(list, 0.5) * 1000) / 1000,
    p99Ms: Math.round(q(list, 0.99) * 1000) / 1000,
  };
}
console.log(JSON.stringify(out));
