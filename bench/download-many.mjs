#!/usr/bin/env node
// Benchmark: the upload benchmark's folder of distinct ~100 KB JPEGs, uploaded once to a server in
// its own process (processing off, so that no decoder competes), then downloaded through the SDK
// with every file's SHA-256 verified, against `cp -r` (+ sync) of the server's stored blobs onto
// the same disk, measured in the same run; then the same download again with every file present
// (checked by size and the digest cache), and once more without the cache (every file read).
//
//   node bench/download-many.mjs [files=10000] [concurrency=16]
//   VI_BENCH_BACKEND=postgres node bench/download-many.mjs ...   the server on a throwaway PostgreSQL
//   VI_BENCH_CPU_PROF=dir node --cpu-prof --cpu-prof-dir=dir bench/download-many.mjs
//                          also profiles the server (its profile is written when it stops)
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { Client } from "@vi/sdk";
import {
  BACKEND,
  BACKEND_LABEL,
  childCpuSeconds,
  cpuSeconds,
  fmt,
  makeJpegs,
  peakRssMb,
  startServerProcess,
  timeCommand,
  TMP,
} from "./lib.mjs";

const files = Number(process.argv[2] ?? 10_000);
const concurrency = Number(process.argv[3] ?? 16);
const src = await makeJpegs(join(TMP, `jpegs-${files}`), files, 100_000);
const megabytes = (files * 100_000) / 1e6;

const dataDir = join(TMP, "data-download-many");
await rm(dataDir, { recursive: true, force: true });
const profDir = process.env.VI_BENCH_CPU_PROF;
const server = await startServerProcess(
  dataDir,
  { VI_PROCESSING_CONCURRENCY: "0" },
  profDir ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : [],
);
const client = new Client({
  endpoint: server.url,
  organizationId: server.creds.organizationId,
  secretKey: server.creds.secretKey,
});
const { datasetId } = await client.datasets.create({ name: "bench" });
const uploaded = await client.assets.upload({
  datasetId,
  paths: src,
  concurrency: 32,
  showProgress: false,
  digestCache: false,
});
if (uploaded.totalSucceeded !== files) throw new Error(`upload incomplete: ${uploaded.totalSucceeded}`);

// The baseline: a copy of the stored blobs (the same bytes, as files) onto the same disk; with a
// bucket (scaleout) there is no blob folder, and the uploaded folder stands in (the same bytes).
const stored = BACKEND === "scaleout" ? src : join(dataDir, "blobs");
const copy = join(TMP, "cp-blobs");
await rm(copy, { recursive: true, force: true });
await timeCommand("sync", []);
const cpCpu0 = await childCpuSeconds();
const cpSeconds = await timeCommand("sh", ["-c", `cp -r '${stored}' '${copy}' && sync`]);
const cpCpu = (await childCpuSeconds()) - cpCpu0;
await rm(copy, { recursive: true, force: true });

const saveDir = join(TMP, "download-many");
await rm(saveDir, { recursive: true, force: true });
// A cache of its own: the download remembers what it wrote, the re-run then reads no file.
const digestCache = join(TMP, `download-digests-${process.pid}.json`);
await timeCommand("sync", []);
const cpu0 = { server: await cpuSeconds(server.pid), client: process.cpuUsage() };
let t0 = performance.now();
const first = await client.assets.download({ datasetId, saveDir, concurrency, showProgress: false, digestCache });
const firstSeconds = (performance.now() - t0) / 1000;
const clientCpu = process.cpuUsage(cpu0.client);
const cpu = {
  server: (await cpuSeconds(server.pid)) - cpu0.server,
  client: (clientCpu.user + clientCpu.system) / 1e6,
  clientSystem: clientCpu.system / 1e6,
};
const syncSeconds = await timeCommand("sync", []);

t0 = performance.now();
const again = await client.assets.download({ datasetId, saveDir, concurrency, showProgress: false, digestCache });
const againSeconds = (performance.now() - t0) / 1000;
t0 = performance.now();
const uncached = await client.assets.download({
  datasetId,
  saveDir,
  concurrency,
  showProgress: false,
  digestCache: false,
});
const uncachedSeconds = (performance.now() - t0) / 1000;

const serverRss = await peakRssMb(server.pid);
await client.close();
await server.stop();
await rm(digestCache, { force: true });
await rm(saveDir, { recursive: true, force: true });
await rm(dataDir, { recursive: true, force: true });

for (const [name, r, want] of [
  ["first", first, { downloaded: files, skipped: 0 }],
  ["again", again, { downloaded: 0, skipped: files }],
  ["uncached", uncached, { downloaded: 0, skipped: files }],
]) {
  if (r.downloaded !== want.downloaded || r.skipped !== want.skipped || r.failed.length > 0 || r.differing.length > 0)
    throw new Error(`${name} download: ${JSON.stringify({ ...r, failed: r.failed.slice(0, 3) })}`);
}
const rate = (s) => `${fmt(files / s, 0)} files/s, ${fmt(megabytes / s)} MB/s`;
console.log(
  `download-many: ${files} distinct JPEGs, ${fmt(megabytes)} MB, GET concurrency ${concurrency}, every SHA-256 verified`,
);
console.log(`  backend: ${BACKEND_LABEL}`);
console.log(
  `  baseline cp -r blobs + sync : ${fmt(cpSeconds, 2)} s  (${rate(cpSeconds)}), CPU ${fmt(cpCpu, 2)} s (${fmt((cpCpu / files) * 1e6, 0)} µs/file)`,
);
console.log(
  `  download                    : ${fmt(firstSeconds, 2)} s  (${rate(firstSeconds)}) = ${fmt((cpSeconds / firstSeconds) * 100)}% of cp's rate`,
);
console.log(
  `    + sync after it           : ${fmt(syncSeconds, 2)} s  (${rate(firstSeconds + syncSeconds)}) = ${fmt((cpSeconds / (firstSeconds + syncSeconds)) * 100)}% of cp's rate`,
);
console.log(
  `                                CPU: server ${fmt(cpu.server, 2)} s (${fmt((cpu.server / files) * 1e6, 0)} µs/file), client ${fmt(cpu.client, 2)} s (${fmt((cpu.client / files) * 1e6, 0)} µs/file, ${fmt((cpu.clientSystem / cpu.client) * 100, 0)}% system) = ${fmt(((cpu.server + cpu.client) / firstSeconds / 2) * 100, 0)}% of both cores`,
);
console.log(`  again, all present (cache)  : ${fmt(againSeconds, 2)} s  (${fmt(files / againSeconds, 0)} files/s)`);
console.log(
  `  again, no digest cache      : ${fmt(uncachedSeconds, 2)} s  (${fmt(files / uncachedSeconds, 0)} files/s, every file read and hashed)`,
);
console.log(`  peak RSS: server ${fmt(serverRss, 0)} MB, client ${fmt(process.resourceUsage().maxRSS / 1024, 0)} MB`);
