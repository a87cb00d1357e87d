import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32c } from "@node-rs/crc32";
import { DeleteObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiPaths, type IngestionSession, type MultipartStart } from "@vi/protocol";
import { fsck, startServer, type ServerConfig } from "@vi/server";
import { Client } from "@vi/sdk";
import { startTestServer, testS3Config, type TestServer } from "../helpers/server.js";
import { createTestBucket } from "../helpers/s3-bucket.mjs";
import { useS3TestServer } from "../helpers/own-s3.js";
import { uniqueJpeg, writeLargeJpeg } from "../helpers/jpeg.mjs";

/**
 * The S3 blob store end to end: a real server, the S3 test server on loopback (the scale-out
 * run's, or one of its own in the default run, so these tests always run), raw HTTP for what a
 * client does. s3rver checks neither signatures nor checksums: every refusal below is the Vi
 * server's own.
 */
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const crcOf = (b: Buffer) => crc32c(b) | 0;

useS3TestServer();

/** A server on a fresh bucket; answers the bucket too, to look inside and to tamper. */
async function startOnBucket(options: Partial<ServerConfig> = {}, multipartThreshold?: number) {
  const bucket = await createTestBucket();
  const s3 = { ...testS3Config(bucket.bucket), ...(multipartThreshold ? { multipartThreshold } : {}) };
  const t = await startTestServer({ ...options, s3 });
  const keys = async (prefix: string) =>
    (
      (await bucket.client.send(new ListObjectsV2Command({ Bucket: bucket.bucket, Prefix: prefix }))).Contents ?? []
    ).map((o) => o.Key!);
  return {
    t,
    bucket,
    keys,
    async stop() {
      await t.stop();
      await bucket.remove();
    },
  };
}

type Server = Awaited<ReturnType<typeof startOnBucket>>;

const api = async <T>(t: TestServer, path: string, init: RequestInit = {}): Promise<T> => {
  const res = await fetch(`${t.server.url}${path}`, {
    ...init,
    headers: {
      authorization: `Bearer ${t.secretKey}`,
      "organization-id": t.organizationId,
      "content-type": "application/json",
    },
  });
  expect(res.status).toBeLessThan(300);
  return (await res.json()) as T;
};

async function openSession(
  t: TestServer,
  datasetId: string,
  files: { name: string; bytes: Buffer }[],
  failureMode: "FailAfterOne" | "FailAfterAll" = "FailAfterAll",
) {
  return api<IngestionSession>(t, apiPaths.ingestionSessions(t.organizationId, datasetId), {
    method: "POST",
    body: JSON.stringify({
      spec: {
        kind: "Upload",
        failureMode,
        assets: files.map((f) => ({
          filename: f.name,
          mime: "image/jpeg",
          size: f.bytes.length,
          crc32c: crcOf(f.bytes),
        })),
      },
    }),
  });
}

async function waitSession(t: TestServer, datasetId: string, sessionId: string) {
  const path = apiPaths.ingestionSession(t.organizationId, datasetId, sessionId);
  return api<IngestionSession>(t, `${path}?waitFor=Finished&timeout=20`);
}

async function put(target: { url: string; headers: Record<string, string> }, body: Buffer) {
  return fetch(target.url, { method: "PUT", headers: target.headers, body });
}

