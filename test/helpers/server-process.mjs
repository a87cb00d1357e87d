// The server in a child process, as an operator runs it: its memory is its own and it can be
// killed outright. Shared by the crash test and the benchmarks.
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { serverEnv } from "./test-database.mjs";
import { bucketForDataDir, s3Env, scaleout } from "./s3-bucket.mjs";

const MAIN = join(import.meta.dirname, "..", "..", "packages", "server", "dist", "main.js");

/**
 * Starts the server over `dataDir` on an ephemeral port; resolves once it listens. `nodeArgs` are
 * options for node itself (e.g. `--cpu-prof`, which NODE_OPTIONS may not carry). In the
 * scale-out configuration the folder's PostgreSQL database and bucket go with it (the same ones
 * again when the server is restarted on the folder).
 */
export async function startServerProcess(dataDir, env = {}, nodeArgs = []) {
  const database = await serverEnv(dataDir);
  // Scale-out runs keep the bytes in the S3 test server, in a bucket tied to the data folder.
  const s3 = scaleout() && !env.VI_S3_BUCKET ? s3Env(await bucketForDataDir(dataDir)) : {};
  const child = spawn(process.execPath, [...nodeArgs, MAIN], {
    env: { ...process.env, VI_DATA_DIR: dataDir, PORT: "0", VI_LOG_LEVEL: "warn", ...database, ...s3, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const output = [];
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    lines.on("line", (l) => {
      output.push(l);
      const m = /listening on (http\S+)/.exec(l);
      if (m) resolve(m[1]);
    });
    child.once("exit", (c) => reject(new Error(`server exited with ${c}: ${output.join("\n")}`)));
  });
  const creds = JSON.parse(await readFile(join(dataDir, "credentials.json"), "utf8"));
  const exited = new Promise((r) => child.once("exit", r));
  return {
    url,
    creds,
    pid: child.pid,
    output,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
    async kill() {
      child.kill("SIGKILL");
      await exited;
    },
  };
}

/** Peak resident memory (VmHWM) of a process, in MB, from /proc. */
export async function peakRssMb(pid) {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : Number.NaN;
}
