import { crc32 } from "node:zlib";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseForDataDir, embeddedOnly, scaleout } from "../helpers/test-database.mjs";
import { startServer, fsck, type RunningServer } from "@vi/server";
import { Client, type Asset } from "@vi/sdk";
import { FIXTURES, loadManifest } from "../helpers/fixtures.js";

/**
 * Processing after upload, end to end through the SDK against real servers: every format is
 * decoded and thumbnailed off the upload path; an asset that does not decode ends in `error`
 * with its reason and no thumbnail URL; filters find both states and bulk delete clears the
 * errors; jobs survive a restart; reprocessing is idempotent; new bytes get a new thumbnail.
 */

/** A PNG whose chunks all check out (CRCs right) but whose IDAT zlib stream is garbage: only a decoder can tell. */
async function undecodablePng(): Promise<Buffer> {
  const png = await readFile(join(FIXTURES, "valid", "gray.png"));
  const out = Buffer.from(png);
  let at = 8;
  while (at < out.length) {
    const length = out.readUInt32BE(at);
    const type = out.toString("latin1", at + 4, at + 8);
    if (type === "IDAT") {
      // Keep the 2-byte zlib header, scramble the deflate data, then make the CRC right again.
      for (let i = at + 10; i < at + 8 + length; i++) out[i] = (out[i]! * 31 + 7) & 0xff;
      out.writeUInt32BE(crc32(out.subarray(at + 4, at + 8 + length)) >>> 0, at + 8 + length);
    }
    at += 12 + length;
  }
  return out;
}

interface Running {
  server: RunningServer;
  client: Client;
}

async function start(dataDir: string, processingConcurrency: number): Promise<Running> {
  // In the scale-out configuration, on the folder's PostgreSQL database (the same one on a restart).
  const database = scaleout() ? { databaseUrl: await databaseForDataDir(dataDir) } : {};
  const server = await startServer({ host: "127.0.0.1", port: 0, dataDir, processingConcurrency, ...database });
  const { organizationId, secretKey } = JSON.parse(await readFile(server.credentialsPath!, "utf8")) as {
    organizationId: string;
    secretKey: string;
  };
  return { server, client: new Client({ endpoint: server.url, organizationId, secretKey, maxRetries: 1 }) };
}

async function listAll(client: Client, datasetId: string, filter?: Record<string, unknown>): Promise<Asset[]> {
  const out: Asset[] = [];
  for await (const page of client.assets.list({ datasetId, contents: true, ...(filter ? { filter } : {}) }))
    out.push(...page.items);
  return out;
}

