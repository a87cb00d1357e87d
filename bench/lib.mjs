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
 * a local folder in the data dir), `postgres` (a throwaway PostgreSQL 15 started for the run,
 * test/services/postgres.mjs, a database per server; bytes in the data dir's folder) or `scaleout`
 * (that PostgreSQL, and the bytes in a bucket per server of the S3 test server, s3rver, started
 * for the run: its figures are s3rver's, a JavaScript store on the same 2 cores, not a real S3's).
 */
export const BACKEND = process.env.VI_BENCH_BACKEND || "embedded";
if (!["embedded", "postgres", "scaleout"].includes(BACKEND))
  throw new Error(`VI_BENCH_BACKEND: embedded, postgres or scaleout, not ${BACKEND}`);
export const BACKEND_LABEL = {
  embedded: "embedded (SQLite + local folder)",
  postgres: "PostgreSQL 15 (metadata) + local folder (bytes)",
  scaleout: "PostgreSQL 15 (metadata) + S3 test server s3rver (bytes, presigned PUTs straight to it)",
}[BACKEND];

let s3;
/** The run's S3 test server (scaleout), started on first use and stopped when the process exits. */
async function benchS3() {
  if (!s3) {
    const { startS3TestServer } = await import("../test/services/s3.mjs");
    s3 = await startS3TestServer();
    // The child stops by itself when this process's end closes its stdin.
  }
  return s3;
}

/** A fresh bucket on the run's S3 test server; answers the server's environment for it. */
async function bucketEnv() {
  const store = await benchS3();
  const { S3Client, CreateBucketCommand } = await import("@aws-sdk/client-s3");
  const credentials = { accessKeyId: store.accessKeyId, secretAccessKey: store.secretAccessKey };
  const client = new S3Client({ endpoint: store.endpoint, region: "us-east-1", forcePathStyle: true, credentials });
  const bucket = `vi-bench-${process.pid}-${++created}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  client.destroy();
  return {
    VI_S3_BUCKET: bucket,
    VI_S3_ENDPOINT: store.endpoint,
    VI_S3_FORCE_PATH_STYLE: "true",
    AWS_ACCESS_KEY_ID: store.accessKeyId,
    AWS_SECRET_ACCESS_KEY: store.secretAccessKey,
    AWS_REGION: "us-east-1",
  };
}

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

/** Databases (and buckets) by data dir: a server restarted on the same data dir finds its metadata and bytes again. */
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
  let stores = databases.get(dataDir);
  if (!stores || !existsSync(join(dataDir, "credentials.json"))) {
    const database = `bench_${process.pid}_${++created}`;
    await adminQuery(`create database ${database}`);
    stores = {
      VI_DATABASE_URL: pgServer.url.replace(/\/postgres$/, `/${database}`),
      ...(BACKEND === "scaleout" ? await bucketEnv() : {}),
    };
    databases.set(dataDir, stores);
  }
  return startEmbedded(dataDir, { ...stores, ...env }, nodeArgs);
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
