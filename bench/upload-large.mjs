#!/usr/bin/env node
// Benchmark: one large image (default 2 GiB) uploaded through the SDK, then downloaded (its
// SHA-256 verified before it is renamed into place), with the peak RSS of the server and of the
// client after each, against `cp` (+ sync) of the same file onto the same disk. Processing is
// off (VI_PROCESSING_CONCURRENCY=0): only the transfer is measured.
//
//   node bench/upload-large.mjs [gibibytes=2]
import { rm, stat } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { Client } from "@vi/sdk";
import { writeLargeJpeg } from "../test/helpers/jpeg.mjs";
import { BACKEND_LABEL, fmt, peakRssMb, startServerProcess, timeCommand, TMP } from "./lib.mjs";

const gib = Number(process.argv[2] ?? 2);
const size = Math.round(gib * 1024 ** 3);
const file = join(TMP, `large-${gib}gib.jpg`);

async function makeLargeJpeg() {
  if ((await stat(file).catch(() => undefined))?.size === size) return;
  // Random filler (0xFF mapped away), so that nothing on the way can compress it.
  await writeLargeJpeg(
    file,
    size,
    randomBytes(1 << 20).map((b) => (b === 0xff ? 0x7f : b)),
  );
}

await makeLargeJpeg();
const megabytes = size / 1e6;
const copy = join(TMP, "large-copy.jpg");
await rm(copy, { force: true });
await timeCommand("sync", []);
const cpSeconds = await timeCommand("sh", ["-c", `cp '${file}' '${copy}' && sync`]);
await rm(copy, { force: true });

const dataDir = join(TMP, "data-upload-large");
await rm(dataDir, { recursive: true, force: true });
const server = await startServerProcess(dataDir, { VI_PROCESSING_CONCURRENCY: "0" });
const client = new Client({
  endpoint: server.url,
  organizationId: server.creds.organizationId,
  secretKey: server.creds.secretKey,
});
const { datasetId } = await client.datasets.create({ name: "bench-large" });
const t0 = performance.now();
const result = await client.assets.upload({ datasetId, paths: file, showProgress: false });
const seconds = (performance.now() - t0) / 1000;
const [asset] = (await client.assets.list({ datasetId })).items;
const serverRss = await peakRssMb(server.pid);
const clientRss = process.resourceUsage().maxRSS / 1024;
const saveDir = join(TMP, "large-download");
await rm(saveDir, { recursive: true, force: true });
await timeCommand("sync", []);
const t1 = performance.now();
const down = await client.assets.download({ datasetId, saveDir, showProgress: false, digestCache: false });
await timeCommand("sync", []);
const downSeconds = (performance.now() - t1) / 1000;
const serverRssDown = await peakRssMb(server.pid);
await client.close();
await server.stop();
await rm(dataDir, { recursive: true, force: true });
await rm(saveDir, { recursive: true, force: true });
if (down.downloaded !== 1 || down.failed.length > 0) throw new Error(`download failed: ${JSON.stringify(down.failed)}`);

if (result.totalSucceeded !== 1 || asset?.metadata.fileSize !== size)
  throw new Error(`upload failed: ${result.summary()}`);
console.log(`upload-large: one ${fmt(gib, 2)} GiB JPEG (${fmt(megabytes, 0)} MB)`);
console.log(`  backend: ${BACKEND_LABEL}`);
console.log(`  baseline cp + sync : ${fmt(cpSeconds, 2)} s  (${fmt(megabytes / cpSeconds, 0)} MB/s)`);
console.log(
  `  upload (hash + PUT): ${fmt(seconds, 2)} s  (${fmt(megabytes / seconds, 0)} MB/s) = ${fmt((cpSeconds / seconds) * 100)}% of cp's rate`,
);
console.log(`  peak RSS: server ${fmt(serverRss, 0)} MB, client ${fmt(clientRss, 0)} MB`);
console.log(
  `  download (verified, + sync): ${fmt(downSeconds, 2)} s  (${fmt(megabytes / downSeconds, 0)} MB/s) = ${fmt((cpSeconds / downSeconds) * 100)}% of cp's rate`,
);
console.log(
  `  peak RSS over both: server ${fmt(serverRssDown, 0)} MB, client ${fmt(process.resourceUsage().maxRSS / 1024, 0)} MB`,
);
