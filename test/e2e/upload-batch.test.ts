import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { crc32c } from "@node-rs/crc32";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiPaths, type Asset, type BatchUploadResult, type IngestionSession } from "@vi/protocol";
import { FIXTURES, startTestServer, type TestServer } from "../helpers/server.js";
import { localOnly } from "../helpers/s3-bucket.mjs";
import { uniqueJpeg } from "../helpers/jpeg.mjs";

/** One frame of a batch body: 4-byte big-endian file index, 4-byte big-endian size, the bytes. */
function frame(fileIndex: number, bytes: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(fileIndex, 0);
  head.writeUInt32BE(bytes.length, 4);
  return Buffer.concat([head, bytes]);
}

/**
 * [ext] The batch upload over raw HTTP: many small files of a session in one signed request,
 * each checked on its own (a bad file fails alone, as with its own PUT), the good ones durable
 * and committed together; a malformed body stores nothing; the URL is signed per session.
 */
describe.skipIf(localOnly("the batch PUT is not offered with a bucket: its bytes would pass through the server"))(
  "batch upload of small files",
  () => {
    let t: TestServer;
    let datasetId: string;
    const api = (path: string, init: RequestInit = {}) =>
      fetch(`${t.server.url}${path}`, {
        ...init,
        headers: {
          authorization: `Bearer ${t.secretKey}`,
          "organization-id": t.organizationId,
          "content-type": "application/json",
        },
      });
    const open = async (files: { filename: string; bytes: Buffer; crc?: number }[]): Promise<IngestionSession> => {
      const res = await api(apiPaths.ingestionSessions(t.organizationId, datasetId), {
        method: "POST",
        body: JSON.stringify({
          spec: {
            kind: "Upload",
            failureMode: "FailAfterAll",
            assets: files.map((f) => ({
              filename: f.filename,
              mime: "image/jpeg",
              size: f.bytes.length,
              crc32c: f.crc ?? crc32c(f.bytes) | 0,
              kind: "Image",
            })),
          },
        }),
      });
      expect(res.status).toBe(201);
      return (await res.json()) as IngestionSession;
    };
    const assets = async (): Promise<Asset[]> =>
      ((await (await api(apiPaths.assets(t.organizationId, datasetId))).json()) as { items: Asset[] }).items;

    beforeAll(async () => {
      t = await startTestServer({ processingConcurrency: 0 });
      datasetId = (await t.client.datasets.create({ name: "batches" })).datasetId;
    });
    afterAll(async () => t?.stop());

    it("commits the good files of a batch and fails each bad one alone, with its code", async () => {
      const good = [uniqueJpeg(20_000), uniqueJpeg(21_000), await readFile(join(FIXTURES, "valid", "static.gif"))];
      const notImage = Buffer.from("not an image at all, just words");
      const wrongCrc = uniqueJpeg(22_000);
      const session = await open([
        { filename: "a.jpg", bytes: good[0]! },
        { filename: "b.jpg", bytes: good[1]! },
        { filename: "c.gif", bytes: good[2]! },
        { filename: "notes.jpg", bytes: notImage },
        { filename: "d.jpg", bytes: wrongCrc, crc: 12345 },
      ]);
      const target = session.status.batchUpload!;
      expect(target).toMatchObject({ method: "PUT", maxFiles: 256 });
      const body = Buffer.concat([
        frame(0, good[0]!),
        frame(1, good[1]!),
        frame(2, good[2]!),
        frame(3, notImage),
        frame(4, wrongCrc),
      ]);
      const res = await fetch(target.url, { method: "PUT", body });
      expect(res.status).toBe(200);
      const { files } = (await res.json()) as BatchUploadResult;
      expect(files.map((f) => [f.fileIndex, f.filename, f.error?.code ?? "ok"])).toEqual([
        [0, "a.jpg", "ok"],
        [1, "b.jpg", "ok"],
        [2, "c.gif", "ok"],
        [3, "notes.jpg", "EBADMIME"],
        [4, "d.jpg", "ECORRUPT"],
      ]);
      expect(files[4]!.error!.message).toMatch(/CRC-32C mismatch/);

      const status = (await (
        await api(`${apiPaths.ingestionSession(t.organizationId, datasetId, session.assetIngestionSessionId)}`)
      ).json()) as IngestionSession;
      expect(status.status.progressCount).toEqual({ total: 5, succeeded: 3, errored: 2 });
      expect(status.status.conditions.find((c) => c.condition === "Finished")?.status).toBe("Reached");
      const stored = new Map((await assets()).map((a) => [a.filename, a]));
      expect([...stored.keys()].sort()).toEqual(["a.jpg", "b.jpg", "c.gif"]);
      expect(stored.get("c.gif")!.metadata).toMatchObject({ mimeType: "image/gif", width: 150, height: 100 });
      expect(files[0]!.assetId).toBe(stored.get("a.jpg")!.assetId);

      // The same batch again: committed files answer their asset, failed ones a conflict.
      const again = (await (await fetch(target.url, { method: "PUT", body })).json()) as BatchUploadResult;
      expect(again.files.map((f) => f.assetId ?? f.error?.code)).toEqual([
        files[0]!.assetId,
        files[1]!.assetId,
        files[2]!.assetId,
        "ResourceConflict",
        "ResourceConflict",
      ]);
    });

    it("refuses a malformed body whole, storing nothing; and a tampered URL", async () => {
      const bytes = uniqueJpeg(20_000);
      const session = await open([{ filename: "cut.jpg", bytes }]);
      const url = session.status.batchUpload!.url;
      const cut = frame(0, bytes).subarray(0, 5000);
      const res = await fetch(url, { method: "PUT", body: cut });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { message: string }).message).toMatch(/file 0 is cut.*nothing in it was stored/);
      expect((await assets()).some((a) => a.filename === "cut.jpg")).toBe(false);

      const other = await open([{ filename: "other.jpg", bytes: uniqueJpeg(20_000) }]);
      const forged = url.replace(session.assetIngestionSessionId, other.assetIngestionSessionId);
      expect((await fetch(forged, { method: "PUT", body: frame(0, bytes) })).status).toBe(403);

      // The well-formed retry commits.
      const ok = (await (await fetch(url, { method: "PUT", body: frame(0, bytes) })).json()) as BatchUploadResult;
      expect(ok.files[0]!.assetId).toBeDefined();
    });
  },
);
