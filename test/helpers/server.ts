import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, type RunningServer, type ServerConfig } from "@vi/server";
import { Client } from "@vi/sdk";
import { createTestDatabase, scaleout } from "./test-database.mjs";

export interface TestServer {
  server: RunningServer;
  dataDir: string;
  client: Client;
  organizationId: string;
  secretKey: string;
  stop(): Promise<void>;
}

/**
 * A real server on an ephemeral port over a fresh temporary data dir, and a client for it; in
 * the scale-out configuration on a fresh PostgreSQL database of its own, dropped on stop.
 */
export async function startTestServer(options: Partial<ServerConfig> = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), "vi-e2e-"));
  const database = scaleout() ? await createTestDatabase() : undefined;
  const server = await startServer({
    host: "127.0.0.1",
    port: 0,
    dataDir,
    ...(database ? { databaseUrl: database.url } : {}),
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
      await database?.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export { FIXTURES } from "./fixtures.js";
