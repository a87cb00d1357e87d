import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Client } from "@vi/sdk";
import { uniqueJpeg } from "../helpers/jpeg.mjs";
import { startServerProcess, type ServerProcess } from "../helpers/server-process.mjs";
import { killMidUpload } from "../helpers/crash.js";
import { openStoreReader } from "../helpers/test-database.mjs";
import { localOnly } from "../helpers/s3-bucket.mjs";

const FILES = 400;

async function blobFiles(dataDir: string): Promise<Set<string>> {
  const entries = await readdir(join(dataDir, "blobs"), { recursive: true, withFileTypes: true });
  return new Set(entries.filter((e) => e.isFile()).map((e) => e.name));
}

async function committedBlobs(dataDir: string): Promise<{ assets: string[]; blobs: string[] }> {
  const db = await openStoreReader(dataDir);
  try {
    const assets = ((await db.all("select sha256 from assets")) as { sha256: string }[]).map((r) => r.sha256);
    const blobs = ((await db.all("select sha256 from blobs")) as { sha256: string }[]).map((r) => r.sha256);
    return { assets, blobs };
  } finally {
    await db.close();
  }
}

/** SIGKILL in the middle of a large upload: no half-visible asset, and the re-run completes. */
describe("a server killed mid-upload", () => {
  let home: string;
  let server: ServerProcess | undefined;
  afterAll(async () => {
    await server?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it.skipIf(
    localOnly(
      "checks the data folder's blobs and staging on disk after SIGKILL (the crash test against a bucket is test/e2e/crash-bucket.test.ts)",
    ),
  )("restarts with every row backed by bytes and no bytes without a row, and the re-run finishes", async () => {
    home = await mkdtemp(join(tmpdir(), "vi-crash-"));
    const dataDir = join(home, "data");
    const images = join(home, "images");
    await mkdir(images);
    for (let i = 0; i < FILES; i++)
      await writeFile(join(images, `frame-${String(i).padStart(4, "0")}.jpg`), uniqueJpeg(60_000 + i));

    server = await startServerProcess(dataDir);
    // Killed once part of the upload is committed, while PUTs are in flight.
    const datasetId = await killMidUpload(server, images, "crash", FILES / 4);
    server = undefined;

    // Before restart: every committed row has its bytes on disk.
    const before = await committedBlobs(dataDir);
    const onDisk = await blobFiles(dataDir);
    expect(before.assets.length).toBeGreaterThan(0);
    expect(before.assets.length).toBeLessThan(FILES);
    for (const sha of before.assets) expect(onDisk.has(sha), sha).toBe(true);

    server = await startServerProcess(dataDir);
    expect(await readdir(join(dataDir, "staging"))).toEqual([]);
    expect(existsSync(join(dataDir, "clean-shutdown"))).toBe(false);
    // A running server holds its database exclusively: the file is read with the server stopped.
    await server.stop();
    const after = await committedBlobs(dataDir);
    expect(new Set(after.blobs)).toEqual(await blobFiles(dataDir));
    server = await startServerProcess(dataDir);

    const again = new Client({
      endpoint: server.url,
      organizationId: server.creds.organizationId,
      secretKey: server.creds.secretKey,
    });
    const result = await again.assets.upload({ datasetId, paths: images, concurrency: 8, showProgress: false });
    expect(result.totalSucceeded).toBe(FILES);
    expect(result.totalFailed).toBe(0);
    // Files committed before the crash were not sent again.
    expect(result.bytesSent).toBeLessThan(FILES * 60_000);
    expect((await again.datasets.get({ datasetId })).statistic.assetTotal).toBe(FILES);
    await again.close();
    await server.stop();
    server = undefined;
    const final = await committedBlobs(dataDir);
    expect(final.assets).toHaveLength(FILES);
    expect(new Set(final.assets).size).toBe(FILES);
    expect(new Set(final.blobs)).toEqual(await blobFiles(dataDir));
  });
});
