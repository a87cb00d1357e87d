#!/usr/bin/env node
// Turns a V8 .cpuprofile (node --cpu-prof) into two tables of self time: by area and by
// function, in total and per file. Only the main JS thread is sampled: libuv's thread pool
// (fsync, file writes, opens) and the kernel's work for it appear in the process's CPU time
// (/proc), not here.
//
//   node bench/profile/summarize-cpuprofile.mjs FILE.cpuprofile [files=10000] [server|client] [top=25]
import { readFile } from "node:fs/promises";

const [path, filesArg, sideArg, topArg] = process.argv.slice(2);
if (!path) throw new Error("usage: summarize-cpuprofile.mjs FILE.cpuprofile [files] [server|client] [top]");
const files = Number(filesArg ?? 10_000);
const side = sideArg ?? (/client/.test(path) ? "client" : "server");
const top = Number(topArg ?? 25);
const profile = JSON.parse(await readFile(path, "utf8"));

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Self time per node: each sample owns the interval until the next one (as DevTools counts).
const selfUs = new Map();
const { samples, timeDeltas } = profile;
for (let i = 0; i < samples.length; i++) {
  const dt = timeDeltas[i + 1] ?? 0;
  selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + dt);
}

/** The stack of a node, leaf first. */
function stack(id) {
  const frames = [];
  for (let n = id; n !== undefined; n = parent.get(n)) frames.push(byId.get(n).callFrame);
  return frames;
}

const short = (url) =>
  url
    .replace(/^file:\/\//, "")
    .replace(/^.*\/node_modules\//, "")
    .replace(/^.*\/packages\//, "");
const has = (frames, re) => frames.some((f) => re.test(f.url));
const hasFn = (frames, url, fn) => frames.some((f) => url.test(f.url) && fn.test(f.functionName));
const HTTP_SERVER = /node:_http|node:net|node:internal\/http|fastify|find-my-way|avvio|light-my-request|pino/;
const HTTP_CLIENT = /undici|node:net|node:internal\/http/;
const FS = /node:internal\/fs|node:fs/;
/** A native leaf under a socket write: the send syscall (loopback TCP) on the main thread. */
const socketWrite = (frames) => !frames[0].url && has(frames.slice(0, 4), /stream_base_commons|node:net/);

/** Areas of the server: the first rule that matches the sample's stack names it. */
function serverArea(frames) {
  const leaf = frames[0];
  if (leaf.functionName === "(garbage collector)") return "GC";
  if (leaf.functionName === "(idle)") return "idle";
  if (leaf.functionName === "(program)") return "(program: V8/native, no JS frame)";
  if (socketWrite(frames)) return "HTTP: socket writes (responses)";
  if (!leaf.url && /^(stringify|parse)$/.test(leaf.functionName)) return "JSON";
  if (has(frames.slice(0, 2), /fast-json-stringify/) || hasFn(frames.slice(0, 2), /fastify/, /serializ/i))
    return "JSON";
  if (has(frames, /url-signer/)) return "signature check";
  if (has(frames, /\/media\//)) return "probe";
  if (has(frames, /wal-sync/)) return "WAL fdatasync (dispatch)";
  if (hasFn(frames, /store\/blob\/local/, /^publish$/)) return "publish: stat + rename + dir fsync (dispatch)";
  if (hasFn(frames, /store\/blob\/local/, /^stage$/) || has(frames, /crc32/)) {
    if (has(frames, /node:internal\/crypto|crc32/)) return "staging: SHA-256 + CRC-32C";
    if (has(frames, FS)) return "staging: open/write/fsync/close (dispatch)";
    return "staging: reading the body";
  }
  if (has(frames, /kysely|better-sqlite3|\/store\/metadata\/|group-committer/)) return "SQLite + Kysely";
  if (has(frames, /\/server\/dist\//)) return "other Vi server code";
  if (has(frames, HTTP_SERVER)) return "HTTP parse/route/respond";
  if (has(frames, FS)) return "fs (other)";
  return "node internals (streams, promises, timers)";
}

function clientArea(frames) {
  const leaf = frames[0];
  if (leaf.functionName === "(garbage collector)") return "GC";
  if (leaf.functionName === "(idle)") return "idle";
  if (leaf.functionName === "(program)") return "(program: V8/native, no JS frame)";
  if (socketWrite(frames)) return "HTTP: socket writes (requests)";
  if (!leaf.url && /^(stringify|parse)$/.test(leaf.functionName)) return "JSON";
  if (has(frames, /sdk\/dist\/lib\/(checksum|digest-cache)/)) return "hashing pass (read + SHA-256 + CRC-32C)";
  if (has(frames, /sdk\/dist\/lib\/walk/)) return "walking the folder";
  if (has(frames, /sdk\/dist\/lib\/progress/)) return "progress";
  if (has(frames, /node:internal\/fs\/streams/) || hasFn(frames, /upload-manager/, /^open$/))
    return "reading files to send";
  if (has(frames, HTTP_CLIENT)) return "HTTP client (undici)";
  if (has(frames, FS)) return "fs (other)";
  if (has(frames, /sdk\/dist\//)) return "other SDK code";
  if (has(frames, /bench\//)) return "benchmark script";
  return "node internals (streams, promises, timers)";
}

const classify = side === "client" ? clientArea : serverArea;
const areas = new Map();
const functions = new Map();
let total = 0;
for (const [id, us] of selfUs) {
  total += us;
  const frames = stack(id);
  const area = classify(frames);
  areas.set(area, (areas.get(area) ?? 0) + us);
  const f = frames[0];
  const key = `${f.functionName || "(anonymous)"}  ${f.url ? `${short(f.url)}:${f.lineNumber + 1}` : "(native)"}`;
  functions.set(key, (functions.get(key) ?? 0) + us);
}

const idle = areas.get("idle") ?? 0;
const busy = total - idle;
const row = (name, us, width) =>
  `| ${name.padEnd(width)} | ${(us / 1e6).toFixed(2).padStart(7)} | ${((us / files / 1e3) * 1000).toFixed(0).padStart(6)} | ${(name === "idle" ? "" : ((us / busy) * 100).toFixed(1)).padStart(5)} |`;
const table = (title, map, limit) => {
  const entries = [...map].sort((a, b) => b[1] - a[1]).slice(0, limit);
  const width = Math.max(title.length, ...entries.map(([k]) => k.length));
  console.log(`| ${title.padEnd(width)} |   self s | µs/file | % busy |`);
  console.log(`|${"-".repeat(width + 2)}|--------:|-------:|------:|`);
  for (const [k, us] of entries) console.log(row(k, us, width));
};

console.log(
  `${path}: ${side}, ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s busy (main thread), ${((busy / files) * 1e-3).toFixed(3)} ms busy per file over ${files} files\n`,
);
table("area", areas, Infinity);
console.log();
table("function (self time)", functions, top);
