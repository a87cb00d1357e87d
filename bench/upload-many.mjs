#!/usr/bin/env node
// Benchmark: a folder of distinct ~100 KB JPEGs uploaded through the SDK to a server in its own
// process, against `cp -r` (+ sync) of the same folder onto the same disk, measured in the same
// run; then the same upload again, which should send no bytes; then the same files into a second
// dataset the way the Python client sends them (one signed PUT per file, no batching), so the
// gain of the batch upload ([ext]) shows against the same baseline. Processing is off
// (VI_PROCESSING_CONCURRENCY=0): bench/processing.mjs measures uploads beside it.
//
//   node bench/upload-many.mjs [files=10000] [concurrency=32]
//   VI_BENCH_BACKEND=postgres node bench/upload-many.mjs ...   the servers on a throwaway PostgreSQL
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { Client } from "@vi/sdk";
import { BACKEND_LABEL, cpuSeconds, fmt, makeJpegs, peakRssMb, startServerProcess, timeCommand, TMP } from "./lib.mjs";

const files = Number(process.argv[2] ?? 10_000);
const concurrency = Number(process.argv[3] ?? 32);
const src = await makeJpegs(join(TMP, `jpegs-${files}`), files, 100_000);
const megabytes = (files * 100_000) / 1e6;

const copy = join(TMP, "cp-copy");
await rm(copy, { recursive: true, force: true });
await timeCommand("sync", []);
const cpSeconds = await timeCommand("sh", ["-c", `cp -r '${src}' '${copy}' && sync`]);
await rm(copy, { recursive: true, force: true });

const dataDir = join(TMP, "data-upload-many");
await rm(dataDir, { recursive: true, force: true });
const server = await startServerProcess(dataDir, { VI_PROCESSING_CONCURRENCY: "0" });
const client = new Client({
  endpoint: server.url,
  organizationId: server.creds.organizationId,
  secretKey: server.creds.secretKey,
});
const { datasetId } = await client.datasets.create({ name: "bench" });

let t0 = performance.now();
const cpu0 = { server: await cpuSeconds(server.pid), client: process.cpuUsage() };
// A cache of its own: a first upload hashes every file, the re-run then finds them all.
const digestCache = join(TMP, `digests-${process.pid}.json`);
const first = await client.assets.upload({ datasetId, paths: src, concurrency, showProgress: false, digestCache });
const firstSeconds = (performance.now() - t0) / 1000;
const clientCpu = process.cpuUsage(cpu0.client);
const cpu = { server: (await cpuSeconds(server.pid)) - cpu0.server, client: (clientCpu.user + clientCpu.system) / 1e6 };
t0 = performance.now();
const again = await client.assets.upload({ datasetId, paths: src, concurrency, showProgress: false, digestCache });
await rm(digestCache, { force: true });
const againSeconds = (performance.now() - t0) / 1000;
// The Python client's wire path: every file its own PUT, into a server of its own (the first one
// holds these bytes already and would deduplicate them).
const perFileDir = join(TMP, "data-upload-many-per-file");
await rm(perFileDir, { recursive: true, force: true });
const perFileServer = await startServerProcess(perFileDir, { VI_PROCESSING_CONCURRENCY: "0" });
const perFileClient = new Client({
  endpoint: perFileServer.url,
  organizationId: perFileServer.creds.organizationId,
  secretKey: perFileServer.creds.secretKey,
});
const second = await perFileClient.datasets.create({ name: "bench, one PUT per file" });
t0 = performance.now();
const cpu1 = { server: await cpuSeconds(perFileServer.pid), client: process.cpuUsage() };
const single = await perFileClient.assets.upload({
  datasetId: second.datasetId,
  paths: src,
  concurrency,
  showProgress: false,
  digestCache: false,
  batchSmallFiles: false,
});
const singleSeconds = (performance.now() - t0) / 1000;
const singleClientCpu = process.cpuUsage(cpu1.client);
const singleCpu = {
  server: (await cpuSeconds(perFileServer.pid)) - cpu1.server,
  client: (singleClientCpu.user + singleClientCpu.system) / 1e6,
};
await perFileClient.close();
await perFileServer.stop();
await rm(perFileDir, { recursive: true, force: true });
const serverRss = await peakRssMb(server.pid);
await client.close();
await server.stop();
await rm(dataDir, { recursive: true, force: true });

if (first.totalSucceeded !== files || again.totalSucceeded !== files || single.totalSucceeded !== files)
  throw new Error(`uploads incomplete: ${first.totalSucceeded}, ${again.totalSucceeded}, ${single.totalSucceeded}`);
const rate = (s) => `${fmt(files / s, 0)} files/s, ${fmt(megabytes / s)} MB/s`;
console.log(`upload-many: ${files} distinct JPEGs, ${fmt(megabytes)} MB, PUT concurrency ${concurrency}`);
console.log(`  backend: ${BACKEND_LABEL}`);
console.log(`  baseline cp -r + sync : ${fmt(cpSeconds, 2)} s  (${rate(cpSeconds)})`);
console.log(
  `  first upload          : ${fmt(firstSeconds, 2)} s  (${rate(firstSeconds)}) = ${fmt((cpSeconds / firstSeconds) * 100)}% of cp's rate`,
);
console.log(
  `                          CPU: server ${fmt(cpu.server, 2)} s, client ${fmt(cpu.client, 2)} s (${fmt(((cpu.server + cpu.client) / firstSeconds / 2) * 100, 0)}% of both cores)`,
);
console.log(
  `  same upload again     : ${fmt(againSeconds, 2)} s  (${fmt(files / againSeconds, 0)} files/s), bytes sent: ${again.bytesSent}`,
);
console.log(
  `  one PUT per file       : ${fmt(singleSeconds, 2)} s  (${rate(singleSeconds)}) = ${fmt((cpSeconds / singleSeconds) * 100)}% of cp's rate (the Python client's path)`,
);
console.log(
  `                          CPU per file: server ${fmt((singleCpu.server / files) * 1000, 2)} ms, client ${fmt((singleCpu.client / files) * 1000, 2)} ms (batched: server ${fmt((cpu.server / files) * 1000, 2)} ms, client ${fmt((cpu.client / files) * 1000, 2)} ms)`,
);
console.log(`  peak RSS: server ${fmt(serverRss, 0)} MB, client ${fmt(process.resourceUsage().maxRSS / 1024, 0)} MB`);
