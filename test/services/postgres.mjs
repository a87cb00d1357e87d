// A throwaway PostgreSQL 15 for the scale-out tests, from Debian's packages: a cluster in a
// temporary folder, listening on loopback only, on a free port, stopped and removed at the end.
// initdb refuses to run as root, so the cluster belongs to the `postgres` user when we are root.
import { execFileSync } from "node:child_process";
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BIN = process.env.VI_PG_BIN ?? "/usr/lib/postgresql/15/bin";

/** A port nobody listens on now (the kernel's choice). */
async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Runs a PostgreSQL binary, as `postgres` when this process is root. */
function run(binary, args) {
  const asRoot = process.getuid?.() === 0;
  const command = asRoot ? "runuser" : join(BIN, binary);
  const argv = asRoot ? ["-u", "postgres", "--", join(BIN, binary), ...args] : args;
  return execFileSync(command, argv, { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
}

/**
 * Starts the cluster; resolves to `{ url, stop }`, where `url` is an administrator's URL (the
 * `postgres` database), from which tests create and drop a database per server.
 */
export async function startPostgres() {
  const dir = mkdtempSync(join(tmpdir(), "vi-pg-"));
  const data = join(dir, "data");
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(dir, uid, gid);
  }
  const port = await freePort();
  // Trust on loopback only: the cluster lives for one test run and listens nowhere else.
  run("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]);
  const options = [
    "-c listen_addresses=127.0.0.1",
    `-c port=${port}`,
    `-c unix_socket_directories=${dir}`,
    // Durable commits, as in production: the tests must not pass on a weaker database.
    "-c fsync=on",
    "-c synchronous_commit=on",
    "-c max_connections=400",
  ].join(" ");
  run("pg_ctl", ["-D", data, "-l", join(dir, "log"), "-o", options, "-w", "-t", "60", "start"]);
  let stopped = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        run("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
