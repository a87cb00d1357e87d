#!/usr/bin/env node
// Benchmark: processing (full decode + thumbnail) of the upload benchmark's 10,000 distinct
// ~100 KB JPEGs (640x480), and what it costs the upload that runs beside it. In one run:
//
//   1. the upload with processing off (VI_PROCESSING_CONCURRENCY=0): the baseline rate;
//   2. the same upload into a fresh server with processing on (the default): the upload's rate
//      while decoders run beside it, then the time until the backlog has drained;
//   3. processing alone: the jobs of run 1's server processed after a restart with processing
//      on, nothing else running: assets/s and CPU per asset (decoder processes and server).
//
// Runs 1 and 2 alternate `rounds` times (default 2) so that a noisy neighbour hits both; the
// medians are compared.
//
//   npm run build && node bench/processing.mjs [files=10000] [rounds=2]
import { rm } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import { Client } from "@vi/sdk";
import { BACKEND_LABEL, childCpuSeconds, cpuSeconds, fmt, makeJpegs, startServerProcess, TMP } from "./lib.mjs";

const files = Number(process.argv[2] ?? 10_000);
const rounds = Number(process.argv[3] ?? 2);
const src = await makeJpegs(join(TMP, `jpegs-${files}`), files, 100_000);

async function open(dataDir, processing) {
  const server = await startServerProcess(dataDir, { VI_PROCESSING_CONCURRENCY: String(processing) });
  const client = new Client({
    endpoint: server.url,
    organizationId: server.creds.organizationId,
    secretKey: server.creds.secretKey,
  });
  return { server, client };
}

const stillProcessing = (client, datasetId) =>
  client.assets.count({ datasetId, filter: { uploadStatus: "processing" } });

/** One upload of the folder into a fresh server; answers its seconds (and the server, still running). */
async function upload(name, processing) {
  const dataDir = join(TMP, `data-processing-${name}`);
  await rm(dataDir, { recursive: true, force: true });
  const run = await open(dataDir, processing);
  const { datasetId } = await run.client.datasets.create({ name: "bench" });
  const t0 = performance.now();
  const result = await run.client.assets.upload({
    datasetId,
    paths: src,
    concurrency: 32,
    showProgress: false,
    digestCache: false,
  });
  const seconds = (performance.now() - t0) / 1000;
  if (result.totalSucceeded !== files) throw new Error(`upload incomplete: ${result.totalSucceeded} of ${files}`);
  return { ...run, dataDir, datasetId, seconds, t0 };
}

const off = [];
const on = [];
const drains = [];
let kept;
for (let round = 0; round < rounds; round++) {
  const a = await upload(`off-${round}`, 0);
  off.push(a.seconds);
  if (round === 0) kept = a;
  else {
    await a.client.close();
    await a.server.stop();
    await rm(a.dataDir, { recursive: true, force: true });
  }

  const b = await upload(`on-${round}`, 1);
  on.push(b.seconds);
  const left = await stillProcessing(b.client, b.datasetId);
  while ((await stillProcessing(b.client, b.datasetId)) > 0) await sleep(250);
  drains.push({ afterUpload: (performance.now() - b.t0) / 1000 - b.seconds, leftAtEnd: left });
  await b.client.close();
  await b.server.stop();
  await rm(b.dataDir, { recursive: true, force: true });
}

// Processing alone: run 1's server restarted with processing on, its whole backlog due at once.
await kept.client.close();
await kept.server.stop();
const alone = await open(kept.dataDir, 1);
const cpu0 = await cpuSeconds(alone.server.pid);
const t0 = performance.now();
while ((await stillProcessing(alone.client, kept.datasetId)) > 0) await sleep(100);
const processSeconds = (performance.now() - t0) / 1000;
const serverCpu = (await cpuSeconds(alone.server.pid)) - cpu0;
// Decoder processes stop after 10 idle seconds; their CPU then counts as the server's children's.
await sleep(11_000);
const decoderCpu = await childCpuSeconds(alone.server.pid);
const errored = await alone.client.assets.count({ datasetId: kept.datasetId, filter: { status: "error" } });
await alone.client.close();
await alone.server.stop();
await rm(kept.dataDir, { recursive: true, force: true });

const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const offS = median(off);
const onS = median(on);
console.log(
  `processing: ${files} distinct 640x480 JPEGs (~100 KB), one decoder process at nice ${process.env.VI_PROCESSING_NICE ?? 19}, ${rounds} round(s)`,
);
console.log(`  backend: ${BACKEND_LABEL}`);
console.log(
  `  upload, processing off : ${off.map((s) => fmt(s, 2)).join(" / ")} s  (median ${fmt(files / offS, 0)} files/s)`,
);
console.log(
  `  upload, processing on  : ${on.map((s) => fmt(s, 2)).join(" / ")} s  (median ${fmt(files / onS, 0)} files/s) = ${fmt((offS / onS) * 100)}% of the rate without processing`,
);
for (const d of drains)
  console.log(
    `    backlog at the upload's end: ${d.leftAtEnd} assets, drained ${fmt(d.afterUpload, 1)} s after the upload finished`,
  );
console.log(
  `  processing alone       : ${fmt(processSeconds, 2)} s  (${fmt(files / processSeconds, 0)} assets/s), ${errored} in error`,
);
console.log(
  `    CPU per asset: decoder ${fmt((decoderCpu / files) * 1000, 2)} ms, server ${fmt((serverCpu / files) * 1000, 2)} ms`,
);
