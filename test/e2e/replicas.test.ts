import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32c } from "@node-rs/crc32";
import { afterAll, describe, expect, it } from "vitest";
import { apiPaths, type IngestionSession } from "@vi/protocol";
import { startServer, type RunningServer } from "@vi/server";
import { Client } from "@vi/sdk";
import { uniqueJpeg } from "../helpers/jpeg.mjs";
import { startServerProcess, type ServerProcess } from "../helpers/server-process.mjs";
import { createTestDatabase, databaseForDataDir, scaleout } from "../helpers/test-database.mjs";

/**
 * Replicas on one PostgreSQL database: any replica serves any request, and what must happen
 * once happens once. The replicas share the data folder's blobs here (a local folder both can
 * reach); on an S3-compatible store they would share the bucket.
 */
describe.skipIf(!scaleout())("replicas on one PostgreSQL (needs npm run test:scaleout)", () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
  });

  it("two servers starting together on an empty database: one creates the organization, the other joins it", async () => {
    const database = await createTestDatabase();
    cleanup.push(() => database.drop());
    const dataDir = await mkdtemp(join(tmpdir(), "vi-replicas-"));
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    const servers = await Promise.all(
      [0, 1].map(() => startServer({ host: "127.0.0.1", port: 0, dataDir, databaseUrl: database.url })),
    );
    for (const s of servers) cleanup.push(() => s.close());
    const created = servers.filter((s) => s.created);
    expect(created).toHaveLength(1);
    const { organizationId, secretKey } = created[0]!.created!;
    for (const s of servers) {
      const client = new Client({ endpoint: s.url, organizationId, secretKey, maxRetries: 1 });
      const names: string[] = [];
      for await (const page of client.datasets.list()) names.push(...page.items.map((d) => d.name));
      expect(names).toEqual([]);
      await client.close();
    }
  });

  it("two servers uploading the same filenames at the same time end with one asset per filename", async () => {
    const database = await createTestDatabase();
    cleanup.push(() => database.drop());
    const dataDir = await mkdtemp(join(tmpdir(), "vi-replicas-"));
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    const first: RunningServer = await startServer({ host: "127.0.0.1", port: 0, dataDir, databaseUrl: database.url });
    cleanup.push(() => first.close());
    const second = await startServer({ host: "127.0.0.1", port: 0, dataDir, databaseUrl: database.url });
    cleanup.push(() => second.close());
    const { organizationId, secretKey } = first.created!;
    const clients = [first, second].map(
      (s) => new Client({ endpoint: s.url, organizationId, secretKey, maxRetries: 0 }),
    );
    cleanup.push(async () => Promise.all(clients.map((c) => c.close())));
    const { datasetId } = await clients[0]!.datasets.create({ name: "race" });
    const work = await mkdtemp(join(tmpdir(), "vi-replicas-files-"));
    cleanup.push(() => rm(work, { recursive: true, force: true }));

    // Each server gets its own bytes under the same names; rounds make commits overlap often.
    const FILES = 40;
    for (let round = 0; round < 3; round++) {
      const folders = await Promise.all(
        [0, 1].map(async (side) => {
          const dir = join(work, `round-${round}-${side}`);
          await mkdir(dir, { recursive: true });
          for (let i = 0; i < FILES; i++) await writeFile(join(dir, `img-${i}.jpg`), uniqueJpeg());
          return dir;
        }),
      );
      const results = await Promise.all(
        clients.map((c, side) =>
          c.assets.upload({ datasetId, paths: folders[side]!, failureMode: "FailAfterAll", showProgress: false }),
        ),
      );
      for (const r of results) expect(r.failedFiles).toEqual([]);
    }
    const listed: string[] = [];
    for await (const page of clients[1]!.assets.list({ datasetId, pageSize: 100 }))
      listed.push(...page.items.map((a) => a.filename));
    expect(listed.sort()).toEqual(Array.from({ length: FILES }, (_, i) => `img-${i}.jpg`).sort());
    expect((await clients[0]!.datasets.get({ datasetId })).statistic.assetTotal).toBe(FILES);
  });

  it("one upload's requests spread over two server processes: session, PUTs, status polls and a long-poll woken by the other", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "vi-replicas-"));
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    // Both processes on the folder's database and blobs; the first writes the credentials.
    const a: ServerProcess = await startServerProcess(dataDir, { VI_PROCESSING_CONCURRENCY: "0" });
    cleanup.push(() => a.stop());
    const b: ServerProcess = await startServerProcess(dataDir, { VI_PROCESSING_CONCURRENCY: "0" });
    cleanup.push(() => b.stop());
    expect(await databaseForDataDir(dataDir)).toContain("vi_dir_");
    const { organizationId, secretKey } = a.creds;
    const headers = {
      authorization: `Bearer ${secretKey}`,
      "organization-id": organizationId,
      "content-type": "application/json",
    };
    const on = (server: ServerProcess, path: string, init: RequestInit = {}) =>
      fetch(`${server.url}${path}`, { ...init, headers: { ...headers, ...(init.headers ?? {}) } });

    const dataset = (await (
      await on(b, apiPaths.datasets(organizationId), { method: "POST", body: JSON.stringify({ name: "spread" }) })
    ).json()) as { datasetId: string };
    const files = Array.from({ length: 6 }, (_, i) => ({ name: `f${i}.jpg`, bytes: uniqueJpeg() }));
    const created = await on(a, apiPaths.ingestionSessions(organizationId, dataset.datasetId), {
      method: "POST",
      body: JSON.stringify({
        spec: {
          kind: "Upload",
          failureMode: "FailAfterAll",
          assets: files.map((f) => ({
            filename: f.name,
            mime: "image/jpeg",
            size: f.bytes.length,
            crc32c: crc32c(f.bytes) | 0,
            customMetadata: null,
            kind: "Image",
          })),
        },
      }),
    });
    expect(created.status).toBe(201);
    const session = (await created.json()) as IngestionSession;
    const statusPath = apiPaths.ingestionSession(organizationId, dataset.datasetId, session.assetIngestionSessionId);
    // A signed URL names its path, not its host: behind a load balancer either replica takes it.
    const putTo = (server: ServerProcess, i: number) => {
      const url = new URL(session.status.assets[i]!.upload.url);
      return fetch(`${server.url}${url.pathname}${url.search}`, { method: "PUT", body: files[i]!.bytes });
    };
    for (let i = 0; i < files.length - 1; i++) expect((await putTo(i % 2 ? b : a, i)).status).toBe(200);

    // B reads A's progress, then long-polls; the last PUT lands on A and must wake B's poll.
    const midway = (await (await on(b, statusPath)).json()) as IngestionSession;
    expect(midway.status.progressCount).toEqual({ total: 6, succeeded: 5, errored: 0 });
    const started = Date.now();
    const waiting = on(b, `${statusPath}?waitFor=Finished&timeout=20`);
    await new Promise((r) => setTimeout(r, 300));
    expect((await putTo(a, files.length - 1)).status).toBe(200);
    const done = (await (await waiting).json()) as IngestionSession;
    expect(done.status.progressCount).toEqual({ total: 6, succeeded: 6, errored: 0 });
    expect(done.status.conditions.find((c) => c.condition === "Finished")?.status).toBe("Reached");
    expect(Date.now() - started).toBeLessThan(10_000);

    // Every asset reads back from either replica, bytes included.
    for (const server of [a, b]) {
      const list = (await (await on(server, `${apiPaths.assets(organizationId, dataset.datasetId)}?s=10`)).json()) as {
        items: { filename: string; assetId: string }[];
      };
      expect(list.items.map((x) => x.filename).sort()).toEqual(files.map((f) => f.name));
    }
  });
});
