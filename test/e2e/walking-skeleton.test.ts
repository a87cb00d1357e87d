import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, readdir, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client, ViNotFoundError, type Asset } from "@vi/sdk";
import { FIXTURES, startTestServer, type TestServer } from "../helpers/server.js";
import { scaleout } from "../helpers/s3-bucket.mjs";

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** The whole flow of the README's quickstart, through the SDK, against a real server. */
describe("walking skeleton: create, upload a folder, list, get, download, delete", () => {
  let t: TestServer;
  let folder: string;
  let datasetId: string;

  beforeAll(async () => {
    t = await startTestServer();
    folder = await mkdtemp(join(tmpdir(), "vi-folder-"));
    await mkdir(join(folder, "cats"), { recursive: true });
    await cp(join(FIXTURES, "valid", "photo-baseline.jpg"), join(folder, "cats", "a.jpg"));
    await cp(join(FIXTURES, "valid", "rgba.png"), join(folder, "cats", "b.png"));
    await cp(join(FIXTURES, "valid", "exif-orientation-6.jpg"), join(folder, "c.jpg"));
    await cp(join(FIXTURES, "valid", "gray.png"), join(folder, "d.png"));
    await writeFile(join(folder, "notes.txt"), "not an image, and not named: skipped by the walker");
  });
  afterAll(async () => t?.stop());

  it("reads its credentials from the file the server wrote, mode 0600", async () => {
    const info = await stat(t.server.credentialsPath!);
    expect(info.mode & 0o777).toBe(0o600);
    const creds = JSON.parse(await readFile(t.server.credentialsPath!, "utf8")) as Record<string, string>;
    expect(creds).toMatchObject({ organizationId: t.organizationId, secretKey: t.secretKey, endpoint: t.server.url });
    const fromFile = new Client({ configFile: t.server.credentialsPath! });
    const org = await fromFile.organizations.get();
    expect(org.workspaceId).toBe(t.organizationId);
    expect(org.limits.maxFileSize).toBeGreaterThan(0);
  });

  it("creates a dataset and lists it", async () => {
    const ds = await t.client.datasets.create({ name: "cats and dogs", description: "e2e" });
    datasetId = ds.datasetId;
    expect(ds).toMatchObject({
      kind: "Dataset",
      name: "cats and dogs",
      description: "e2e",
      workspaceId: t.organizationId,
    });
    const page = await t.client.datasets.list();
    expect(page.items.map((d) => d.datasetId)).toContain(datasetId);
    expect((await t.client.datasets.get({ datasetId })).statistic.assetTotal).toBe(0);
  });

  it("uploads a folder recursively, naming assets by their path in the folder", async () => {
    const result = await t.client.assets.upload({
      datasetId,
      paths: folder,
      showProgress: false,
      // Assets are processed (decoded, thumbnailed) after upload; the checks below see the outcome.
      waitForProcessing: true,
    });
    expect(result.totalFiles).toBe(4);
    expect(result.totalSucceeded).toBe(4);
    expect(result.totalFailed).toBe(0);
    expect(result.successRate).toBe(100);
    expect(result.sessionIds).toHaveLength(1);
    expect(result.summary()).toMatch(/4/);
    expect((await t.client.datasets.get({ datasetId })).statistic.assetTotal).toBe(4);
  });

  it("lists assets in upload order, page by page, with metadata from the bytes", async () => {
    const seen: Asset[] = [];
    let pages = 0;
    for await (const page of t.client.assets.list({ datasetId, pageSize: 3 })) {
      pages++;
      seen.push(...page.items);
    }
    expect(pages).toBe(2);
    expect(seen.map((a) => a.filename).sort()).toEqual(["c.jpg", "cats/a.jpg", "cats/b.png", "d.png"]);
    const byName = new Map(seen.map((a) => [a.filename, a]));
    expect(byName.get("cats/a.jpg")!.metadata).toMatchObject({
      mimeType: "image/jpeg",
      width: 640,
      height: 480,
      frames: 1,
      status: "uploaded",
      uploadStatus: "completed",
    });
    expect(byName.get("cats/b.png")!.metadata).toMatchObject({ mimeType: "image/png", width: 256, height: 128 });
    // Displayed size: EXIF orientation 6 swaps the stored 400x300 grid.
    expect(byName.get("c.jpg")!.metadata).toMatchObject({
      width: 300,
      height: 400,
      dimensions: { width: 400, height: 300 },
      orientation: 6,
    });
    const original = await readFile(join(folder, "cats", "a.jpg"));
    expect(byName.get("cats/a.jpg")!.metadata.hash).toEqual({ algorithm: "sha256", contents: sha256(original) });
    expect(byName.get("cats/a.jpg")!.metadata.fileSize).toBe(original.length);
    expect(byName.get("cats/a.jpg")!.datasetId).toBe(`${t.organizationId}_${datasetId}`);
  });

  it("gets one asset with a signed URL that ends in its filename and serves HEAD and ranges", async () => {
    const [first] = (await t.client.assets.list({ datasetId, sortBy: { criterion: "filename", order: "asc" } })).items;
    const asset = await t.client.assets.get({ datasetId, assetId: first!.assetId, contents: true });
    const url = asset.contents!.asset!.url;
    expect(new URL(url).pathname.endsWith("/c.jpg")).toBe(true);
    expect(asset.contents!.asset!.expiry).toBeGreaterThan(Date.now());
    const original = await readFile(join(folder, "c.jpg"));

    const full = await fetch(url);
    expect(full.status).toBe(200);
    expect(full.headers.get("content-type")).toBe("image/jpeg");
    // With a bucket the URL redirects to a presigned GET, whose ETag is the store's own (PROTOCOL.md §8).
    if (!scaleout()) expect(full.headers.get("etag")).toBe(`"${sha256(original)}"`);
    expect(full.headers.get("content-disposition")).toContain('filename="c.jpg"');
    expect(Buffer.from(await full.arrayBuffer()).equals(original)).toBe(true);

    const head = await fetch(url, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(original.length));

    const part = await fetch(url, { headers: { range: "bytes=10-19" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 10-19/${original.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(original.subarray(10, 20))).toBe(true);

    // s3rver, the scale-out run's test store, does not take suffix ranges (S3 does).
    if (!scaleout()) {
      const tail = await fetch(url, { headers: { range: "bytes=-5" } });
      expect(Buffer.from(await tail.arrayBuffer()).equals(original.subarray(original.length - 5))).toBe(true);
    }
    expect((await fetch(url, { headers: { range: `bytes=${original.length}-` } })).status).toBe(416);
  });

  it("refuses a tampered download URL with 403 and serves nothing", async () => {
    const [a] = (await t.client.assets.list({ datasetId, contents: true })).items;
    const url = new URL(a!.contents!.asset!.url);
    const tampered = [
      url.href.replace(/expires=(\d+)/, (_m, n: string) => `expires=${Number(n) + 1000}`),
      // Another first character (replacing it with a fixed one left a signature starting with it whole).
      url.href.replace(/signature=(.)/, (_m, c: string) => `signature=${c === "A" ? "B" : "A"}`),
      url.href.replace(a!.assetId, "someone-else"),
      `${url.origin}${url.pathname}`,
    ];
    for (const href of tampered) {
      const res = await fetch(href);
      expect(res.status, href).toBe(403);
      expect(res.headers.get("content-type")).toContain("application/json");
    }
  });

  it("downloads the whole dataset into a folder, keeping subfolders", async () => {
    const saveDir = await mkdtemp(join(tmpdir(), "vi-download-"));
    const result = await t.client.assets.download({ datasetId, saveDir, showProgress: false });
    expect(result.downloaded).toBe(4);
    expect(result.failed).toEqual([]);
    let total = 0;
    for (const rel of ["cats/a.jpg", "cats/b.png", "c.jpg", "d.png"]) total += (await stat(join(folder, rel))).size;
    expect(result.bytes).toBe(total);
    for (const rel of ["cats/a.jpg", "cats/b.png", "c.jpg", "d.png"]) {
      const got = await readFile(join(result.saveDir, rel));
      expect(got.equals(await readFile(join(folder, rel))), rel).toBe(true);
    }
    const again = await t.client.assets.download({ datasetId, saveDir, showProgress: false });
    expect(again.skipped).toBe(4);
    expect(again.downloaded).toBe(0);
    expect((await readdir(saveDir)).filter((n) => n.includes(".part"))).toEqual([]);
  });

  it("deletes an asset: gone from the list, 404 afterwards, its URL dead", async () => {
    const before = (await t.client.assets.list({ datasetId, contents: true })).items;
    const victim = before.find((a) => a.filename === "d.png")!;
    await expect(t.client.assets.delete({ datasetId, assetId: victim.assetId })).resolves.toMatchObject({
      deleted: true,
    });
    const after = (await t.client.assets.list({ datasetId })).items;
    expect(after.map((a) => a.filename)).not.toContain("d.png");
    await expect(t.client.assets.get({ datasetId, assetId: victim.assetId })).rejects.toBeInstanceOf(ViNotFoundError);
    await expect(t.client.assets.delete({ datasetId, assetId: victim.assetId })).rejects.toBeInstanceOf(
      ViNotFoundError,
    );
    expect((await fetch(victim.contents!.asset!.url)).status).toBe(404);
  });

  it("deletes the dataset with its assets", async () => {
    const deleted = await t.client.datasets.delete({ datasetId });
    expect(deleted).toMatchObject({ kind: "DeletedDataset", datasetId, deletedAssets: 3 });
    await expect(t.client.datasets.get({ datasetId })).rejects.toBeInstanceOf(ViNotFoundError);
    // From a bucket the bytes go by a background job, within seconds.
    await expect.poll(async () => (await t.blobs.names()).size, { timeout: 10_000 }).toBe(0);
  });
});
