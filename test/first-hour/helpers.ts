import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { serverEnv } from "../helpers/test-database.mjs";

export const ROOT = join(import.meta.dirname, "..", "..");
/** The built CLI, as `npx vi-cli` runs it. */
export const BIN = join(ROOT, "packages", "cli", "dist", "bin.js");

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The environment of a user's shell with nothing of Vi's set: PATH, a HOME of the test's own, and
 * the test run's digest cache (so that nothing is written into the real ~/.cache/vi).
 */
export function userEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? "",
    HOME: home,
    ...(process.env.VI_CACHE_DIR ? { VI_CACHE_DIR: process.env.VI_CACHE_DIR } : {}),
    ...extra,
  };
}

/** The real binary, with pipes (no terminal). */
export function viCli(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The real binary on a pseudo-terminal, through util-linux's `script` (stdin, stdout and stderr
 * are the terminal, as in an interactive shell). Resolves with everything the terminal received
 * (stdout and stderr interleaved, with the terminal's \r\n) and the CLI's exit code.
 */
export function viCliOnTty(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  options: { columns?: number; onOutput?: (text: string, child: ChildProcess) => void } = {},
): Promise<{ code: number; output: string }> {
  const command = [`stty cols ${options.columns ?? 100} rows 40;`, "exec", process.execPath, BIN, ...args]
    .map((part, i) => (i < 3 ? part : quote(part)))
    .join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qfec", command, "/dev/null"], {
      cwd,
      env: { TERM: "xterm", ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => {
      output += d.toString();
      options.onOutput?.(output, child);
    });
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, output }));
  });
}

export interface Served {
  url: string;
  dataDir: string;
  /** What the server printed on stderr (complete once `stop` has resolved). */
  readonly stderr: string;
  stop(): Promise<void>;
}

/** `vi-cli serve --port 0` in `cwd` (its ./vi-data), as the README's `npm start` runs it. */
export async function serve(cwd: string, env: NodeJS.ProcessEnv): Promise<Served> {
  // In the scale-out configuration, VI_DATABASE_URL names the folder's PostgreSQL database.
  const database = await serverEnv(join(cwd, "vi-data"));
  const child = spawn(process.execPath, [BIN, "serve", "--port", "0", "--json"], {
    cwd,
    env: { ...env, ...database },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`vi-cli serve exited with ${code}: ${stderr}`)));
  });
  const started = JSON.parse(line) as { url: string; dataDir: string };
  // "close": the process exited and its output was read to the end.
  const exited = new Promise((r) => child.once("close", r));
  return {
    url: started.url,
    dataDir: started.dataDir,
    get stderr() {
      return stderr;
    },
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Strips what a terminal interprets (colours, line clears, carriage returns) to compare text. */
export function plain(text: string): string {
  return text
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "")
    .replace(/\r\n/g, "\n")
    .replace(/\r/g, "\n");
}
