import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32c } from "@node-rs/crc32";
import { afterAll, describe, expect, it } from "vitest";
import { apiPaths, type IngestionSession } from "@vi/protocol";
import { Client } from "@vi/sdk";
import { startServer } from "@vi/server";
import { uniqueJpeg } from "../helpers/jpeg.mjs";
import { startServerProcess, type ServerProcess } from "../helpers/server-process.mjs";
import { databaseForDataDir, scaleout } from "../helpers/test-database.mjs";
import { startTestServer } from "../helpers/server.js";

/**
 * Replicas on one PostgreSQL database: any replica serves any request. The replicas share the
 * data folder's blobs here (a local folder both can reach); on an S3-compatible store they
 * would share the bucket. The races (first organization, same filenames, blob locks) are forced
 * at the store level, in packages/server/test/postgres-replicas.test.ts.
 */
describe.skipIf(!scaleout())("replicas on one PostgreSQL (needs npm run test:scaleout)", () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
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
    // With a bucket (scale-out on S3) the URL is the bucket's: the PUT goes there, and the replica
    // that reads the session next verifies and commits what landed.
    const inBucket = new URL(session.status.assets[0]!.upload.url).origin !== new URL(a.url).origin;
    const putTo = (server: ServerProcess, i: number) => {
      const { url, headers: required } = session.status.assets[i]!.upload;
      if (inBucket) return fetch(url, { method: "PUT", headers: required ?? {}, body: files[i]!.bytes });
      const { pathname, search } = new URL(url);
      return fetch(`${server.url}${pathname}${search}`, { method: "PUT", body: files[i]!.bytes });
    };
    for (let i = 0; i < files.length - 1; i++) expect((await putTo(i % 2 ? b : a, i)).status).toBe(200);

    // B reads A's progress, then long-polls; the last file is committed by A and must wake B's poll.
    const midway = (await (await on(b, statusPath)).json()) as IngestionSession;
    expect(midway.status.progressCount).toEqual({ total: 6, succeeded: 5, errored: 0 });
    const started = Date.now();
    const waiting = on(b, `${statusPath}?waitFor=Finished&timeout=20`);
    await new Promise((r) => setTimeout(r, 300));
    expect((await putTo(a, files.length - 1)).status).toBe(200);
    // From the bucket, A commits the file when it reads the session.
    if (inBucket) expect((await on(a, statusPath)).status).toBe(200);
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

  it("a replica that joins the organization writes no credentials file, and says where the key is", async () => {
    const first = await startTestServer();
    cleanup.push(() => first.stop());
    const dataDir = await mkdtemp(join(tmpdir(), "vi-joining-"));
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    const joining = await startServer({ host: "127.0.0.1", port: 0, dataDir, ...first.store });
    cleanup.push(() => joining.close());
    expect(joining.created).toBeUndefined();
    expect(joining.credentialsPath).toBeUndefined();
    expect(await readdir(dataDir)).not.toContain("credentials.json");
    // The first replica's key works on the one that joined.
    const client = new Client({
      endpoint: joining.url,
      organizationId: first.organizationId,
      secretKey: first.secretKey,
    });
    expect((await client.organizations.get()).workspaceId).toBe(first.organizationId);
    await client.close();
  });
});
