import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, type RunningServer, type ServerConfig } from "@vi/server";
import { Client } from "@vi/sdk";
import { createTestDatabase, scaleout } from "./test-database.mjs";
import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { createTestBucket, s3Env } from "./s3-bucket.mjs";

export interface TestServer {
  server: RunningServer;
  dataDir: string;
  client: Client;
  organizationId: string;
  secretKey: string;
  /** The stored bytes behind the server's back, wherever they are (data folder or bucket). */
  blobs: StoredBlobs;
  /** The server's store settings beyond the data dir (scale-out: its database and bucket), to restart on the same store. */
  store: Pick<ServerConfig, "databaseUrl" | "s3">;
  stop(): Promise<void>;
}

export interface StoredBlobs {
  /** The digests stored now. */
  names(): Promise<Set<string>>;
  /** Replaces stored bytes (damage). */
  write(sha256: string, bytes: Buffer): Promise<void>;
  /** Removes stored bytes (loss). */
  remove(sha256: string): Promise<void>;
}

/**
 * A real server on an ephemeral port over a fresh temporary data dir, and a client for it; in the
 * scale-out configuration (VI_TEST_BACKEND=scaleout) on a fresh PostgreSQL database of its own
 * and a fresh bucket of the S3 test server, both removed on stop.
 */
export async function startTestServer(options: Partial<ServerConfig> = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), "vi-e2e-"));
  const database = scaleout() && !options.databaseUrl ? await createTestDatabase() : undefined;
  const bucket = scaleout() && !options.s3 ? await createTestBucket() : undefined;
  const store: Pick<ServerConfig, "databaseUrl" | "s3"> = {
    ...(database ? { databaseUrl: database.url } : {}),
    ...(bucket ? { s3: testS3Config(bucket.bucket) } : {}),
  };
  const server = await startServer({ host: "127.0.0.1", port: 0, dataDir, ...store, ...options });
  const { organizationId, secretKey } = server.created!;
  const client = new Client({ endpoint: server.url, organizationId, secretKey, maxRetries: 1 });
  return {
    server,
    dataDir,
    client,
    organizationId,
    secretKey,
    blobs: bucket ? bucketBlobs(bucket.client, bucket.bucket) : folderBlobs(dataDir),
    store: {
      ...store,
      ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
      ...(options.s3 ? { s3: options.s3 } : {}),
    },
    async stop() {
      await server.close();
      await database?.drop();
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

function folderBlobs(dataDir: string): StoredBlobs {
  const path = (sha: string) => join(dataDir, "blobs", sha.slice(0, 2), sha);
  return {
    async names() {
      const entries = await readdir(join(dataDir, "blobs"), { recursive: true, withFileTypes: true });
      return new Set(entries.filter((e) => e.isFile()).map((e) => e.name));
    },
    write: (sha, bytes) => writeFile(path(sha), bytes),
    remove: (sha) => rm(path(sha)),
  };
}

function bucketBlobs(client: S3Client, bucket: string): StoredBlobs {
  const key = (sha: string) => `blobs/${sha}`;
  return {
    async names() {
      const names = new Set<string>();
      let token: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: "blobs/",
            ...(token ? { ContinuationToken: token } : {}),
          }),
        );
        for (const o of page.Contents ?? []) names.add(o.Key!.slice("blobs/".length));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return names;
    },
    write: async (sha, bytes) =>
      void (await client.send(new PutObjectCommand({ Bucket: bucket, Key: key(sha), Body: bytes }))),
    remove: async (sha) => void (await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key(sha) }))),
  };
}
