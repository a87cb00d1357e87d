import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type ListObjectsV2CommandOutput,
} from "@aws-sdk/client-s3";
import { afterAll, describe, expect, it } from "vitest";
import { Client, type Asset } from "@vi/sdk";
import { uniqueJpeg } from "../helpers/jpeg.mjs";
import { startServerProcess, type ServerProcess } from "../helpers/server-process.mjs";
import { killMidUpload } from "../helpers/crash.js";
import { openStoreReader } from "../helpers/test-database.mjs";
import { bucketForDataDir, s3Env, testS3Client } from "../helpers/s3-bucket.mjs";
import { useS3TestServer } from "../helpers/own-s3.js";

/**
 * crash.test.ts against a bucket: the server is SIGKILLed in the middle of an SDK upload whose
 * bytes go to presigned PUTs in the bucket, and everything is checked in the bucket itself. The
 * PUTs go to the S3 test server, not to the killed process, so some land after the kill: the
 * restarted server must verify and commit them, or clean them away, like any other.
 *
 * It runs in both configurations: SQLite and an s3rver of its own in the default run (so it
 * always runs), PostgreSQL and the run's s3rver in the scale-out one. s3rver checks neither
 * signatures nor checksums: every check here is on what the Vi server did.
 */
const FILES = 400;
const SIZE = 60_000;

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

useS3TestServer();

/** Every key under `prefix` in the bucket (listed page by page: there are more than 1000 at times). */
async function keysOf(bucket: string, prefix: string): Promise<string[]> {
  const client = testS3Client();
  try {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page: ListObjectsV2CommandOutput = await client.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }),
      );
      for (const o of page.Contents ?? []) keys.push(o.Key!);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  } finally {
    client.destroy();
  }
}

const blobKeys = async (bucket: string) =>
  new Set((await keysOf(bucket, "blobs/")).map((k) => k.slice("blobs/".length)));

async function removeBucket(bucket: string): Promise<void> {
  const client = testS3Client();
  try {
    for (let keys = await keysOf(bucket, ""); keys.length > 0; keys = await keysOf(bucket, "")) {
      const objects = keys.slice(0, 1000).map((Key) => ({ Key }));
      await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } }));
    }
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
}

/** The digests the killed (or stopped) server's metadata holds: assets' bytes and thumbnails, and the blob rows. */
async function storedRows(dataDir: string) {
  const db = await openStoreReader(dataDir);
  try {
    const assets = (await db.all("select filename, sha256, thumbnail_sha256 from assets")) as {
      filename: string;
      sha256: string;
      thumbnail_sha256: string | null;
    }[];
    const blobs = ((await db.all("select sha256 from blobs")) as { sha256: string }[]).map((r) => r.sha256);
    return { assets, blobs };
  } finally {
    await db.close();
  }
}

async function listAll(client: Client, datasetId: string, contents = false): Promise<Asset[]> {
  const items: Asset[] = [];
  for await (const page of client.assets.list({ datasetId, contents, pageSize: 500 })) items.push(...page.items);
  return items;
}

/**
 * The digest of an asset's thumbnail, as the bucket names it: the API's thumbnail URL redirects to
 * a presigned GET of `blobs/<sha256>`. (The API does not say the digest itself.)
 */
async function thumbnailDigest(asset: Asset): Promise<string | undefined> {
  const url = asset.contents?.thumbnail?.url;
  if (!url) return undefined;
  const res = await fetch(url, { redirect: "manual" });
  expect(res.status).toBe(302);
  const m = /\/blobs\/([0-9a-f]{64})$/.exec(new URL(res.headers.get("location")!).pathname);
  expect(m, res.headers.get("location")!).not.toBeNull();
  return m![1];
}

