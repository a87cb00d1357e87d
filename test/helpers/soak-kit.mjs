/* global fetch, URL, AbortSignal, setTimeout, clearTimeout */
// Shared pieces of the soak runs (crash loop, load) and the fuzz tests: deterministic distinct
// JPEGs, digests as the wire wants them, a timed HTTP caller that records latency per request
// kind, and /proc readers for the server's memory and CPU. Loopback only.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { crc32c } from "@node-rs/crc32";

const BASE = readFileSync(
  join(import.meta.dirname, "..", "..", "test-fixtures", "images", "valid", "photo-baseline.jpg"),
);

/**
 * A valid JPEG that depends only on `seed`: the base photo with a comment segment of bytes
 * derived from the seed after SOI (32 to about 4,100 bytes, so sizes differ too). Distinct seeds
 * give distinct bytes; the same seed gives the same bytes, so nothing needs to be kept in memory.
 */
export function seededJpeg(seed) {
  const h = createHash("sha256").update(String(seed)).digest();
  const n = 32 + ((h[0] | (h[1] << 8)) % 4064);
  const seg = Buffer.alloc(4 + n);
  seg[0] = 0xff;
  seg[1] = 0xfe; // COM
  seg.writeUInt16BE(n + 2, 2);
  for (let i = 0; i < n; i += 32) h.copy(seg, 4 + i, 0, Math.min(32, n - i));
  return Buffer.concat([BASE.subarray(0, 2), seg, BASE.subarray(2)]);
}

/** Size, CRC-32C (big-endian, read as signed 32-bit, as the manifest wants it) and SHA-256 hex. */
export function digestOf(bytes) {
  return {
    size: bytes.length,
    crc32c: crc32c(bytes) | 0,
    sha256: createHash("sha256").update(bytes).digest("hex"),
  };
}

export const sha256Hex = (bytes) => createHash("sha256").update(bytes).digest("hex");

/** Waits `ms`, or less when `signal` aborts (it then resolves too: callers look at their own state). */
export function sleep(ms, signal) {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** A deterministic PRNG (mulberry32), so a run can be told by its seed. */
export function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (items) => items[Math.floor(next() * items.length)],
  };
}

/** The p-th percentile (0..100) of a list of numbers, nearest rank. */
export function percentile(values, p) {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** Latencies and statuses per request kind. */
export class Recorder {
  constructor() {
    this.kinds = new Map();
  }

  #entry(kind) {
    let e = this.kinds.get(kind);
    if (!e) {
      e = { ms: [], statuses: new Map(), networkErrors: 0 };
      this.kinds.set(kind, e);
    }
    return e;
  }

  record(kind, ms, status) {
    const e = this.#entry(kind);
    e.ms.push(ms);
    e.statuses.set(status, (e.statuses.get(status) ?? 0) + 1);
  }

  networkError(kind) {
    this.#entry(kind).networkErrors++;
  }

  /** Responses with a status at or above `min` (500: server errors), by kind and status. */
  countAtLeast(min) {
    let n = 0;
    for (const e of this.kinds.values()) for (const [s, c] of e.statuses) if (s >= min) n += c;
    return n;
  }

  /** `{kind: {count, p50, p99, max, statuses: {status: n}, networkErrors}}`, milliseconds. */
  summary() {
    const out = {};
    for (const [kind, e] of [...this.kinds].sort(([a], [b]) => a.localeCompare(b))) {
      out[kind] = {
        count: e.ms.length,
        p50: percentile(e.ms, 50),
        p99: percentile(e.ms, 99),
        max: e.ms.reduce((m, v) => Math.max(m, v), 0),
        statuses: Object.fromEntries([...e.statuses].sort(([a], [b]) => a - b)),
        networkErrors: e.networkErrors,
      };
    }
    return out;
  }
}

/** A failed request that never got an answer (connection refused or reset, timeout). */
export class NetworkError extends Error {
  constructor(kind, cause) {
    super(`${kind}: no answer (${cause?.cause?.code ?? cause?.code ?? cause?.name ?? cause})`, { cause });
    this.name = "NetworkError";
  }
}

/**
 * A caller of one server: API requests carry the key and organization, signed URLs carry
 * nothing. Every answer is read in full and recorded under `kind`; no request outlives
 * `timeoutMs`. Answers `{status, headers, body (Buffer), ms, json()}`; throws NetworkError.
 */
export function httpCaller(baseUrl, creds, recorder) {
  const auth = creds ? { authorization: `Bearer ${creds.secretKey}`, "organization-id": creds.organizationId } : {};
  return async function call(kind, method, pathOrUrl, options = {}) {
    const url = new URL(pathOrUrl, baseUrl);
    if (url.hostname !== "127.0.0.1" && url.hostname !== "localhost") throw new Error(`not loopback: ${url}`);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers = { ...(options.signed ? {} : auth), ...(options.headers ?? {}) };
    let body = options.body;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers["content-type"] = "application/json";
    }
    const t0 = performance.now();
    let res;
    let bytes;
    try {
      res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(options.timeoutMs ?? 120_000) });
      bytes = Buffer.from(await res.arrayBuffer());
    } catch (err) {
      recorder?.networkError(kind);
      throw new NetworkError(kind, err);
    }
    const ms = performance.now() - t0;
    recorder?.record(kind, ms, res.status);
    return {
      status: res.status,
      headers: res.headers,
      body: bytes,
      ms,
      json: () => JSON.parse(bytes.toString("utf8")),
    };
  };
}

/** Resident memory now (VmRSS) and at its peak (VmHWM) of a process, in MB, from /proc. */
export async function memoryMb(pid) {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = (name) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}

/** CPU seconds (user + system) a process has used so far, from /proc (USER_HZ = 100). */
export async function cpuSeconds(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds the whole machine has been busy (all cores, everything but idle and iowait), from /proc/stat. */
export async function machineBusySeconds() {
  const line = (await readFile("/proc/stat", "utf8")).split("\n")[0];
  const [user, nice, system, , , irq, softirq, steal] = line.split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + steal) / 100;
}

/** Runs `fn` over `items` with at most `limit` in flight; answers the results in order. */
export async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export const fmt = (n, digits = 1) =>
  Number.isFinite(n)
    ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : String(n);

/** A table of latencies per kind, for people. */
export function latencyTable(summary) {
  const rows = Object.entries(summary).map(([kind, s]) => {
    const statuses = Object.entries(s.statuses)
      .map(([k, v]) => `${k}:${v}`)
      .join(" ");
    const net = s.networkErrors ? ` net-errors:${s.networkErrors}` : "";
    return `    ${kind.padEnd(22)} n=${String(s.count).padStart(7)}  p50 ${fmt(s.p50, 1).padStart(8)} ms  p99 ${fmt(s.p99, 1).padStart(8)} ms  max ${fmt(s.max, 0).padStart(6)} ms  [${statuses}${net}]`;
  });
  return rows.join("\n");
}