describe("processing: decode, thumbnail and status after upload", () => {
  let dataDir: string;
  let work: string;
  let run: Running;
  let datasetId: string;
  const manifest = loadManifest();

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "vi-processing-"));
    work = await mkdtemp(join(tmpdir(), "vi-processing-work-"));
    await cp(join(FIXTURES, "valid"), join(work, "set"), { recursive: true });
    await writeFile(join(work, "set", "undecodable.png"), await undecodablePng());
    // Valid, but a variant the JPEG 2000 decoder cannot read (4 components): no thumbnail, no error.
    await cp(join(FIXTURES, "decode-corpus", "jp2-rgba.jp2"), join(work, "set", "rgba.jp2"));
    run = await start(dataDir, 1);
    datasetId = (await run.client.datasets.create({ name: "processing" })).datasetId;
  });
  afterAll(async () => {
    await run?.server.close();
    await rm(dataDir, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  });

  it("the nine formats get thumbnails and a completed status; an undecodable file an error with its reason", async () => {
    const upload = await run.client.assets.upload({
      datasetId,
      paths: join(work, "set"),
      failureMode: "FailAfterAll",
      showProgress: false,
      digestCache: false,
    });
    // The header probe accepts the undecodable PNG: its structure is sound.
    expect(upload.totalSucceeded).toBe(Object.keys(manifest.valid).length + 2);
    const [sessionId] = upload.sessionIds;
    const session = await run.client.assets.waitUntilDone({
      datasetId,
      assetIngestionSessionId: sessionId!,
      processing: true,
      timeout: 120_000,
    });
    expect(session.status.processing).toEqual({
      processing: 0,
      completed: Object.keys(manifest.valid).length + 1,
      errored: 1,
    });

    const assets = new Map((await listAll(run.client, datasetId)).map((a) => [a.filename, a]));
    for (const [name, expected] of Object.entries(manifest.valid)) {
      const a = assets.get(name)!;
      expect(a.metadata, name).toMatchObject({ status: "uploaded", uploadStatus: "completed", thumbnail: "ready" });
      expect(a.metadata.generations.thumbnail, name).not.toBe("0");
      expect(a.metadata.media, name).toMatchObject({ decodedWidth: expected.width, decodedHeight: expected.height });
      const url = a.contents?.thumbnail?.url;
      expect(url, name).toBeDefined();
      const response = await fetch(url!);
      expect(response.status, name).toBe(200);
      expect(response.headers.get("content-type"), name).toBe("image/webp");
      const thumb = await sharp(Buffer.from(await response.arrayBuffer())).metadata();
      expect(thumb.format, name).toBe("webp");
      // Longest side 256 at most (never upscaled), orientation applied: the aspect is the displayed one.
      expect(Math.max(thumb.width, thumb.height), name).toBe(Math.min(256, Math.max(expected.width, expected.height)));
      expect(Math.sign(thumb.width - thumb.height), name).toBe(Math.sign(expected.width - expected.height));
    }

    const rgba = assets.get("rgba.jp2")!;
    expect(rgba.metadata).toMatchObject({ status: "uploaded", uploadStatus: "completed", thumbnail: "none" });
    expect(rgba.metadata.statusReason).toMatch(/4 components/);
    expect(rgba.contents?.thumbnail).toBeUndefined();

    const bad = assets.get("undecodable.png")!;
    expect(bad.metadata).toMatchObject({ status: "error", uploadStatus: "completed", thumbnail: "none" });
    expect(bad.metadata.statusReason).toMatch(/\S/);
    expect(bad.metadata.generations.thumbnail).toBe("0");
    expect(bad.contents?.asset?.url).toBeDefined();
    expect(bad.contents?.thumbnail).toBeUndefined();
  });

  it("filters find errored assets, and bulk delete by status clears them (the guide's example)", async () => {
    const errored = await listAll(run.client, datasetId, { status: "error" });
    expect(errored.map((a) => a.filename)).toEqual(["undecodable.png"]);
    expect(await listAll(run.client, datasetId, { uploadStatus: "processing" })).toEqual([]);
    const deleted = await run.client.datasets.bulkDeleteAssets({ datasetId, filter: '{"status": "error"}' });
    expect(deleted.status.deleted).toBe(1);
    expect(await listAll(run.client, datasetId, { status: "error" })).toEqual([]);
    expect((await listAll(run.client, datasetId)).length).toBe(Object.keys(manifest.valid).length + 1);
  });

  it("a tampered thumbnail URL is refused; a replaced asset's old thumbnail URL answers 404", async () => {
    const [a] = (await listAll(run.client, datasetId)).filter((x) => x.filename === "static.gif");
    const url = new URL(a!.contents!.thumbnail!.url);
    const tampered = new URL(url);
    tampered.pathname = tampered.pathname.replace(
      /\/(\d+)\/thumbnail\.webp$/,
      (_m, g) => `/${Number(g) + 1}/thumbnail.webp`,
    );
    expect((await fetch(tampered)).status).toBe(403);
    const renamed = new URL(url);
    renamed.pathname = renamed.pathname.replace(/thumbnail\.webp$/, "other.webp");
    expect((await fetch(renamed)).status).toBe(403);

    // New bytes under the same name: processed again, with a new thumbnail at a new path.
    const dir = join(work, "replace");
    await mkdir(dir, { recursive: true });
    await cp(join(FIXTURES, "valid", "animated.gif"), join(dir, "static.gif"));
    const upload = await run.client.assets.upload({ datasetId, paths: dir, showProgress: false, digestCache: false });
    await run.client.assets.waitUntilDone({
      datasetId,
      assetIngestionSessionId: upload.sessionIds[0]!,
      processing: true,
      timeout: 60_000,
    });
    const replaced = await run.client.assets.get({ datasetId, assetId: a!.assetId, contents: true });
    expect(replaced.metadata).toMatchObject({ uploadStatus: "completed", thumbnail: "ready", width: 120, height: 80 });
    expect(replaced.contents!.thumbnail!.url).not.toBe(url.toString());
    expect((await fetch(url)).status).toBe(404);
    expect((await fetch(replaced.contents!.thumbnail!.url)).status).toBe(200);
  });

  it("reprocessing is idempotent: only older builds by default, every asset with all", async () => {
    expect((await run.client.datasets.reprocess({ datasetId })).queued).toBe(0);
    const total = (await listAll(run.client, datasetId)).length;
    const first = await run.client.datasets.reprocess({ datasetId, all: true });
    const second = await run.client.datasets.reprocess({ datasetId, all: true });
    // Assets still queued from the first call are not queued twice.
    expect(first.queued).toBe(total);
    expect(second.queued).toBeLessThanOrEqual(total);
    const before = new Map((await listAll(run.client, datasetId)).map((a) => [a.assetId, a]));
    // Wait for the backlog through the filter, as a user would.
    for (let i = 0; i < 600 && (await listAll(run.client, datasetId, { uploadStatus: "processing" })).length > 0; i++)
      await new Promise((r) => setTimeout(r, 100));
    const after = await listAll(run.client, datasetId);
    for (const a of after) {
      expect(a.metadata.uploadStatus).toBe("completed");
      // The same bytes make the same thumbnail: its signed path (generation) stays.
      expect(a.metadata.generations.thumbnail).toBe(before.get(a.assetId)!.metadata.generations.thumbnail);
    }
  });

  it("jobs are durable: assets uploaded while processing is off are processed after a restart", async () => {
    await run.server.close();
    run = await start(dataDir, 0);
    // Under new names: two are bytes the organization holds (their outcome is reused, not decoded
    // again), one is new bytes that must be decoded.
    const dir = join(work, "later");
    await mkdir(dir, { recursive: true });
    for (const name of ["phone.heic", "satellite.jp2"])
      await cp(join(FIXTURES, "valid", name), join(dir, `later-${name}`));
    const noise = Buffer.from(Array.from({ length: 90 * 60 * 3 }, (_, i) => (i * 7919) % 251));
    await sharp(noise, { raw: { width: 90, height: 60, channels: 3 } })
      .png()
      .toFile(join(dir, "later-fresh.png"));
    const upload = await run.client.assets.upload({ datasetId, paths: dir, showProgress: false, digestCache: false });
    expect(upload.totalSucceeded).toBe(3);
    const later = ["later-fresh.png", "later-phone.heic", "later-satellite.jp2"];
    const pending = await listAll(run.client, datasetId, { uploadStatus: "processing" });
    expect(pending.map((a) => a.filename).sort()).toEqual(later);
    expect(pending.every((a) => a.metadata.thumbnail === "pending" && a.contents?.thumbnail === undefined)).toBe(true);
    // Nothing waits on processing unless asked: the upload finished with processing off.
    await run.server.close();

    run = await start(dataDir, 1);
    await run.client.assets.waitUntilDone({
      datasetId,
      assetIngestionSessionId: upload.sessionIds[0]!,
      processing: true,
      timeout: 60_000,
    });
    const done = (await listAll(run.client, datasetId))
      .filter((a) => later.includes(a.filename))
      .sort((x, y) => x.filename.localeCompare(y.filename));
    expect(done.map((a) => [a.filename, a.metadata.uploadStatus, a.metadata.thumbnail])).toEqual(
      later.map((name) => [name, "completed", "ready"]),
    );
    expect(done.find((a) => a.filename === "later-fresh.png")!.metadata).toMatchObject({
      media: { decodedWidth: 90, decodedHeight: 60, channels: 3 },
    });
  });

  const fsckOnSqlite = embeddedOnly("fsck reads a stopped server's SQLite data folder");

  it.skipIf(fsckOnSqlite)("fsck finds a lost thumbnail, and reprocessing makes it again", async () => {
    const [asset] = (await listAll(run.client, datasetId)).filter((a) => a.filename === "later-fresh.png");
    await run.server.close();
    const db = new Database(join(dataDir, "metadata.sqlite"), { readonly: true });
    const { thumbnail_sha256: sha } = db
      .prepare("select thumbnail_sha256 from assets where asset_id = ?")
      .get(asset!.assetId) as { thumbnail_sha256: string };
    db.close();
    await rm(join(dataDir, "blobs", sha.slice(0, 2), sha));
    const lost = await fsck({ dataDir });
    expect(lost.clean).toBe(false);
    expect(lost.assetsWithoutBytes).toEqual([]);
    expect(lost.thumbnailsWithoutBytes).toEqual([
      expect.objectContaining({ assetId: asset!.assetId, sha256: sha, problem: "missing" }),
    ]);

    run = await start(dataDir, 1);
    await run.client.datasets.reprocess({ datasetId, all: true });
    for (
      let i = 0;
      i < 600 && (await run.client.assets.count({ datasetId, filter: { uploadStatus: "processing" } })) > 0;
      i++
    )
      await new Promise((r) => setTimeout(r, 100));
    const thumb = (await run.client.assets.get({ datasetId, assetId: asset!.assetId, contents: true })).contents!
      .thumbnail!;
    expect((await fetch(thumb.url)).status).toBe(200);
    await run.server.close();
    expect((await fsck({ dataDir })).clean).toBe(true);
    run = await start(dataDir, 1);
  });

  it.skipIf(fsckOnSqlite)("deleting the dataset leaves no thumbnail behind: fsck finds the store clean", async () => {
    await run.client.datasets.delete({ datasetId });
    await run.server.close();
    const report = await fsck({ dataDir });
    expect(report.unreferencedBlobs).toEqual([]);
    expect(report.clean).toBe(true);
    run = await start(dataDir, 1);
  });
});
