// An S3-compatible test server on loopback, for the scale-out test configuration.
//
// It is s3rver (npm), which keeps objects in a temporary folder. It is NOT production storage and
// checks far less than S3: it accepts any SigV4 signature (tampered URLs included), ignores
// x-amz-checksum-* headers (wrong CRC-32C bodies are stored), has no ListParts and ignores
// conditional copies. The server must catch all of that itself; tests never count on the store.
//
// It runs in a process of its own, started with --openssl-legacy-provider: s3rver makes the
// continuation tokens of truncated listings with DES, which OpenSSL 3 keeps in its legacy
// provider only (without it, any listing of more keys than asked for answers 500).
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import S3rver from "s3rver";

/** s3rver's built-in account: any request signed with it is accepted. */
export const S3_TEST_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

/** Starts s3rver on 127.0.0.1 (an ephemeral port) in a child process; answers its endpoint and a stop function. */
export async function startS3TestServer() {
  const child = spawn(process.execPath, ["--openssl-legacy-provider", fileURLToPath(import.meta.url)], {
    // stdin stays open: the child stops when it closes, so a killed test run leaves no server behind.
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const [first] = await Promise.race([
    once(lines, "line"),
    once(child, "exit").then(([code]) => Promise.reject(new Error(`s3rver exited with ${code} before serving`))),
  ]);
  const { endpoint } = JSON.parse(first);
  return {
    endpoint,
    ...S3_TEST_CREDENTIALS,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = once(child, "exit");
      child.stdin.end();
      await exited;
    },
  };
}

/** s3rver in this process, over a temporary folder removed on stop. */
async function serve() {
  const directory = await mkdtemp(join(tmpdir(), "vi-s3rver-"));
  const server = new S3rver({ address: "127.0.0.1", port: 0, silent: process.env.VI_S3RVER_LOG !== "1", directory });
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async stop() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

// Run directly (`node --openssl-legacy-provider test/services/s3.mjs`): serve until stdin closes
// or a signal comes, printing the endpoint as one JSON line.
if (import.meta.url === `file://${process.argv[1]}`) {
  const s3 = await serve();
  console.log(JSON.stringify({ endpoint: s3.endpoint, ...S3_TEST_CREDENTIALS }));
  let stopping;
  const stop = () => (stopping ??= s3.stop().finally(() => process.exit(0)));
  process.stdin.on("end", stop).resume();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
