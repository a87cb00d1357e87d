// Shared helpers of the benchmarks: fixtures, a server in a child process, timing, RSS.
import { spawn } from "node:child_process";
import { mkdir, readFile, writeFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { uniqueJpeg } from "../test/helpers/jpeg.mjs";
export { peakRssMb, startServerProcess } from "../test/helpers/server-process.mjs";

export const ROOT = join(import.meta.dirname, "..");
export const TMP = join(ROOT, ".bench-tmp");

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