describe("S3 blob store", () => {
  let s: Server;
  let work: string;
  beforeAll(async () => {
    s = await startOnBucket({ processingConcurrency: 1 });
    work = await mkdtemp(join(tmpdir(), "vi-s3-"));
  });
  afterAll(async () => {
    await s?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("a presigned PUT goes straight to the bucket, with the CRC-32C header, and becomes an asset", async () => {
    const { datasetId } = await s.t.client.datasets.create({ name: "presigned" });
    const bytes = uniqueJpeg();
    const session = await openSession(s.t, datasetId, [{ name: "a.jpg", bytes }]);
    expect(session.status.batchUpload).toBeUndefined();
    const target = session.status.assets[0]!.upload;
    expect(new URL(target.url).origin).toBe(process.env.VI_TEST_S3_ENDPOINT);
    expect(new URL(target.url).pathname).toBe(`/${s.bucket.bucket}/staging/${session.assetIngestionSessionId}/0`);
    expect(target.headers["x-amz-checksum-crc32c"]).toBe(crcBase64(bytes));
    expect((await put(target, bytes)).status).toBe(200);
    const done = await waitSession(s.t, datasetId, session.assetIngestionSessionId);
    expect(done.status.progressCount).toMatchObject({ succeeded: 1, errored: 0 });
    const [asset] = (await s.t.client.assets.list({ datasetId })).items;
    expect(asset!.metadata.hash.contents).toBe(sha256(bytes));
    expect(await s.keys("staging/")).toEqual([]);
    expect(await s.keys("blobs/")).toContain(`blobs/${sha256(bytes)}`);
  });

  it("bytes no client asks about are committed by the server's own sweep", async () => {
    const { datasetId } = await s.t.client.datasets.create({ name: "swept" });
    const bytes = uniqueJpeg();
    const session = await openSession(s.t, datasetId, [{ name: "quiet.jpg", bytes }]);
    expect((await put(session.status.assets[0]!.upload, bytes)).status).toBe(200);
    // No status read: only the sweep (every 5 s) can find the object.
    await expect
      .poll(async () => (await s.t.client.assets.list({ datasetId })).items.map((a) => a.filename), {
        timeout: 15_000,
        interval: 500,
      })
      .toEqual(["quiet.jpg"]);
    expect(await s.keys(`staging/${session.assetIngestionSessionId}/`)).toEqual([]);
  });

  it("bad bytes in the bucket fail their file alone (wrong CRC, wrong size, not an image); nothing is kept", async () => {
    const { datasetId } = await s.t.client.datasets.create({ name: "tampered" });
    // The manifest of mime.jpg declares bytes that are no image (their CRC-32C is right).
    const notImage = Buffer.alloc(2000, 0x41);
    const files = ["good", "crc", "size"].map((n) => ({ name: `${n}.jpg`, bytes: uniqueJpeg() }));
    files.push({ name: "mime.jpg", bytes: notImage });
    const session = await openSession(s.t, datasetId, files);
    const targets = new Map(session.status.assets.map((a) => [a.metadata.filename, a.upload]));
    const flipped = Buffer.from(files[1]!.bytes);
    flipped[flipped.length - 10]! ^= 0xff;
    // The store is sent the manifest's checksum header with other bytes: s3rver stores them anyway.
    expect((await put(targets.get("good.jpg")!, files[0]!.bytes)).status).toBe(200);
    expect((await put(targets.get("crc.jpg")!, flipped)).status).toBe(200);
    expect((await put(targets.get("size.jpg")!, Buffer.concat([files[2]!.bytes, Buffer.from("xx")]))).status).toBe(200);
    // Written to the bucket behind the presigned URL's back, before verification.
    await s.bucket.client.send(
      new PutObjectCommand({
        Bucket: s.bucket.bucket,
        Key: `staging/${session.assetIngestionSessionId}/3`,
        Body: notImage,
      }),
    );
    const done = await waitSession(s.t, datasetId, session.assetIngestionSessionId);
    const codes = done.status.events.flatMap((e) => (e.kind === "Error" ? Object.entries(e.files) : []));
    expect(Object.fromEntries(codes)).toEqual({
      "crc.jpg": "ECORRUPT",
      "size.jpg": "EBADSIZE",
      "mime.jpg": "EBADMIME",
    });
    expect(done.status.progressCount).toMatchObject({ succeeded: 1, errored: 3 });
    const items = (await s.t.client.assets.list({ datasetId })).items;
    expect(items.map((a) => a.filename)).toEqual(["good.jpg"]);
    expect(await s.keys(`staging/${session.assetIngestionSessionId}/`)).toEqual([]);
    for (const bad of [flipped, notImage]) expect(await s.keys(`blobs/${sha256(bad)}`)).toEqual([]);
  });

  it("FailAfterOne: a later file is not committed while an earlier one, verified beside it, fails", async () => {
    const { datasetId } = await s.t.client.datasets.create({ name: "fail-after-one" });
    // The first file is large and damaged (found out only once all of it is read back); the
    // second is small and sound, so without the ordering it would be committed first.
    const files = [
      { name: "first.jpg", bytes: uniqueJpeg(8 << 20) },
      { name: "second.jpg", bytes: uniqueJpeg() },
    ];
    const session = await openSession(s.t, datasetId, files, "FailAfterOne");
    const [first, second] = session.status.assets.map((a) => a.upload);
    const damaged = Buffer.from(files[0]!.bytes);
    damaged[damaged.length - 10]! ^= 0xff;
    // Both land before the server looks: no status read in between.
    expect((await put(first!, damaged)).status).toBe(200);
    expect((await put(second!, files[1]!.bytes)).status).toBe(200);
    const done = await waitSession(s.t, datasetId, session.assetIngestionSessionId);
    expect(done.status.conditions.find((c) => c.condition === "Finished")?.status).toBe("FailedReach");
    expect(done.status.progressCount).toMatchObject({ succeeded: 0 });
    expect((await s.t.client.assets.list({ datasetId })).items).toEqual([]);
    await expect.poll(() => s.keys(`staging/${session.assetIngestionSessionId}/`), { timeout: 10_000 }).toEqual([]);
    expect(await s.keys(`blobs/${sha256(files[1]!.bytes)}`)).toEqual([]);
  });

  it("downloads redirect to a presigned GET; the SDK verifies, and thumbnails are served the same way", async () => {
    const { datasetId } = await s.t.client.datasets.create({ name: "download" });
    const bytes = uniqueJpeg();
    await writeFile(join(work, "d.jpg"), bytes);
    const up = await s.t.client.assets.upload({
      datasetId,
      paths: join(work, "d.jpg"),
      showProgress: false,
      digestCache: false,
      waitForProcessing: true,
    });
    expect(up.totalSucceeded).toBe(1);
    const [asset] = (await s.t.client.assets.list({ datasetId, contents: true })).items;
    const url = asset!.contents!.asset!.url;
    expect(url.endsWith("/d.jpg") || url.includes("/d.jpg?")).toBe(true);
    const redirect = await fetch(url, { redirect: "manual" });
    expect(redirect.status).toBe(302);
    const location = redirect.headers.get("location")!;
    expect(new URL(location).origin).toBe(process.env.VI_TEST_S3_ENDPOINT);
    expect(Buffer.from(await (await fetch(location)).arrayBuffer())).toEqual(bytes);
    // A tampered API URL is refused before any redirect.
    const tampered = url.replace(/signature=(.)/, (_m, c: string) => `signature=${c === "A" ? "B" : "A"}`);
    expect((await fetch(tampered, { redirect: "manual" })).status).toBe(403);

    const out = join(work, "out");
    const result = await s.t.client.assets.download({ datasetId, saveDir: out, showProgress: false });
    expect(result.downloaded).toBe(1);
    expect(await readFile(join(out, "d.jpg"))).toEqual(bytes);

    const thumb = asset!.contents!.thumbnail;
    expect(thumb).toBeDefined();
    const webp = Buffer.from(await (await fetch(thumb!.url)).arrayBuffer());
    expect(webp.subarray(8, 12).toString("latin1")).toBe("WEBP");
  });

  it("deleting an asset removes its bytes from the bucket (by the background job)", async () => {
    const { datasetId } = await s.t.client.datasets.create({ name: "delete" });
    const bytes = uniqueJpeg();
    await writeFile(join(work, "x.jpg"), bytes);
    await s.t.client.assets.upload({ datasetId, paths: join(work, "x.jpg"), showProgress: false, digestCache: false });
    const key = `blobs/${sha256(bytes)}`;
    expect(await s.keys(key)).toEqual([key]);
    const [asset] = (await s.t.client.assets.list({ datasetId })).items;
    await s.t.client.assets.delete({ datasetId, assetId: asset!.assetId });
    const deadline = Date.now() + 15_000;
    while ((await s.keys(key)).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(await s.keys(key)).toEqual([]);
  });
});

describe("S3 uploads in time and in parts", () => {
  it("an expired presigned URL is refused, and the file fails; bytes landing late are not committed", async () => {
    const s = await startOnBucket({ uploadUrlTtlSeconds: 1 });
    try {
      const { datasetId } = await s.t.client.datasets.create({ name: "expiry" });
      const bytes = uniqueJpeg();
      const session = await openSession(s.t, datasetId, [{ name: "late.jpg", bytes }]);
      // Past the URL's expiry (1 s), the 5 s the server allows for the store's clock, and the
      // store's whole-second LastModified.
      await new Promise((r) => setTimeout(r, 8000));
      const res = await put(session.status.assets[0]!.upload, bytes);
      expect(res.status).toBe(403);
      // A store that ignored the expiry: the object lands anyway, after the session's URLs expired.
      await s.bucket.client.send(
        new PutObjectCommand({
          Bucket: s.bucket.bucket,
          Key: `staging/${session.assetIngestionSessionId}/0`,
          Body: bytes,
        }),
      );
      const done = await waitSession(s.t, datasetId, session.assetIngestionSessionId);
      expect(done.status.progressCount).toMatchObject({ succeeded: 0, errored: 1 });
      expect((await s.t.client.assets.list({ datasetId })).items).toEqual([]);
    } finally {
      await s.stop();
    }
  });

  it("a large file goes up in presigned parts, is completed and verified like any object", async () => {
    const s = await startOnBucket({}, 6 * 1024 * 1024);
    const dir = await mkdtemp(join(tmpdir(), "vi-s3-mp-"));
    try {
      const path = join(dir, "big.jpg");
      await writeLargeJpeg(path, 12 * 1024 * 1024 + 123);
      const bytes = await readFile(path);
      const { datasetId } = await s.t.client.datasets.create({ name: "multipart" });
      const session = await openSession(s.t, datasetId, [{ name: "big.jpg", bytes }]);
      const target = session.status.assets[0]!.upload as { multipart?: { start: string; complete: string } };
      expect(target.multipart).toBeDefined();
      const started = (await (await fetch(target.multipart!.start, { method: "POST" })).json()) as MultipartStart;
      expect(started.parts.length).toBe(1 + Math.floor(bytes.length / started.partSize));
      const parts = [];
      let offset = 0;
      for (const p of started.parts) {
        const res = await fetch(p.url, { method: "PUT", body: bytes.subarray(offset, offset + p.size) });
        expect(res.status).toBe(200);
        parts.push({ partNumber: p.partNumber, etag: res.headers.get("etag")! });
        offset += p.size;
      }
      const complete = await fetch(target.multipart!.complete, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ uploadId: started.uploadId, parts }),
      });
      // Accepted: the object is verified in the background, and the session says how it went.
      expect(complete.status).toBe(202);
      const done = await waitSession(s.t, datasetId, session.assetIngestionSessionId);
      expect(done.status.progressCount).toMatchObject({ succeeded: 1, errored: 0 });
      const head = await s.bucket.client.send(
        new HeadObjectCommand({ Bucket: s.bucket.bucket, Key: `blobs/${sha256(bytes)}` }),
      );
      expect(head.ContentLength).toBe(bytes.length);
    } finally {
      await s.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("the SDK against a bucket", () => {
  it("sends a large file in parts when the server offers them, and the asset is whole", async () => {
    const bucket = await createTestBucket();
    const dataDir = await mkdtemp(join(tmpdir(), "vi-s3-sdk-parts-"));
    const requests: string[] = [];
    // The server's request log says which upload path the SDK took.
    const stream = {
      write: (line: string) => void requests.push((JSON.parse(line) as { req?: { url?: string } }).req?.url ?? ""),
    };
    const s3 = { ...testS3Config(bucket.bucket), multipartThreshold: 6 * 1024 * 1024 };
    const server = await startServer({
      host: "127.0.0.1",
      port: 0,
      dataDir,
      s3,
      processingConcurrency: 0,
      logger: { level: "debug", stream },
    });
    try {
      const { organizationId, secretKey } = server.created!;
      const client = new Client({ endpoint: server.url, organizationId, secretKey });
      const { datasetId } = await client.datasets.create({ name: "sdk-parts" });
      const path = join(dataDir, "big.jpg");
      await writeLargeJpeg(path, 20 * 1024 * 1024 + 7);
      const bytes = await readFile(path);
      const result = await client.assets.upload({ datasetId, paths: path, showProgress: false, digestCache: false });
      expect(result.totalSucceeded).toBe(1);
      expect(requests.filter((u) => /\/multipart(\?|$)/.test(u))).toHaveLength(1);
      expect(requests.filter((u) => u.includes("/multipart/complete"))).toHaveLength(1);
      const [asset] = (await client.assets.list({ datasetId })).items;
      expect(asset!.metadata.hash.contents).toBe(sha256(bytes));
      await client.close();
    } finally {
      await server.close();
      await bucket.remove();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe("fsck on a bucket", () => {
  it("hashes every object, reports damaged and missing bytes, and quarantines within the bucket", async () => {
    const bucket = await createTestBucket();
    const dataDir = await mkdtemp(join(tmpdir(), "vi-s3-fsck-"));
    const s3 = testS3Config(bucket.bucket);
    try {
      const server = await startServer({ host: "127.0.0.1", port: 0, dataDir, s3, processingConcurrency: 0 });
      const { organizationId, secretKey } = server.created!;
      const client = new Client({ endpoint: server.url, organizationId, secretKey });
      const { datasetId } = await client.datasets.create({ name: "fsck" });
      const [good, damaged, lost] = [uniqueJpeg(), uniqueJpeg(), uniqueJpeg()];
      for (const [name, bytes] of [
        ["good.jpg", good],
        ["damaged.jpg", damaged],
        ["lost.jpg", lost],
      ] as const)
        await writeFile(join(dataDir, name), bytes);
      const paths = ["good.jpg", "damaged.jpg", "lost.jpg"].map((n) => join(dataDir, n));
      await client.assets.upload({ datasetId, paths, showProgress: false, digestCache: false });
      await client.close();
      await server.close();
      expect(await fsck({ dataDir, s3 })).toMatchObject({ blobsChecked: 3, clean: true });

      const damagedBytes = Buffer.from(damaged);
      damagedBytes[200]! ^= 0xff;
      await bucket.client.send(
        new PutObjectCommand({ Bucket: bucket.bucket, Key: `blobs/${sha256(damaged)}`, Body: damagedBytes }),
      );
      await bucket.client.send(new DeleteObjectCommand({ Bucket: bucket.bucket, Key: `blobs/${sha256(lost)}` }));
      const report = await fsck({ dataDir, s3, quarantine: true });
      expect(report.damaged).toEqual([
        expect.objectContaining({
          sha256: sha256(damaged),
          problem: "sha256-mismatch",
          actualSha256: sha256(damagedBytes),
        }),
      ]);
      expect(report.assetsWithoutBytes.map((a) => [a.filename, a.problem]).sort()).toEqual([
        ["damaged.jpg", "damaged"],
        ["lost.jpg", "missing"],
      ]);
      expect(report.damaged[0]!.quarantinedTo).toMatch(
        new RegExp(`^s3://${bucket.bucket}/quarantine/${sha256(damaged)}`),
      );
      expect((await fsck({ dataDir, s3 })).assetsWithoutBytes.map((a) => a.problem)).toEqual(["missing", "missing"]);
    } finally {
      await bucket.remove();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

function crcBase64(bytes: Buffer): string {
  const b = Buffer.alloc(4);
  b.writeInt32BE(crcOf(bytes));
  return b.toString("base64");
}
