#!/usr/bin/env node
// Summarises `strace -f -T -y` output of the server (bench/profile/upload-run.mjs SERVER_STRACE=...)
// by step of the upload path: count per file, time inside the syscall (strace's <seconds>) per
// call and per file, and which thread made it (the main thread, inferred as the one that writes
// SQLite's WAL pages, or one of libuv's pool threads). ptrace stops every traced call, so the
// times are inflated: read them for ratios between steps, and the counts as exact.
//
//   node bench/profile/summarize-strace.mjs FILE.strace [files=10000]
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";

const [path, filesArg] = process.argv.slice(2);
if (!path) throw new Error("usage: summarize-strace.mjs FILE.strace [files]");
const files = Number(filesArg ?? 10_000);

function step(call, args) {
  const first = /^(\d+)?<([^>]*)>/.exec(args)?.[2] ?? "";
  const firstPath = /^[^"]*"([^"]*)"/.exec(args)?.[1] ?? first;
  if (call === "openat") {
    if (/\/staging\//.test(firstPath)) return "create staged file (openat O_CREAT|O_EXCL)";
    if (/\/blobs\/[0-9a-f]{2}$/.test(firstPath)) return "open shard folder (once per shard)";
    return "openat (other)";
  }
  if (call === "rename" || call === "renameat2" || call === "renameat")
    return /staging/.test(args) ? "rename staged file into its shard" : `${call} (other)`;
  if (/\/staging\//.test(first)) {
    if (call === "fsync" || call === "fdatasync") return "fsync staged file";
    if (call === "close") return "close staged file";
    return "write staged bytes (write/writev)";
  }
  if (/\/blobs\/[0-9a-f]{2}$/.test(first)) return `${call} shard folder`;
  if (/-wal$/.test(first))
    return call === "fdatasync" || call === "fsync" ? "WAL fdatasync" : `WAL ${call} (SQLite pages)`;
  if (/etilqs_/.test(first)) return `SQLite statement journal ${call} (temp file in /var/tmp)`;
  if (/metadata\.sqlite$/.test(first)) return `database file ${call} (checkpoint)`;
  if (/^socket:/.test(first)) return `socket ${call}`;
  if (/eventfd/.test(first)) return "eventfd write (wake the event loop)";
  if (/\/blobs\//.test(first)) return `${call} blob`;
  return `${call} (other)`;
}

const pending = new Map();
const rows = new Map();
const threads = new Map();
const lines = createInterface({ input: createReadStream(path) });
const calls = [];
for await (const line of lines) {
  let m = /^(\d+) +(\w+)\((.*) <unfinished \.\.\.>$/.exec(line);
  if (m) {
    pending.set(m[1], { call: m[2], args: m[3] });
    continue;
  }
  let tid;
  let call;
  let args;
  let seconds;
  m = /^(\d+) +<\.\.\. (\w+) resumed>(.*) <([\d.]+)>$/.exec(line);
  if (m) {
    tid = m[1];
    call = m[2];
    args = `${pending.get(tid)?.args ?? ""}${m[3]}`;
    seconds = Number(m[4]);
    pending.delete(tid);
  } else {
    m = /^(\d+) +(\w+)\((.*) <([\d.]+)>$/.exec(line);
    if (!m) continue;
    [, tid, call, args] = m;
    seconds = Number(m[4]);
  }
  calls.push({ tid, call, args, seconds });
}

// The main thread is the one that writes SQLite's WAL pages (better-sqlite3 runs on it).
const walWriters = new Map();
for (const c of calls)
  if (c.call === "pwrite64" && /-wal>/.test(c.args)) walWriters.set(c.tid, (walWriters.get(c.tid) ?? 0) + 1);
const main = [...walWriters].sort((a, b) => b[1] - a[1])[0]?.[0];

for (const c of calls) {
  const key = step(c.call, c.args);
  const row = rows.get(key) ?? { count: 0, seconds: 0, main: 0, max: 0 };
  row.count++;
  row.seconds += c.seconds;
  row.max = Math.max(row.max, c.seconds);
  if (c.tid === main) row.main++;
  rows.set(key, row);
  threads.set(c.tid, (threads.get(c.tid) ?? 0) + c.seconds);
}

console.log(
  `${path}: ${calls.length} traced calls over ${files} files, main thread ${main}, ${threads.size} threads\n`,
);
console.log("| step | calls/file | ms/call (mean) | ms/call (max) | ms/file | on main thread |");
console.log("|---|--:|--:|--:|--:|--:|");
for (const [key, r] of [...rows].sort((a, b) => b[1].seconds - a[1].seconds)) {
  const onMain = r.main === r.count ? "all" : r.main === 0 ? "none (pool)" : `${Math.round((r.main / r.count) * 100)}%`;
  console.log(
    `| ${key} | ${(r.count / files).toFixed(2)} | ${((r.seconds / r.count) * 1e3).toFixed(3)} | ${(r.max * 1e3).toFixed(1)} | ${((r.seconds / files) * 1e3).toFixed(3)} | ${onMain} |`,
  );
}
