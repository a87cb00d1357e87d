#!/usr/bin/env node
// One upload of the benchmark set (bench/lib.mjs makeJpegs) through the SDK into a fresh server
// process with background processing off (VI_PROCESSING_CONCURRENCY=0), instrumented for
// docs/performance.md. Prints one JSON line: seconds, files/s, CPU (user/system) of each side.
//
//   node [--cpu-prof --cpu-prof-dir=DIR] bench/profile/upload-run.mjs [files=10000] [concurrency=32]
//
// Environment (all optional):
//   SERVER_NODE_ARGS="..." more node options for the server (e.g. --import=bench/profile/preload-*.mjs)
//   SERVER_CPU_PROF=DIR   the server runs with --cpu-prof, its profile written to DIR on exit
//   SERVER_STRACE=FILE    strace -f -T -y attached to the server during the upload only (per-call times)
//   SERVER_STRACE_C=FILE  strace -c -f attached to the server during the upload only (counts)
//   CLIENT_STRACE_C=FILE  the same for this (the client) process
//   SERVER_PERF_TRACE=FILE perf trace -s attached to the server during the upload only (summary)
//   SERVER_PERF_RECORD=FILE, CLIENT_PERF_RECORD=FILE  perf record (cpu-clock, 999 Hz, all threads,
//                         kernel included) of that side during the upload only
import { spawn } from "node:child_process";
import { readFile, rm } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import { Client } from "@vi/sdk";
import { makeJpegs, startServerProcess, TMP } from "../lib.mjs";

const files = Number(process.argv[2] ?? 10_000);
const concurrency = Number(process.argv[3] ?? 32);
const src = await makeJpegs(join(TMP, `jpegs-${files}`), files, 100_000);

// --cpu-prof is not allowed in NODE_OPTIONS: the server process is started here with it.
const nodeArgs = process.env.SERVER_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.SERVER_CPU_PROF}`] : [];
nodeArgs.push(...(process.env.SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean));
const dataDir = join(TMP, `data-profile-${process.pid}`);
await rm(dataDir, { recursive: true, force: true });
const server = await startServerProcess(dataDir, { VI_PROCESSING_CONCURRENCY: "0" }, nodeArgs);
const client = new Client({
  endpoint: server.url,
  organizationId: server.creds.organizationId,
  secretKey: server.creds.secretKey,
});
const { datasetId } = await client.datasets.create({ name: "profile" });

/** Attaches a tracer to the server; resolves once it is attached, with a function that stops it. */
async function attach(cmd, args) {
  const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const exited = new Promise((r) => child.once("exit", r));
  // strace says "attached" on stderr; perf says nothing: give all a moment.
  const t0 = Date.now();
  while (!/attached/i.test(err) && Date.now() - t0 < 2000) await sleep(50);
  await sleep(300);
  return async () => {
    child.kill("SIGINT");
    await exited;
  };
}

const tracers = [];
const pid = String(server.pid);
const traced = "fsync,fdatasync,rename,renameat2,openat,write,pwrite64,writev,close";
if (process.env.SERVER_STRACE)
  tracers.push(
    await attach("strace", ["-f", "-T", "-y", "-e", `trace=${traced}`, "-o", process.env.SERVER_STRACE, "-p", pid]),
  );
if (process.env.SERVER_STRACE_C)
  tracers.push(await attach("strace", ["-c", "-f", "-o", process.env.SERVER_STRACE_C, "-p", pid]));
if (process.env.CLIENT_STRACE_C)
  tracers.push(await attach("strace", ["-c", "-f", "-o", process.env.CLIENT_STRACE_C, "-p", String(process.pid)]));
if (process.env.SERVER_PERF_TRACE)
  tracers.push(await attach("perf", ["trace", "-s", "-o", process.env.SERVER_PERF_TRACE, "-p", pid]));
if (process.env.SERVER_PERF_RECORD)
  tracers.push(await attach("perf", ["record", "-F", "999", "-g", "-o", process.env.SERVER_PERF_RECORD, "-p", pid]));
if (process.env.CLIENT_PERF_RECORD)
  tracers.push(
    await attach("perf", [
      "record",
      "-F",
      "999",
      "-g",
      "-o",
      process.env.CLIENT_PERF_RECORD,
      "-p",
      String(process.pid),
    ]),
  );

const digestCache = join(TMP, `digests-${process.pid}.json`);
const stat = async (p) => {
  const f = (await readFile(`/proc/${p}/stat`, "utf8")).split(") ")[1].split(" ");
  return { user: Number(f[11]) / 100, system: Number(f[12]) / 100 };
};
const s0 = await stat(server.pid);
const c0 = process.cpuUsage();
const t0 = performance.now();
// A digest cache of its own, fresh: every file is hashed, as in a first upload (bench/upload-many.mjs).
const result = await client.assets.upload({ datasetId, paths: src, concurrency, showProgress: false, digestCache });
const seconds = (performance.now() - t0) / 1000;
const c1 = process.cpuUsage(c0);
const s1 = await stat(server.pid);
for (const stop of tracers) await stop();
await rm(digestCache, { force: true });
await client.close();
await server.stop();
await rm(dataDir, { recursive: true, force: true });
if (result.totalSucceeded !== files) throw new Error(`upload incomplete: ${result.totalSucceeded} of ${files}`);

const ms = (s) => Math.round((s / files) * 1e6) / 1e3;
console.log(
  JSON.stringify({
    files,
    concurrency,
    seconds: Math.round(seconds * 100) / 100,
    filesPerSecond: Math.round(files / seconds),
    serverCpuMsPerFile: { user: ms(s1.user - s0.user), system: ms(s1.system - s0.system) },
    clientCpuMsPerFile: { user: ms(c1.user / 1e6), system: ms(c1.system / 1e6) },
    coresBusy:
      Math.round(((s1.user - s0.user + s1.system - s0.system + (c1.user + c1.system) / 1e6) / seconds) * 100) / 100,
    tracers: tracers.length,
  }),
);
