import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { crc32c } from "@node-rs/crc32";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiPaths, type IngestionSession } from "@vi/protocol";
import { FIXTURES, startTestServer, type TestServer } from "../helpers/server.js";
import { scaleout } from "../helpers/s3-bucket.mjs";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/**
 * Upload URLs live 1 s; with a bucket 3 s, because the SDK's upload in the first test must reach
 * the store within it (its session, then its PUT) on a loaded machine, and the store refuses it after.
 */
const UPLOAD_TTL = scaleout() ? 3 : 1;

/** Signed URLs expire: downloads answer 403, and uploads fail their files so sessions always finish. */
describe("signed URL expiry", () => {
  let t: TestServer;
  let datasetId: string;
  beforeAll(async () => {
    t = await startTestServer({ downloadUrlTtlSeconds: 1, uploadUrlTtlSeconds: UPLOAD_TTL });
    datasetId = (await t.client.datasets.create({ name: "expiry" })).datasetId;
  });
  afterAll(async () => t?.stop());

  const openSession = async (names: string[], bytes: Buffer): Promise<IngestionSession> => {
    const res = await fetch(`${t.server.url}${apiPaths.ingestionSessions(t.organizationId, datasetId)}`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.secretKey}`, "content-type": "application/json" },
      body: JSON.stringify({
        spec: {
          kind: "Upload",
          failureMode: "FailAfterAll",
          assets: names.map((filename) => ({ filename, size: bytes.length, crc32c: crc32c(bytes) | 0, kind: "Image" })),
        },
      }),
    });
    return (await res.json()) as IngestionSession;
  };

  it("an expired download URL answers 403 and serves nothing; a fresh one works", async () => {
    await t.client.assets.upload({ datasetId, paths: join(FIXTURES, "valid", "static.gif"), showProgress: false });
    const [asset] = (await t.client.assets.list({ datasetId, contents: true })).items;
    const url = asset!.contents!.asset!.url;
    expect((await fetch(url)).status).toBe(200);
    await sleep(1_100);
    const expired = await fetch(url);
    expect(expired.status).toBe(403);
    expect(((await expired.json()) as { message: string }).message).toMatch(/expired/);
    const fresh = await t.client.assets.get({ datasetId, assetId: asset!.assetId, contents: true });
    expect((await fetch(fresh.contents!.asset!.url)).status).toBe(200);
  });

  it("a PUT after expiry fails its file with ETIMEOUT, a file never sent ends as ENOASSET, and the session finishes", async () => {
    const bytes = await readFile(join(FIXTURES, "valid", "gray.png"));
    const session = await openSession(["late.png", "never.png"], bytes);
    const late = session.status.assets.find((a) => a.metadata.filename === "late.png")!;
    await sleep(UPLOAD_TTL * 1000 + 100);
    const put = await fetch(late.upload.url, { method: "PUT", body: bytes });
    expect(put.status).toBe(403);
    const done = await t.client.assets.waitUntilDone({
      datasetId,
      assetIngestionSessionId: session.assetIngestionSessionId,
    });
    expect(done.status.progressCount).toEqual({ total: 2, succeeded: 0, errored: 2 });
    const errors = done.status.events.find((e) => e.kind === "Error") as { files: Record<string, string> };
    // A bucket refuses the late PUT itself and the server never hears of it: no bytes, ENOASSET.
    const lateCode = scaleout() ? "ENOASSET" : "ETIMEOUT";
    expect(errors.files).toEqual({ "late.png": lateCode, "never.png": "ENOASSET" });
    expect(done.status.conditions.find((c) => c.condition === "Finished")?.status).toBe("Reached");
  });
});
