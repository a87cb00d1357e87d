// Shared helpers of the benchmarks: fixtures, a server in a child process (on the backend
// VI_BENCH_BACKEND names), timing, RSS.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { uniqueJpeg } from "../test/helpers/jpeg.mjs";
import { startServerProcess as startEmbedded } from "../test/helpers/server-process.mjs";
export { peakRssMb } from "../test/helpers/server-process.mjs";

export const ROOT = join(import.meta.dirname, "..");
export const TMP = join(ROOT, ".bench-tmp");

/**
 * Where the benchmarked servers keep their metadata and bytes: `embedded` (the default: SQLite and
 * a local folder in the data dir) or `postgres` (a throwaway PostgreSQL 15 started for the run,
 * test/services/postgres.mjs, a database per server; bytes still in the data dir's folder until
 * the S3 store is added the same way).
 */
export const BACKEND = process.env.VI_BENCH_BACKEND || "embedded";
if (!["embedded", "postgres"].includes(BACKEND))
  throw new Error(`VI_BENCH_BACKEND: embedded or postgres, not ${BACKEND}`);
export const BACKEND_LABEL =
  BACKEND === "postgres" ? "PostgreSQL 15 (metadata) + local folder (bytes)" : "embedded (SQLite + local folder)";

let cluster;
/** The run's PostgreSQL, started on first use and stopped when the process exits. */
export async function benchPostgres() {
  if (!cluster) {
    const { startPostgres } = await import("../test/services/postgres.mjs");
    cluster = await startPostgres();
    // stop() is synchronous inside (pg_ctl stop), so it completes in an exit handler too.
    process.once("exit", () => void cluster.stop());
    for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => process.exit(130));
  }
  return cluster;
}

/** Runs one statement on the administrator's database (creating and dropping databases). */
export async function adminQuery(text) {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: (await benchPostgres()).url });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

/** Databases by data dir: a server restarted on the same data dir finds its metadata again. */
const databases = new Map();
let created = 0;

/**
 * Starts the server over `dataDir` on an ephemeral port in a process of its own, on BACKEND; the
 * rest as test/helpers/server-process.mjs. A fresh data dir (no credentials.json yet) gets a
 * fresh database.
 */
export async function startServerProcess(dataDir, env = {}, nodeArgs = []) {
  if (BACKEND === "embedded") return startEmbedded(dataDir, env, nodeArgs);
  const pgServer = await benchPostgres();
  let database = databases.get(dataDir);
  if (!database || !existsSync(join(dataDir, "credentials.json"))) {
    database = `bench_${process.pid}_${++created}`;
    await adminQuery(`create database ${database}`);
    databases.set(dataDir, database);
  }
  const url = pgServer.url.replace(/\/postgres$/, `/${database}`);
  return startEmbedded(dataDir, { VI_DATABASE_URL: url, ...env }, nodeArgs);
}

/** `count` distinct JPEGs of about `size` bytes in `dir` (kept between runs). */
export async function makeJpegs(dir, count, size = 100_000) {
  await mkdir(dir, { recursive: true });
  const existing = await readdir(dir).catch(() => []);
  if (existing.length === count) return dir;
  for (let i = 0; i < count; i++) await writeFile(join(dir, `img-${String(i).padStart(6, "0")}.jpg`), uniqueJpeg(size));
  return dir;
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
export async function cpuSeconds(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** CPU seconds of a process's waited-for children so far (cutime + cstime), from /proc. */
export async function childCpuSeconds(pid = "self") {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

export function timeCommand(cmd, args) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: "inherit" });
    child.on("exit", (code) =>
      code === 0 ? resolve(Number(process.hrtime.bigint() - t0) / 1e9) : reject(new Error(`${cmd} exited ${code}`)),
    );
  });
}

export const fmt = (n, digits = 1) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
