import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, type RunningServer, type ServerConfig } from "@vi/server";
import { Client } from "@vi/sdk";
import { createTestBucket, s3Env, scaleout } from "./s3-bucket.mjs";

export interface TestServer {
  server: RunningServer;
  dataDir: string;
  client: Client;
  organizationId: string;
  secretKey: string;
  stop(): Promise<void>;
}

/**
 * A real server on an ephemeral port over a fresh temporary data dir, and a client for it; in the
 * scale-out configuration (VI_TEST_BACKEND=scaleout) its bytes go to a fresh bucket of the S3
 * test server, removed on stop.
 */
export async function startTestServer(options: Partial<ServerConfig> = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), "vi-e2e-"));
  const bucket = scaleout() && !options.s3 ? await createTestBucket() : undefined;
  const server = await startServer({
    host: "127.0.0.1",
    port: 0,
    dataDir,
    ...(bucket ? { s3: testS3Config(bucket.bucket) } : {}),
    ...options,
  });
  const { organizationId, secretKey } = server.created!;
  const client = new Client({ endpoint: server.url, organizationId, secretKey, maxRetries: 1 });
  return {
    server,
    dataDir,
    client,
    organizationId,
    secretKey,
    async stop() {
      await server.close();
      await bucket?.remove();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export { FIXTURES } from "./fixtures.js";

/** The server's S3 settings for a test bucket; credentials go the standard way, by environment. */
export function testS3Config(bucket: string): NonNullable<ServerConfig["s3"]> {
  const env = s3Env(bucket);
  for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"]) process.env[name] ??= env[name];
  return { bucket, endpoint: env.VI_S3_ENDPOINT!, forcePathStyle: true };
}
