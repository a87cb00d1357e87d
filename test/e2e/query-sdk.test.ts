import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ViNotFoundError, ViValidationError, type Asset, type CustomMetadata, type ListAssetsOptions } from "@vi/sdk";
import { FIXTURES, startTestServer, type TestServer } from "../helpers/server.js";

/**
 * The assets guide's Listing, Sorting, Filtering, Getting Asset Details, Working with Asset
 * Metadata, Bulk Delete, Efficient Filtering and Selective Download, through the SDK against a
 * real server: typed custom metadata from the three upload forms (object, function, sidecar),
 * selections, sorts, pages and counts, updates, annotations, bulk delete and selective download.
 */
describe("the SDK's queries against a real server", () => {
  let t: TestServer;
  let work: string;
  let datasetId: string;

  /** What each asset's custom metadata must be after the two uploads, with its JSON types. */
  const expected: Record<string, CustomMetadata> = {
    "cats/a.jpg": { camera: "north", score: 0.91, night: false },
    "cats/b.png": { camera: "South", score: 0.5, night: true },
    "dogs/c.gif": { camera: "north", custom_field: "value", score: 0.8 },
    "dogs/d.webp": { camera: "east", label: "red car", iso: 200 },
    "e.bmp": { batch: "two", reviewed: true },
    "f.tif": { batch: "two", score: "high" },
  };
  const fixtureOf: Record<string, string> = {
    "cats/a.jpg": "photo-baseline.jpg", // 640x480
    "cats/b.png": "rgba.png", // 256x128
    "dogs/c.gif": "static.gif", // 150x100
    "dogs/d.webp": "lossy.webp", // 400x250
    "e.bmp": "bitmap-24.bmp",
    "f.tif": "scan-lzw.tif",
  };

  const all = async (options: Omit<ListAssetsOptions, "datasetId"> = {}): Promise<Asset[]> => {
    const out: Asset[] = [];
    for await (const page of t.client.assets.list({ datasetId, ...options })) out.push(...page.items);
    return out;
  };
  const names = async (options: Omit<ListAssetsOptions, "datasetId"> = {}): Promise<string[]> =>
    (await all(options)).map((a) => a.filename).sort();
  const byName = async (filename: string): Promise<Asset> => (await all()).find((a) => a.filename === filename)!;

  beforeAll(async () => {
    t = await startTestServer();
    work = await mkdtemp(join(tmpdir(), "vi-query-sdk-"));
    datasetId = (await t.client.datasets.create({ name: "queries" })).datasetId;
    for (const [name, fixture] of Object.entries(fixtureOf)) {
      const target = name.includes("/") ? join(work, "set", name) : join(work, "extra", name);
      await mkdir(join(target, ".."), { recursive: true });
      await cp(join(FIXTURES, "valid", fixture), target);
    }
    // The sidecar at the folder's root, found on its own and merged over the function's answer.
    await writeFile(
      join(work, "set", "vi-metadata.json"),
      JSON.stringify({
        "dogs/c.gif": { custom_field: "value", score: 0.8 },
        "dogs/d.webp": { label: "red car", iso: 200 },
      }),
    );
    const perFile: Record<string, CustomMetadata> = {
      "cats/a.jpg": { camera: "north", score: 0.91, night: false },
      "cats/b.png": { camera: "South", score: 0.5, night: true },
      "dogs/c.gif": { camera: "north" },
      "dogs/d.webp": { camera: "east" },
    };
    const first = await t.client.assets.upload({
      datasetId,
      paths: join(work, "set"),
      customMetadata: (file) => perFile[file.filename],
      showProgress: false,
      digestCache: false,
      waitForProcessing: true,
    });
    expect(first.totalSucceeded).toBe(4);

    // Files given by themselves, the object form, and a named sidecar whose null drops a key.
    const sidecar = join(work, "extra-metadata.json");
    await writeFile(sidecar, JSON.stringify({ "f.tif": { score: "high", reviewed: null } }));
    const second = await t.client.assets.upload({
      datasetId,
      paths: [join(work, "extra", "e.bmp"), join(work, "extra", "f.tif")],
      customMetadata: { batch: "two", reviewed: true },
      metadataFile: sidecar,
      showProgress: false,
      digestCache: false,
      // The guide's "Monitor Asset Processing": these assets are processed before the checks.
      waitForProcessing: true,
    });
    expect(second.totalSucceeded).toBe(2);
  });
  afterAll(async () => {
    await t?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  describe("uploaded metadata", () => {
    it("keeps its JSON types from the object, function and sidecar forms; the sidecar is not an asset", async () => {
      const assets = await all();
      expect(Object.fromEntries(assets.map((a) => [a.filename, a.metadata.customMetadata]))).toEqual(expected);
      const a = assets.find((x) => x.filename === "cats/a.jpg")!;
      expect(typeof a.metadata.customMetadata.score).toBe("number");
      expect(a.metadata.customMetadata.night).toBe(false);
    });

    it("getting an asset's details: metadata, annotations and a download URL", async () => {
      const a = await byName("cats/a.jpg");
      const got = await t.client.assets.get({ datasetId, assetId: a.assetId, contents: true });
      expect(got.metadata).toMatchObject({ width: 640, height: 480, mimeType: "image/jpeg", frames: 1 });
      expect(got.metadata.uploadStatus).toBe("completed");
      expect(got.metadata.annotations).toEqual({ total: 0, withTag: {} });
      expect(got.metadata.customMetadata).toEqual(expected["cats/a.jpg"]);
      expect(got.contents?.asset?.url).toMatch(/a\.jpg\?/);
    });

    it("a bad sidecar is refused before anything is sent, naming the file and the entry", async () => {
      const dir = join(work, "bad");
      await mkdir(dir);
      await cp(join(FIXTURES, "valid", "gray.png"), join(dir, "g.png"));
      await writeFile(join(dir, "vi-metadata.json"), JSON.stringify({ "g.png": { nested: { a: 1 } } }));
      const error = await t.client.assets
        .upload({ datasetId, paths: dir, showProgress: false, digestCache: false })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ViValidationError);
      expect((error as Error).message).toContain(`${join(dir, "vi-metadata.json")}, entry "g.png".nested`);
      expect(await names()).not.toContain("g.png");
    });
  });

  describe("listing, filtering, sorting, counting", () => {
    it("the guide's filters, verbatim", async () => {
      expect(await names({ filter: '{"status": "uploaded"}' })).toHaveLength(6);
      expect(await names({ metadataQuery: 'custom_field == "value"' })).toEqual(["dogs/c.gif"]);
    });

    it("filter objects: types, ranges, prefixes, custom metadata", async () => {
      expect(await names({ filter: { mimeType: ["image/png", "image/gif"] } })).toEqual(["cats/b.png", "dogs/c.gif"]);
      expect(await names({ filter: { filename: { prefix: "cats/" } } })).toEqual(["cats/a.jpg", "cats/b.png"]);
      expect(await names({ filter: { width: { gte: 400 } } })).toEqual(["cats/a.jpg", "dogs/d.webp"]);
      expect(await names({ filter: { customMetadata: { camera: "north" } } })).toEqual(["cats/a.jpg", "dogs/c.gif"]);
      expect(await names({ filter: { customMetadata: { score: { gte: 0.8 } } } })).toEqual([
        "cats/a.jpg",
        "dogs/c.gif",
      ]);
    });

    it("metadata queries, case-insensitive unless strictQuery, and filter AND query", async () => {
      expect(await names({ metadataQuery: 'camera in ["north", "east"] and score >= 0.8' })).toEqual([
        "cats/a.jpg",
        "dogs/c.gif",
      ]);
      expect(await names({ metadataQuery: "not exists(score)" })).toEqual(["dogs/d.webp", "e.bmp"]);
      expect(await names({ metadataQuery: "iso == 200" })).toEqual(["dogs/d.webp"]);
      expect(await names({ metadataQuery: 'score == "high"' })).toEqual(["f.tif"]);
      expect(await names({ metadataQuery: "night == true" })).toEqual(["cats/b.png"]);
      expect(await names({ metadataQuery: 'label contains "CAR"' })).toEqual(["dogs/d.webp"]);
      expect(await names({ metadataQuery: 'camera == "south"' })).toEqual(["cats/b.png"]);
      expect(await names({ metadataQuery: 'camera == "south"', strictQuery: true })).toEqual([]);
      expect(await names({ metadataQuery: "metadata.fileSize > 1000000" })).toEqual([]);
      expect(await names({ filter: { filename: { prefix: "dogs/" } }, metadataQuery: 'camera == "north"' })).toEqual([
        "dogs/c.gif",
      ]);
    });

    it("for await walks pages that all keep the filter, the query and the sort", async () => {
      const pages: string[][] = [];
      for await (const page of t.client.assets.list({
        datasetId,
        filter: { status: "uploaded" },
        metadataQuery: "exists(camera)",
        sortBy: { criterion: "filename", order: "desc" },
        pageSize: 1,
      }))
        pages.push(page.items.map((a) => a.filename));
      expect(pages).toEqual([["dogs/d.webp"], ["dogs/c.gif"], ["cats/b.png"], ["cats/a.jpg"]]);

      for (const order of ["asc", "desc"] as const) {
        const sizes = (await all({ sortBy: { criterion: "metadata.fileSize", order }, pageSize: 2 })).map(
          (a) => a.metadata.fileSize,
        );
        expect(sizes).toHaveLength(6);
        expect(sizes).toEqual([...sizes].sort((x, y) => (order === "asc" ? x - y : y - x)));
      }
      const widths = (await all({ sortBy: { criterion: "metadata.width", order: "desc" }, pageSize: 4 })).map(
        (a) => a.metadata.width,
      );
      expect(widths).toEqual([...widths].sort((x, y) => y - x));
      const items: string[] = [];
      for await (const asset of t.client.assets
        .list({ datasetId, pageSize: 4, filter: '{"status": "uploaded"}' })
        .items())
        items.push(asset.assetId);
      expect(new Set(items).size).toBe(6);
    });

    it("counts the selection, and pages carry totalCount with count: true", async () => {
      expect(await t.client.assets.count({ datasetId })).toBe(6);
      expect(await t.client.assets.count({ datasetId, metadataQuery: "exists(camera)" })).toBe(4);
      expect(await t.client.assets.count({ datasetId, filter: '{"customMetadata": {"batch": "two"}}' })).toBe(2);
      expect(await t.client.assets.count({ datasetId, metadataQuery: 'camera == "SOUTH"', strictQuery: true })).toBe(0);
      const counted = await t.client.assets.list({
        datasetId,
        metadataQuery: "exists(camera)",
        count: true,
        pageSize: 1,
      });
      expect(counted.totalCount).toBe(4);
      expect(counted.items).toHaveLength(1);
      expect((await t.client.assets.list({ datasetId, metadataQuery: "exists(camera)" })).totalCount).toBeUndefined();
      expect((await t.client.assets.list({ datasetId })).totalCount).toBe(6);
    });

    it("malformed filters and queries are ViValidationError saying what and where", async () => {
      const syntax = await t.client.assets.list({ datasetId, metadataQuery: 'score >= "x' }).catch((e: unknown) => e);
      expect(syntax).toBeInstanceOf(ViValidationError);
      expect((syntax as ViValidationError).status).toBe(400);
      expect((syntax as ViValidationError).details).toMatchObject({ parameter: "metadataQuery" });
      expect(typeof (syntax as ViValidationError).details?.position).toBe("number");
      const unknown = await t.client.assets.count({ datasetId, filter: { colour: "red" } }).catch((e: unknown) => e);
      expect(unknown).toBeInstanceOf(ViValidationError);
      expect((unknown as ViValidationError).message).toContain("colour");
      // Refused by the SDK itself: not JSON.
      const local = await t.client.assets.list({ datasetId, filter: "{status: uploaded}" }).catch((e: unknown) => e);
      expect(local).toBeInstanceOf(ViValidationError);
      expect((local as ViValidationError).status).toBeUndefined();
    });
  });

  describe("working with asset metadata", () => {
    it("update merges (null removes), replaces, and keeps types; queries see it at once", async () => {
      const a = await byName("cats/a.jpg");
      const merged = await t.client.assets.update({
        datasetId,
        assetId: a.assetId,
        customMetadata: { night: null, reviewed: true, iso: 800 },
      });
      expect(merged.metadata.customMetadata).toEqual({ camera: "north", score: 0.91, reviewed: true, iso: 800 });
      expect((await t.client.assets.get({ datasetId, assetId: a.assetId })).metadata.customMetadata).toEqual(
        merged.metadata.customMetadata,
      );
      expect(await names({ metadataQuery: "reviewed == true and iso > 500" })).toEqual(["cats/a.jpg"]);

      const replaced = await t.client.assets.update({
        datasetId,
        assetId: a.assetId,
        customMetadata: expected["cats/a.jpg"]!,
        replace: true,
      });
      expect(replaced.metadata.customMetadata).toEqual(expected["cats/a.jpg"]);
      expect(await names({ metadataQuery: "exists(iso)" })).toEqual(["dogs/d.webp"]);
    });

    it("limits are ViValidationError: checked by the SDK, and by the server for what only it knows", async () => {
      const c = await byName("dogs/c.gif");
      const long = await t.client.assets
        .update({ datasetId, assetId: c.assetId, customMetadata: { caption: "x".repeat(1025) } })
        .catch((e: unknown) => e);
      expect(long).toBeInstanceOf(ViValidationError);
      expect((long as Error).message).toContain("caption");
      // 3 keys + 62 new ones: only the server knows the merge goes over 64.
      const many = Object.fromEntries(Array.from({ length: 62 }, (_, i) => [`k${i}`, i]));
      const over = await t.client.assets
        .update({ datasetId, assetId: c.assetId, customMetadata: many })
        .catch((e: unknown) => e);
      expect(over).toBeInstanceOf(ViValidationError);
      expect((over as ViValidationError).status).toBe(400);
      expect((over as Error).message).toMatch(/keys/);
      const nested = await t.client.assets
        .update({ datasetId, assetId: c.assetId, customMetadata: { nested: { a: 1 } as never } })
        .catch((e: unknown) => e);
      expect(nested).toBeInstanceOf(ViValidationError);
      expect((await byName("dogs/c.gif")).metadata.customMetadata).toEqual(expected["dogs/c.gif"]);
      const missing = await t.client.assets
        .update({ datasetId, assetId: "no-such-asset", customMetadata: { a: 1 } })
        .catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(ViNotFoundError);
    });

    it("updateMany answers every asset in order, types kept; an unknown id changes none", async () => {
      const [a, b] = [await byName("cats/a.jpg"), await byName("cats/b.png")];
      const refused = await t.client.assets
        .updateMany({
          datasetId,
          updates: [
            { assetId: a.assetId, customMetadata: { batch: 1 } },
            { assetId: "no-such-asset", customMetadata: { batch: 1 } },
          ],
        })
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ViNotFoundError);
      expect((refused as Error).message).toContain("no-such-asset");
      expect((await byName("cats/a.jpg")).metadata.customMetadata.batch).toBeUndefined();

      const updated = await t.client.assets.updateMany({
        datasetId,
        updates: [
          { assetId: b.assetId, customMetadata: { batch: 2, night: null } },
          { assetId: a.assetId, customMetadata: { batch: 1 } },
        ],
      });
      expect(updated.map((x) => x.assetId)).toEqual([b.assetId, a.assetId]);
      expect(updated[0]!.metadata.customMetadata).toEqual({ camera: "South", score: 0.5, batch: 2 });
      expect(await names({ filter: { customMetadata: { batch: { gte: 1 } } } })).toEqual(["cats/a.jpg", "cats/b.png"]);
      // Put them back as they were for the tests below.
      await t.client.assets.updateMany({
        datasetId,
        updates: [
          { assetId: a.assetId, customMetadata: expected["cats/a.jpg"]!, replace: true },
          { assetId: b.assetId, customMetadata: expected["cats/b.png"]!, replace: true },
        ],
      });
      expect((await byName("cats/b.png")).metadata.customMetadata).toEqual(expected["cats/b.png"]);
    });
  });

  describe("annotations", () => {
    it("create, list, get, delete, reflected in the asset, the dataset and hasTag", async () => {
      const d = await byName("dogs/d.webp");
      const box = await t.client.annotations.create({
        datasetId,
        assetId: d.assetId,
        tag: "car",
        bbox: [0.1, 0.2, 0.5, 0.6],
      });
      expect(box).toMatchObject({
        kind: "Annotation",
        assetId: d.assetId,
        spec: {
          tagName: "car",
          contents: {
            kind: "PhraseGroundingBoundingBox",
            bound: [
              [0.1, 0.2],
              [0.5, 0.6],
            ],
          },
        },
      });
      expect(Number.isInteger(box.spec.tag)).toBe(true);
      await t.client.annotations.create({ datasetId, assetId: d.assetId, tag: "car" });
      const caption = await t.client.annotations.create({
        datasetId,
        assetId: d.assetId,
        tag: "scene",
        caption: "a red car",
      });
      expect(caption.spec.contents).toEqual({ kind: "Caption", contents: "a red car" });

      const listed: string[] = [];
      for await (const page of t.client.annotations.list({ datasetId, assetId: d.assetId, pageSize: 2 })) {
        expect(page.items.length).toBeLessThanOrEqual(2);
        listed.push(...page.items.map((n) => n.annotationId));
      }
      expect(new Set(listed).size).toBe(3);
      expect(listed).toEqual(expect.arrayContaining([box.annotationId, caption.annotationId]));
      expect(
        (await t.client.annotations.get({ datasetId, assetId: d.assetId, annotationId: box.annotationId })).spec
          .tagName,
      ).toBe("car");

      expect((await t.client.assets.get({ datasetId, assetId: d.assetId })).metadata.annotations).toEqual({
        total: 3,
        withTag: { car: 2, scene: 1 },
      });
      const dataset = await t.client.datasets.get({ datasetId });
      expect(dataset.statistic).toMatchObject({
        annotationTotal: 3,
        assetAnnotated: 1,
        tagsCount: { car: 2, scene: 1 },
      });
      expect(Object.keys(dataset.tags).sort()).toEqual(["car", "scene"]);
      expect(dataset.tags.car).toBe(box.spec.tag);
      expect(await names({ filter: { hasTag: "car" } })).toEqual(["dogs/d.webp"]);
      expect(await t.client.assets.count({ datasetId, filter: { lacksTag: ["car"] } })).toBe(5);
      expect(await names({ metadataQuery: "metadata.annotations.withTag.car >= 2" })).toEqual(["dogs/d.webp"]);

      expect(
        await t.client.annotations.delete({ datasetId, assetId: d.assetId, annotationId: box.annotationId }),
      ).toEqual({
        annotationId: box.annotationId,
        deleted: true,
      });
      await expect(
        t.client.annotations.get({ datasetId, assetId: d.assetId, annotationId: box.annotationId }),
      ).rejects.toBeInstanceOf(ViNotFoundError);
      expect((await t.client.assets.get({ datasetId, assetId: d.assetId })).metadata.annotations).toEqual({
        total: 2,
        withTag: { car: 1, scene: 1 },
      });
      expect((await t.client.datasets.get({ datasetId })).statistic.annotationTotal).toBe(2);
    });

    it("a malformed box is refused by the SDK; an unknown asset is ViNotFoundError", async () => {
      const d = await byName("dogs/d.webp");
      await expect(
        t.client.annotations.create({ datasetId, assetId: d.assetId, tag: "car", bbox: [1, 1, 0, 0] }),
      ).rejects.toBeInstanceOf(ViValidationError);
      await expect(t.client.annotations.create({ datasetId, assetId: "nope", tag: "car" })).rejects.toBeInstanceOf(
        ViNotFoundError,
      );
    });
  });

  describe("selective download", () => {
    it("downloads only what the filter and query select, byte for byte", async () => {
      const out = join(work, "north");
      const result = await t.client.assets.download({
        datasetId,
        saveDir: out,
        filter: { customMetadata: { camera: "north" } },
        showProgress: false,
      });
      expect(result).toMatchObject({ downloaded: 2, skipped: 0, failed: [] });
      expect((await readdir(out, { recursive: true })).filter((p) => /\.\w+$/.test(p)).sort()).toEqual([
        join("cats", "a.jpg"),
        join("dogs", "c.gif"),
      ]);
      expect(
        (await readFile(join(out, "dogs", "c.gif"))).equals(await readFile(join(FIXTURES, "valid", "static.gif"))),
      ).toBe(true);

      const large = join(work, "wide");
      const wide = await t.client.assets.download({
        datasetId,
        saveDir: large,
        metadataQuery: "metadata.width >= 400",
        showProgress: false,
      });
      expect(wide.downloaded).toBe(2);
      expect((await readdir(large, { recursive: true })).filter((p) => /\.\w+$/.test(p)).sort()).toEqual([
        join("cats", "a.jpg"),
        join("dogs", "d.webp"),
      ]);
    });
  });

  describe("bulk delete", () => {
    it("refuses a selection of nothing before any request", async () => {
      for (const selection of [{}, { filter: {} }, { filter: "{}", metadataQuery: " " }]) {
        await expect(t.client.datasets.bulkDeleteAssets({ datasetId, ...selection })).rejects.toBeInstanceOf(
          ViValidationError,
        );
      }
      expect(await t.client.assets.count({ datasetId })).toBe(6);
    });

    it("a dry run counts and deletes nothing", async () => {
      const dry = await t.client.datasets.bulkDeleteAssets({
        datasetId,
        filter: '{"customMetadata": {"batch": "two"}}',
        strictQuery: true,
        dryRun: true,
      });
      expect(dry.status).toMatchObject({ selected: 2, deleted: 0 });
      expect(dry.status.conditions.find((c) => c.condition === "Finished")?.status).toBe("Reached");
      expect(await t.client.assets.count({ datasetId })).toBe(6);
    });

    it("deletes the selection (the guide's filter), waiting until done", async () => {
      const done = await t.client.datasets.bulkDeleteAssets({
        datasetId,
        filter: '{"customMetadata": {"batch": "two"}}',
        strictQuery: true,
      });
      expect(done.status).toMatchObject({ selected: 2, deleted: 2 });
      expect(done.status.conditions.map((c) => c.status)).toEqual(["Reached", "Reached"]);
      expect(await names()).toEqual(["cats/a.jpg", "cats/b.png", "dogs/c.gif", "dogs/d.webp"]);
      expect(await t.client.assets.count({ datasetId })).toBe(4);
      expect((await t.client.datasets.get({ datasetId })).statistic.assetTotal).toBe(4);
    });

    it("by query, without waiting, then waited for; a selection that matches nothing deletes nothing", async () => {
      const opened = await t.client.datasets.bulkDeleteAssets({
        datasetId,
        metadataQuery: 'camera == "South"',
        waitUntilDone: false,
      });
      const done = await t.client.datasets.waitForBulkDelete({
        datasetId,
        deleteManyAssetsSessionId: opened.deleteManyAssetsSessionId,
      });
      expect(done.status).toMatchObject({ selected: 1, deleted: 1 });
      expect(await names()).toEqual(["cats/a.jpg", "dogs/c.gif", "dogs/d.webp"]);
      const none = await t.client.datasets.bulkDeleteAssets({ datasetId, metadataQuery: 'camera == "nowhere"' });
      expect(none.status).toMatchObject({ selected: 0, deleted: 0 });
      // The annotated asset goes with its annotations.
      await t.client.datasets.bulkDeleteAssets({ datasetId, filter: { hasTag: "car" } });
      expect((await t.client.datasets.get({ datasetId })).statistic).toMatchObject({
        assetTotal: 2,
        annotationTotal: 0,
        assetAnnotated: 0,
      });
    });
  });
});