describe("a server on a bucket killed mid-upload", () => {
  let home: string;
  let bucket: string | undefined;
  let server: ServerProcess | undefined;
  afterAll(async () => {
    await server?.stop();
    if (bucket) await removeBucket(bucket);
    if (home) await rm(home, { recursive: true, force: true });
  });

  it(
    "restarts with every asset readable from the bucket; the re-run lands each file once and leaves nothing behind",
    {
      timeout: 480_000,
    },
    async () => {
      home = await mkdtemp(join(tmpdir(), "vi-crash-s3-"));
      const dataDir = join(home, "data");
      const images = join(home, "images");
      await mkdir(images);
      const original = new Map<string, Buffer>();
      for (let i = 0; i < FILES; i++) {
        const name = `frame-${String(i).padStart(4, "0")}.jpg`;
        const bytes = uniqueJpeg(SIZE + i);
        original.set(name, bytes);
        await writeFile(join(images, name), bytes);
      }
      const digestOf = new Map([...original].map(([name, bytes]) => [name, sha256(bytes)]));

      // The same bucket for every start over this folder (the scale-out run's server process would
      // pick this one too); named explicitly so that the embedded run, on SQLite, uses it as well.
      bucket = await bucketForDataDir(dataDir);
      // Processing jobs the killed process had claimed are taken again once their lease runs
      // out: 4 decode timeouts (2 minutes by default), at least one minute. The shortest lease
      // brings the thumbnails awaited in (5) a minute sooner; these small photos decode in
      // milliseconds, so 15 s is far from tight.
      const env = { ...s3Env(bucket), VI_DECODE_TIMEOUT: "15" };
      server = await startServerProcess(dataDir, env);
      // Killed once part of the upload is committed, while PUTs to the bucket and their
      // verification by the server are in flight.
      const datasetId = await killMidUpload(server, images, "crash-bucket", FILES / 4);
      server = undefined;

      // Before restart: every committed row has its object in the bucket (bytes are published
      // before the row is committed, so a kill in between leaves bytes without a row, never the reverse).
      const before = await storedRows(dataDir);
      const inBucket = await blobKeys(bucket);
      expect(before.assets.length).toBeGreaterThan(0);
      expect(before.assets.length).toBeLessThan(FILES);
      for (const a of before.assets) {
        expect(a.sha256, a.filename).toBe(digestOf.get(a.filename));
        expect(inBucket.has(a.sha256), a.filename).toBe(true);
        if (a.thumbnail_sha256) expect(inBucket.has(a.thumbnail_sha256), `${a.filename} thumbnail`).toBe(true);
      }
      for (const sha of before.blobs) expect(inBucket.has(sha), sha).toBe(true);

      // What a kill between publishing bytes and committing their row leaves, made certain: the
      // kill above may leave such bytes too, but here they are taken up again (same digest) when
      // their file lands after the restart, so they would prove nothing. These belong to no file.
      const abandoned = uniqueJpeg();
      const abandonedKey = `blobs/${sha256(abandoned)}`;
      const s3 = testS3Client();
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: abandonedKey, Body: abandoned }));
      s3.destroy();

      server = await startServerProcess(dataDir, env);
      // The crash sweep runs before the server listens: no waiting needed.
      expect(await keysOf(bucket, abandonedKey)).toEqual([]);
      const again = new Client({
        endpoint: server.url,
        organizationId: server.creds.organizationId,
        secretKey: server.creds.secretKey,
      });

      // (1) Every asset the restarted server lists reads back whole: the SDK checks each file's
      // size and SHA-256 against the asset before keeping it, and here it is also compared with the
      // file that was sent. (The staging sweep may commit more while this runs: the listing decides.)
      const listed = await listAll(again, datasetId);
      expect(listed.length).toBeGreaterThanOrEqual(before.assets.length);
      const saveDir = join(home, "download");
      const downloaded = await again.assets.download({ datasetId, saveDir, showProgress: false });
      expect(downloaded.failed).toEqual([]);
      expect(downloaded.downloaded).toBeGreaterThanOrEqual(listed.length);
      const saved = await readdir(saveDir);
      expect(saved.length).toBe(downloaded.downloaded);
      for (const name of saved)
        expect((await readFile(join(saveDir, name))).equals(original.get(name)!), name).toBe(true);
      // (2) No asset without its object in the bucket.
      const afterRestart = await blobKeys(bucket);
      for (const a of listed) expect(afterRestart.has(a.metadata.hash.contents), a.filename).toBe(true);

      // (3) The re-run of the same upload: every file an asset, each exactly once, with its bytes.
      const result = await again.assets.upload({
        datasetId,
        paths: images,
        concurrency: 8,
        showProgress: false,
      });
      expect(result.totalFailed).toBe(0);
      expect(result.totalSucceeded).toBe(FILES);
      // Files committed before the crash were not sent again.
      expect(result.bytesSent).toBeLessThan(FILES * SIZE);
      expect((await again.datasets.get({ datasetId })).statistic.assetTotal).toBe(FILES);
      const final = await listAll(again, datasetId);
      expect(final).toHaveLength(FILES);
      expect(new Set(final.map((a) => a.filename)).size).toBe(FILES);
      for (const a of final) expect(a.metadata.hash.contents, a.filename).toBe(digestOf.get(a.filename));

      // (4) Staging objects of every session are gone: those committed by the re-run at once,
      // those of the killed run's sessions (still running, or settled) by the StagingSweeper, every
      // 5 s. Generous: a shared machine may be slow, and nothing here depends on how fast.
      await expect.poll(() => keysOf(bucket!, "staging/"), { timeout: 60_000, interval: 500 }).toEqual([]);

      // (5) Bytes no asset references are released: once every asset is processed (thumbnails
      // are blobs too; the jobs the killed process held wait for their lease, about a minute),
      // the bucket holds exactly the assets' bytes and thumbnails. Bytes the kill left published
      // without their row went with the crash sweep at start (above); bytes freed since go by the
      // releaser's background job (every 2 s with a bucket).
      await expect
        .poll(async () => (await listAll(again, datasetId)).filter((a) => a.metadata.thumbnail === "pending").length, {
          timeout: 240_000,
          interval: 1000,
        })
        .toBe(0);
      const processed = await listAll(again, datasetId, true);
      const referenced = new Set(processed.map((a) => a.metadata.hash.contents));
      for (const a of processed) {
        const thumb = await thumbnailDigest(a);
        if (thumb) referenced.add(thumb);
      }
      await expect
        .poll(async () => [...(await blobKeys(bucket!))].sort(), { timeout: 60_000, interval: 1000 })
        .toEqual([...referenced].sort());
      await again.close();

      // The metadata agrees, read with the server stopped (SQLite is held by the running server).
      await server.stop();
      server = undefined;
      const rows = await storedRows(dataDir);
      expect(rows.assets).toHaveLength(FILES);
      expect(new Set(rows.assets.map((a) => a.filename)).size).toBe(FILES);
      const rowDigests = new Set(
        rows.assets.flatMap((a) => (a.thumbnail_sha256 ? [a.sha256, a.thumbnail_sha256] : [a.sha256])),
      );
      expect([...rowDigests].sort()).toEqual([...referenced].sort());
      expect([...new Set(rows.blobs)].sort()).toEqual([...referenced].sort());
      expect([...(await blobKeys(bucket))].sort()).toEqual([...referenced].sort());
    },
  );
});
