// An S3-compatible test server on loopback, for the scale-out test configuration.
//
// It is s3rver (npm), which keeps objects in a temporary folder. It is NOT production storage and
// checks far less than S3: it accepts any SigV4 signature (tampered URLs included), ignores
// x-amz-checksum-* headers (wrong CRC-32C bodies are stored), has no ListParts and ignores
// conditional copies. The server must catch all of that itself; tests never count on the store.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";

/** s3rver's built-in account: any request signed with it is accepted. */
export const S3_TEST_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

/** Starts s3rver on 127.0.0.1 (an ephemeral port); answers its endpoint and a stop function. */
export async function startS3TestServer() {
  const directory = await mkdtemp(join(tmpdir(), "vi-s3rver-"));
  const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory });
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    ...S3_TEST_CREDENTIALS,
    async stop() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

// Run directly (`node test/services/s3.mjs`): serve until stopped, printing the endpoint.
if (import.meta.url === `file://${process.argv[1]}`) {
  const s3 = await startS3TestServer();
  console.log(JSON.stringify({ endpoint: s3.endpoint, ...S3_TEST_CREDENTIALS }));
  const stop = () => void s3.stop().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
