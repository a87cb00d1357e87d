import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32c } from "@node-rs/crc32";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiPaths, type IngestionSession } from "@vi/protocol";
import { ViFileTooLargeError, ViUploadError, type Asset } from "@vi/sdk";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { scaleout } from "../helpers/s3-bucket.mjs";
import { FIXTURES, loadManifest, type FixtureManifest } from "../helpers/fixtures.js";
import { uniqueJpeg } from "../helpers/jpeg.mjs";

const INVALID_CODES: Record<string, "EBADMIME" | "ECORRUPT"> = {
  "empty.jpg": "EBADMIME",
  "header-only.gif": "ECORRUPT",
  "notes-not-image.png": "EBADMIME",
  "page-disguised.jpg": "EBADMIME",
  "truncated.jpg": "ECORRUPT",
  "truncated.png": "ECORRUPT",
};

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

async function listAll(t: TestServer, datasetId: string): Promise<Asset[]> {
  const all: Asset[] = [];
  for await (const page of t.client.assets.list({ datasetId, pageSize: 1000 })) all.push(...page.items);
  return all;
}

describe("uploads at full fidelity", () => {
  let t: TestServer;
  let manifest: FixtureManifest;
  let work: string;

  beforeAll(async () => {
    // Processing is off: these tests count the blob files an upload leaves, which thumbnails made
    // in the background would change under them (test/e2e/processing.test.ts covers those).
    t = await startTestServer({ processingConcurrency: 0 });
    manifest = loadManifest();
    work = await mkdtemp(join(tmpdir(), "vi-uploads-"));
  });
  afterAll(async () => t?.stop());

  it("every format yields the manifest's metadata; every bad file fails alone with its code and reason", async () => {
    const datasetId = (await t.client.datasets.create({ name: "formats" })).datasetId;
    const dir = join(work, "formats");
    await mkdir(dir);
    for (const group of ["valid", "mislabelled", "invalid", "hostile"])
      await cp(join(FIXTURES, group), join(dir, group), { recursive: true });
    const result = await t.client.assets.upload({
      datasetId,
      paths: dir,
      failureMode: "FailAfterAll",
      showProgress: false,
    });

    const assets = new Map((await listAll(t, datasetId)).map((a) => [a.filename, a]));
    const expectations = [
      ...Object.entries(manifest.valid).map(([f, e]) => [`valid/${f}`, e] as const),
      ...Object.entries(manifest.mislabelled).map(([f, e]) => [`mislabelled/${f}`, e] as const),
    ];
    for (const [filename, e] of expectations) {
      const m = assets.get(filename)?.metadata;
      expect(m, filename).toBeDefined();
      expect({ mimeType: m!.mimeType, width: m!.width, height: m!.height, frames: m!.frames }, filename).toEqual({
        mimeType: e.mimeType,
        width: e.width,
        height: e.height,
        frames: e.frames,
      });
      expect(m!.dimensions, filename).toEqual({ width: e.rawWidth ?? e.width, height: e.rawHeight ?? e.height });
      expect(m!.orientation, filename).toBe(e.orientation ?? 1);
    }
    const failed = new Map(result.failedFiles.map((f) => [f.filename, f]));
    // vector.svg is not a supported extension: the folder walk never offers it.
    for (const [name, code] of Object.entries(INVALID_CODES)) {
      const f = failed.get(`invalid/${name}`);
      expect(f?.code, name).toBe(code);
      expect(f?.reason.length, name).toBeGreaterThan(10);
      expect(assets.has(`invalid/${name}`), name).toBe(false);
    }
    expect(failed.get("hostile/bomb-30000x30000.png")).toMatchObject({ code: "EBADSIZE" });
    expect(failed.get("hostile/bomb-30000x30000.png")!.reason).toMatch(/30000x30000/);
    expect(result.totalSucceeded).toBe(expectations.length);
    expect(result.totalFailed).toBe(Object.keys(INVALID_CODES).length + 1);
    expect(result.summary()).toMatch(/truncated\.png/);
  });

  it("FailAfterOne (the default) stops at the first error and raises ViUploadError with the partial result", async () => {
    const datasetId = (await t.client.datasets.create({ name: "fail-after-one" })).datasetId;
    const fresh = join(work, "fresh.jpg");
    await writeFile(fresh, uniqueJpeg());
    const err = await t.client.assets
      .upload({
        datasetId,
        paths: [join(FIXTURES, "invalid", "truncated.png"), fresh],
        concurrency: 1,
        showProgress: false,
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ViUploadError);
    const result = (err as ViUploadError).result;
    expect(result.failedFiles[0]).toMatchObject({ filename: "truncated.png", code: "ECORRUPT" });
    expect(result.totalSucceeded).toBe(0);
    expect(result.sessions[0]!.status.conditions.find((c) => c.condition === "Finished")?.status).toBe("FailedReach");
  });

  it("re-running an upload sends no bytes and changes nothing; a changed file is replaced in place", async () => {
    const datasetId = (await t.client.datasets.create({ name: "rerun" })).datasetId;
    const dir = join(work, "rerun");
    await mkdir(dir);
    for (const f of ["a.jpg", "b.jpg", "c.jpg"]) await writeFile(join(dir, f), uniqueJpeg());
    const first = await t.client.assets.upload({ datasetId, paths: dir, showProgress: false });
    expect(first.bytesSent).toBeGreaterThan(0);
    const before = await listAll(t, datasetId);

    const again = await t.client.assets.upload({ datasetId, paths: dir, showProgress: false });
    expect(again.totalSucceeded).toBe(3);
    expect(again.bytesSent).toBe(0);
    const after = await listAll(t, datasetId);
    expect(after.map((a) => [a.assetId, a.metadata.generations.asset])).toEqual(
      before.map((a) => [a.assetId, a.metadata.generations.asset]),
    );

    await writeFile(join(dir, "b.jpg"), uniqueJpeg(80_000));
    const changed = await t.client.assets.upload({ datasetId, paths: dir, showProgress: false });
    expect(changed.bytesSent).toBe((await readFile(join(dir, "b.jpg"))).length);
    const replaced = (await listAll(t, datasetId)).find((a) => a.filename === "b.jpg")!;
    expect(replaced.assetId).toBe(before.find((a) => a.filename === "b.jpg")!.assetId);
    expect(replaced.metadata).toMatchObject({ fileSize: changed.bytesSent, generations: { asset: "2" } });
    expect((await listAll(t, datasetId)).length).toBe(3);
  });

  it("the same bytes under another name in the organization are deduplicated: no bytes sent", async () => {
    const a = (await t.client.datasets.create({ name: "dedup-a" })).datasetId;
    const b = (await t.client.datasets.create({ name: "dedup-b" })).datasetId;
    await t.client.assets.upload({ datasetId: a, paths: join(FIXTURES, "valid", "lossy.webp"), showProgress: false });
    const copy = join(work, "renamed.webp");
    await cp(join(FIXTURES, "valid", "lossy.webp"), copy);
    const result = await t.client.assets.upload({ datasetId: b, paths: copy, showProgress: false });
    expect(result.totalSucceeded).toBe(1);
    expect(result.bytesSent).toBe(0);
    const [asset] = (await t.client.assets.list({ datasetId: b, contents: true })).items;
    expect(asset!.metadata).toMatchObject({ mimeType: "image/webp", width: 400, height: 250 });
    const bytes = Buffer.from(await (await fetch(asset!.contents!.asset!.url)).arrayBuffer());
    expect(bytes.equals(await readFile(copy))).toBe(true);
  });

  it("replacing a file with bytes the organization already holds releases the old bytes (no leak)", async () => {
    const datasetId = (await t.client.datasets.create({ name: "dedup-replace" })).datasetId;
    const dir = join(work, "dedup-replace");
    await mkdir(dir);
    const a = uniqueJpeg(60_000);
    const b = uniqueJpeg(60_000);
    await writeFile(join(dir, "a.jpg"), a);
    await writeFile(join(dir, "b.jpg"), b);
    await t.client.assets.upload({ datasetId, paths: dir, showProgress: false });
    const before = await t.blobs.names();
    // `cp b a`: a's new bytes are deduplicated against b's, and a's old bytes lose their last reference.
    await writeFile(join(dir, "a.jpg"), b);
    const rerun = await t.client.assets.upload({ datasetId, paths: dir, showProgress: false });
    expect(rerun.bytesSent).toBe(0);
    // Released bytes go at once from a folder, within seconds (a background job) from a bucket,
    // where earlier tests' releases may still be landing too: so only a's bytes are counted out.
    await expect.poll(async () => (await t.blobs.names()).has(sha256(a)), { timeout: 10_000 }).toBe(false);
    const after = await t.blobs.names();
    expect([...before].filter((n) => !after.has(n) && n !== sha256(a) && !scaleout())).toEqual([]);
    expect(after.has(sha256(b))).toBe(true);
  });

  it("bytes that went missing or were damaged on disk are never deduplicated against: the file is sent again", async () => {
    const a = (await t.client.datasets.create({ name: "lost-a" })).datasetId;
    const b = (await t.client.datasets.create({ name: "lost-b" })).datasetId;
    const dir = join(work, "lost");
    await mkdir(dir);
    const bytes = uniqueJpeg(70_000);
    await writeFile(join(dir, "one.jpg"), bytes);
    await t.client.assets.upload({ datasetId: a, paths: join(dir, "one.jpg"), showProgress: false });
    const sha = sha256(bytes);
    await t.blobs.write(sha, bytes.subarray(0, 1000)); // truncated behind the server's back
    await writeFile(join(dir, "two.jpg"), bytes);
    const result = await t.client.assets.upload({ datasetId: b, paths: join(dir, "two.jpg"), showProgress: false });
    expect(result.totalSucceeded).toBe(1);
    expect(result.bytesSent).toBe(bytes.length);
    // The upload restored the stored bytes: both assets read back whole.
    for (const datasetId of [a, b]) {
      const [asset] = (await t.client.assets.list({ datasetId, contents: true })).items;
      const got = Buffer.from(await (await fetch(asset!.contents!.asset!.url)).arrayBuffer());
      expect(sha256(got)).toBe(sha);
    }
  });

  it("re-running an upload whose stored bytes went missing sends them again and restores the asset", async () => {
    const datasetId = (await t.client.datasets.create({ name: "restore" })).datasetId;
    const dir = join(work, "restore");
    await mkdir(dir);
    const bytes = uniqueJpeg(64_000);
    await writeFile(join(dir, "kept.jpg"), bytes);
    await t.client.assets.upload({ datasetId, paths: dir, showProgress: false });
    const sha = sha256(bytes);
    await t.blobs.remove(sha); // lost (or quarantined by fsck)
    const rerun = await t.client.assets.upload({ datasetId, paths: dir, showProgress: false });
    expect(rerun.bytesSent).toBe(bytes.length);
    const [asset] = (await t.client.assets.list({ datasetId, contents: true })).items;
    const got = Buffer.from(await (await fetch(asset!.contents!.asset!.url)).arrayBuffer());
    expect(sha256(got)).toBe(sha);
  });

  describe("overwrite policy and annotations", () => {
    let datasetId: string;
    let dir: string;
    const headers = () => ({
      authorization: `Bearer ${t.secretKey}`,
      "organization-id": t.organizationId,
      "content-type": "application/json",
    });
    const annotate = async (assetId: string) => {
      const res = await fetch(`${t.server.url}${apiPaths.annotations(t.organizationId, datasetId, assetId)}`, {
        method: "POST",
        headers: headers(),
        body: JSON.stringify({
          spec: {
            tag: "car",
            contents: {
              bound: [
                [0, 0],
                [1, 1],
              ],
            },
          },
        }),
      });
      expect(res.status).toBe(201);
    };
    const assetNamed = async (name: string) => (await listAll(t, datasetId)).find((a) => a.filename === name)!;

    beforeAll(async () => {
      datasetId = (await t.client.datasets.create({ name: "overwrite" })).datasetId;
      dir = join(work, "overwrite");
      await mkdir(dir);
      await cp(join(FIXTURES, "valid", "photo-baseline.jpg"), join(dir, "scene.jpg"));
      await t.client.assets.upload({ datasetId, paths: join(dir, "scene.jpg"), showProgress: false });
    });

    it("KeepLinkedResource keeps the annotations of the replaced asset", async () => {
      const asset = await assetNamed("scene.jpg");
      await annotate(asset.assetId);
      expect((await assetNamed("scene.jpg")).metadata.annotations).toEqual({ total: 1, withTag: { car: 1 } });
      await cp(join(FIXTURES, "valid", "photo-progressive.jpeg"), join(dir, "scene.jpg"));
      await t.client.assets.upload({
        datasetId,
        paths: join(dir, "scene.jpg"),
        onAssetOverwritten: "KeepLinkedResource",
        showProgress: false,
      });
      const now = await assetNamed("scene.jpg");
      expect(now.metadata).toMatchObject({ width: 320, height: 240, annotations: { total: 1, withTag: { car: 1 } } });
    });

    it("RemoveLinkedResource (the default) drops them", async () => {
      await cp(join(FIXTURES, "valid", "cmyk.jpg"), join(dir, "scene.jpg"));
      await t.client.assets.upload({ datasetId, paths: join(dir, "scene.jpg"), showProgress: false });
      const now = await assetNamed("scene.jpg");
      expect(now.metadata).toMatchObject({ width: 200, height: 100, annotations: { total: 0, withTag: {} } });
      expect((await t.client.datasets.get({ datasetId })).statistic.annotationTotal).toBe(0);
    });

    it("a failed re-upload leaves the old asset whole", async () => {
      const before = await assetNamed("scene.jpg");
      await annotate(before.assetId);
      await cp(join(FIXTURES, "invalid", "truncated.jpg"), join(dir, "scene.jpg"));
      await expect(
        t.client.assets.upload({ datasetId, paths: join(dir, "scene.jpg"), showProgress: false }),
      ).rejects.toBeInstanceOf(ViUploadError);
      const after = await t.client.assets.get({ datasetId, assetId: before.assetId, contents: true });
      expect(after.metadata).toEqual({ ...before.metadata, annotations: { total: 1, withTag: { car: 1 } } });
      const bytes = Buffer.from(await (await fetch(after.contents!.asset!.url)).arrayBuffer());
      expect(bytes.equals(await readFile(join(FIXTURES, "valid", "cmyk.jpg")))).toBe(true);
    });
  });

  it("splits large uploads into batches, and with waitUntilDone false returns the sessions to wait on later", async () => {
    const datasetId = (await t.client.datasets.create({ name: "batches" })).datasetId;
    const files = ["photo-baseline.jpg", "rgba.png", "gray.png", "static.gif", "lossy.webp"].map((f) =>
      join(FIXTURES, "valid", f),
    );
    const result = await t.client.assets.upload({
      datasetId,
      paths: files,
      batchSize: 2,
      waitUntilDone: false,
      showProgress: false,
    });
    expect(result.sessionIds).toHaveLength(3);
    const finished: IngestionSession[] = [];
    for (const id of result.sessionIds)
      finished.push(await t.client.assets.waitUntilDone({ datasetId, assetIngestionSessionId: id }));
    expect(finished.map((s) => s.status.progressCount.succeeded)).toEqual([2, 2, 1]);
    expect(
      finished.every((s) => s.status.conditions.some((c) => c.condition === "Finished" && c.status === "Reached")),
    ).toBe(true);
    expect((await listAll(t, datasetId)).length).toBe(5);
    const waited = await t.client.assets.upload({ datasetId, paths: files, batchSize: 2, showProgress: false });
    const summary = waited.summary();
    expect(summary).toMatch(/Batches:\s+3/);
    for (const id of waited.sessionIds) expect(summary).toContain(id);
  });

  it("unsafe filenames are refused per file; the rest of the batch goes on", async () => {
    const datasetId = (await t.client.datasets.create({ name: "names" })).datasetId;
    const bytes = await readFile(join(FIXTURES, "valid", "static.gif"));
    const spec = (filename: string) => ({
      filename,
      mime: "image/gif",
      size: bytes.length,
      crc32c: crc32c(bytes) | 0,
      kind: "Image",
    });
    const res = await fetch(`${t.server.url}${apiPaths.ingestionSessions(t.organizationId, datasetId)}`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.secretKey}`, "content-type": "application/json" },
      body: JSON.stringify({
        spec: {
          kind: "Upload",
          failureMode: "FailAfterAll",
          assets: [
            "../escape.gif",
            "/abs.gif",
            "a\\b.gif",
            "a//b.gif",
            "line\nbreak.gif",
            "bell\u0007.gif",
            "ok/fine.gif",
          ].map(spec),
        },
      }),
    });
    const session = (await res.json()) as IngestionSession;
    expect(session.status.assets.map((a) => a.metadata.filename)).toEqual(["ok/fine.gif"]);
    const errors = session.status.events.find((e) => e.kind === "Error") as {
      files: Record<string, string>;
      messages: Record<string, string>;
    };
    // Names with control characters are named too, escaped.
    expect(Object.keys(errors.files).sort()).toEqual(
      ["../escape.gif", "/abs.gif", "a//b.gif", "a\\b.gif", "bell\\u0007.gif", "line\\nbreak.gif"].sort(),
    );
    expect(errors.messages["line\\nbreak.gif"]).toMatch(/control character/);
    expect(errors.messages["../escape.gif"]).toMatch(/\.\./);
    expect((await fetch(session.status.assets[0]!.upload.url, { method: "PUT", body: bytes })).status).toBe(200);
  });
});

describe("configurable limits", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ maxFileSize: 120_000, maxPixels: 1_000_000_000 });
  });
  afterAll(async () => t?.stop());

  it("the SDK raises ViFileTooLargeError before sending a file over the server's limit", async () => {
    const datasetId = (await t.client.datasets.create({ name: "limits" })).datasetId;
    const err = await t.client.assets
      .upload({ datasetId, paths: join(FIXTURES, "valid", "rgba.png"), showProgress: false })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ViFileTooLargeError);
    expect((err as Error).message).toContain("rgba.png");
    const partial = await t.client.assets.upload({
      datasetId,
      paths: [join(FIXTURES, "valid", "rgba.png"), join(FIXTURES, "valid", "gray.png")],
      failureMode: "FailAfterAll",
      showProgress: false,
    });
    expect(partial.failedFiles).toEqual([expect.objectContaining({ filename: "rgba.png", code: "EBADSIZE" })]);
    expect(partial.totalSucceeded).toBe(1);
    expect(partial.bytesSent).toBe((await readFile(join(FIXTURES, "valid", "gray.png"))).length);
  });

  it("a raised pixel limit takes the 900-megapixel PNG without decoding it", async () => {
    const datasetId = (await t.client.datasets.create({ name: "bomb" })).datasetId;
    const before = process.memoryUsage().rss;
    const result = await t.client.assets.upload({
      datasetId,
      paths: join(FIXTURES, "hostile", "bomb-30000x30000.png"),
      showProgress: false,
    });
    expect(result.totalSucceeded).toBe(1);
    const [asset] = (await t.client.assets.list({ datasetId })).items;
    expect(asset!.metadata).toMatchObject({ width: 30000, height: 30000, mimeType: "image/png" });
    // The server runs in this process: decoding 900 megapixels would add gigabytes.
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
  });
});

it("writes nothing outside the data dir's blobs for a dataset's uploads", async () => {
  const t = await startTestServer();
  try {
    const datasetId = (await t.client.datasets.create({ name: "paths" })).datasetId;
    const dir = await mkdtemp(join(tmpdir(), "vi-names-"));
    await mkdir(join(dir, "a b"), { recursive: true });
    await writeFile(join(dir, "a b", "ünïcode.gif"), await readFile(join(FIXTURES, "valid", "static.gif")));
    await t.client.assets.upload({ datasetId, paths: dir, showProgress: false });
    const [asset] = (await t.client.assets.list({ datasetId })).items;
    expect(asset!.filename).toBe("a b/ünïcode.gif");
    const stored = [...(await t.blobs.names())];
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.some((p) => p.includes("gif") || p.includes("a b"))).toBe(false);
  } finally {
    await t.stop();
  }
});
