import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32c } from "@node-rs/crc32";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  apiPaths,
  type Annotation,
  type Asset,
  type BulkAssetDeletionSession,
  type Dataset,
  type IngestionSession,
  type PageOf,
} from "@vi/protocol";
import { FIXTURES, startTestServer, type TestServer } from "../helpers/server.js";
import { uniqueJpeg } from "../helpers/jpeg.mjs";
import { scaleout } from "../helpers/s3-bucket.mjs";

/**
 * Finding and curating assets over raw HTTP, as the official Python client speaks it: typed
 * custom metadata from the manifest to listing, get and update; filters and metadata queries;
 * annotations in the shape the client decodes; bulk delete with the exact body it sends.
 */
describe("curation over HTTP", () => {
  let t: TestServer;
  let datasetId: string;
  let headers: Record<string, string>;

  const files: { filename: string; fixture: string; custom: Record<string, string | number | boolean> | null }[] = [
    { filename: "cats/a.jpg", fixture: "photo-baseline.jpg", custom: { camera: "north", score: 0.91, night: false } },
    { filename: "cats/B.png", fixture: "rgba.png", custom: { camera: "South", score: 0.5, night: true } },
    { filename: "dogs/c.gif", fixture: "static.gif", custom: { camera: "north", score: 0.8, custom_field: "value" } },
    { filename: "dogs/d.webp", fixture: "lossy.webp", custom: { camera: "east", iso: 200, label: "red car" } },
    { filename: "e.bmp", fixture: "bitmap-24.bmp", custom: null },
    { filename: "f.tif", fixture: "scan-lzw.tif", custom: { score: "high" } },
  ];

  const api = async <T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${t.server.url}${path}`, {
      ...init,
      headers: { ...headers, ...(init.headers as object) },
    });
    const text = await res.text();
    return { status: res.status, body: (text === "" ? undefined : JSON.parse(text)) as T };
  };
  const list = (query: Record<string, string>) =>
    api<PageOf<Asset>>(
      `${apiPaths.assets(t.organizationId, datasetId)}?${new URLSearchParams({ s: "100", ...query })}`,
    );
  const names = (page: PageOf<Asset>) => page.items.map((a) => a.filename).sort();
  const listAllIds = async (ds: string) => {
    const all: Asset[] = [];
    for await (const page of t.client.assets.list({ datasetId: ds, pageSize: 1000 })) all.push(...page.items);
    return all;
  };
  const byName = async (filename: string) => (await list({})).body.items.find((a) => a.filename === filename)!;

  beforeAll(async () => {
    // Processing is off: these tests count blob files, which thumbnails made in the background
    // would change under them (test/e2e/processing.test.ts covers thumbnails).
    t = await startTestServer({ processingConcurrency: 0 });
    datasetId = (await t.client.datasets.create({ name: "curation" })).datasetId;
    headers = {
      authorization: `Bearer ${t.secretKey}`,
      "organization-id": t.organizationId,
      "content-type": "application/json",
    };
    const bytes = await Promise.all(files.map((f) => readFile(join(FIXTURES, "valid", f.fixture))));
    const created = await api<IngestionSession>(apiPaths.ingestionSessions(t.organizationId, datasetId), {
      method: "POST",
      body: JSON.stringify({
        spec: {
          kind: "Upload",
          failureMode: "FailAfterAll",
          onAssetOverwritten: "RemoveLinkedResource",
          assets: files.map((f, i) => ({
            filename: f.filename,
            mime: "application/octet-stream",
            size: bytes[i]!.length,
            crc32c: crc32c(bytes[i]!) | 0,
            customMetadata: f.custom,
            kind: "Image",
          })),
        },
      }),
    });
    expect(created.status).toBe(201);
    for (const target of created.body.status.assets ?? []) {
      const i = files.findIndex((f) => f.filename === target.metadata.filename);
      const put = await fetch(target.upload.url, { method: "PUT", body: bytes[i] });
      expect(put.status).toBeLessThan(300);
    }
    const done = await t.client.assets.waitUntilDone({
      datasetId,
      assetIngestionSessionId: created.body.assetIngestionSessionId,
    });
    expect(done.status.progressCount).toMatchObject({ total: files.length, succeeded: files.length });
  });
  afterAll(async () => t?.stop());

  describe("custom metadata keeps its types", () => {
    it("from the manifest to listing and get", async () => {
      const a = await byName("cats/a.jpg");
      expect(a.metadata.customMetadata).toEqual({ camera: "north", score: 0.91, night: false });
      expect(a.metadata.customMetadataCount).toBe(3);
      const got = await api<Asset>(apiPaths.asset(t.organizationId, datasetId, a.assetId));
      expect(got.body.metadata.customMetadata.score).toBe(0.91);
      expect(got.body.metadata.customMetadata.night).toBe(false);
      expect((await byName("dogs/d.webp")).metadata.customMetadata.iso).toBe(200);
      expect((await byName("e.bmp")).metadata.customMetadata).toEqual({});
    });

    it("PATCH merges (null removes a key), replaces on request, and keeps types", async () => {
      const a = await byName("cats/a.jpg");
      const path = apiPaths.asset(t.organizationId, datasetId, a.assetId);
      const merged = await api<Asset>(path, {
        method: "PATCH",
        body: JSON.stringify({ customMetadata: { night: null, reviewed: true, iso: 800 } }),
      });
      expect(merged.status).toBe(200);
      expect(merged.body.metadata.customMetadata).toEqual({ camera: "north", score: 0.91, reviewed: true, iso: 800 });
      expect(merged.body.metadata.lastUpdated).toBeGreaterThanOrEqual(a.metadata.lastUpdated);
      expect(merged.body.etag).not.toBe(a.etag);
      // The update is what queries see at once.
      expect(names((await list({ metadataQuery: "reviewed == true" })).body)).toEqual(["cats/a.jpg"]);
      expect(names((await list({ metadataQuery: "exists(night)" })).body)).toEqual(["cats/B.png"]);
      const replaced = await api<Asset>(path, {
        method: "PATCH",
        body: JSON.stringify({
          customMetadata: { camera: "north", score: 0.91, night: false },
          replaceCustomMetadata: true,
        }),
      });
      expect(replaced.body.metadata.customMetadata).toEqual({ camera: "north", score: 0.91, night: false });
      expect(names((await list({ metadataQuery: "exists(reviewed)" })).body)).toEqual([]);
    });

    it("refuses metadata over the limits with a 400 naming the key, and changes nothing", async () => {
      const a = await byName("dogs/c.gif");
      const path = apiPaths.asset(t.organizationId, datasetId, a.assetId);
      const long = await api<{ error: string; message: string; details: { key: string } }>(path, {
        method: "PATCH",
        body: JSON.stringify({ customMetadata: { caption: "x".repeat(1025) } }),
      });
      expect(long.status).toBe(400);
      expect(long.body.message).toContain("caption");
      expect(long.body.details.key).toBe("caption");
      const many = Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`k${i}`, i]));
      const tooMany = await api<{ message: string }>(path, {
        method: "PATCH",
        body: JSON.stringify({ customMetadata: many }),
      });
      expect(tooMany.status).toBe(400);
      expect(tooMany.body.message).toMatch(/keys/);
      const badType = await api(path, {
        method: "PATCH",
        body: JSON.stringify({ customMetadata: { nested: { a: 1 } } }),
      });
      expect(badType.status).toBe(400);
      // JSON.stringify escapes a lone surrogate as \udc00: the server must refuse it, not mangle it.
      const lone = await api(path, { method: "PATCH", body: JSON.stringify({ customMetadata: { note: "a\udc00b" } }) });
      expect(lone.status).toBe(400);
      expect((await byName("dogs/c.gif")).metadata.customMetadata).toEqual(a.metadata.customMetadata);
    });

    it("a manifest with metadata over the limits is refused naming the file", async () => {
      const res = await api<{ message: string }>(apiPaths.ingestionSessions(t.organizationId, datasetId), {
        method: "POST",
        body: JSON.stringify({
          spec: {
            kind: "Upload",
            assets: [
              {
                filename: "x.jpg",
                mime: "image/jpeg",
                size: 10,
                crc32c: 1,
                kind: "Image",
                customMetadata: { ["k".repeat(200)]: 1 },
              },
            ],
          },
        }),
      });
      expect(res.status).toBe(400);
      expect(res.body.message).toContain("x.jpg");
    });

    it("PATCH of many assets is all or none", async () => {
      const [a, b] = [await byName("cats/a.jpg"), await byName("cats/B.png")];
      const path = apiPaths.assets(t.organizationId, datasetId);
      const missing = await api<{ message: string }>(path, {
        method: "PATCH",
        body: JSON.stringify({
          updates: [
            { assetId: a.assetId, customMetadata: { batch: 1 } },
            { assetId: "no-such-asset", customMetadata: { batch: 1 } },
          ],
        }),
      });
      expect(missing.status).toBe(404);
      expect(missing.body.message).toContain("no-such-asset");
      expect((await byName("cats/a.jpg")).metadata.customMetadata.batch).toBeUndefined();
      const ok = await api<{ items: Asset[] }>(path, {
        method: "PATCH",
        body: JSON.stringify({
          updates: [
            { assetId: a.assetId, customMetadata: { batch: 1 } },
            { assetId: b.assetId, customMetadata: { batch: 2 } },
          ],
        }),
      });
      expect(ok.status).toBe(200);
      expect(ok.body.items.map((x) => x.metadata.customMetadata.batch)).toEqual([1, 2]);
      expect(names((await list({ filter: JSON.stringify({ customMetadata: { batch: { gte: 1 } } }) })).body)).toEqual([
        "cats/B.png",
        "cats/a.jpg",
      ]);
    });
  });

  describe("filters and queries", () => {
    it("the guide's examples work verbatim", async () => {
      expect((await list({ filter: '{"status": "uploaded"}' })).body.items).toHaveLength(files.length);
      expect((await list({ filter: '{"status": "error"}' })).body.items).toHaveLength(0);
      expect(names((await list({ metadataQuery: 'custom_field == "value"' })).body)).toEqual(["dogs/c.gif"]);
    });

    it("accepts the Python client's str(dict) form of a filter", async () => {
      expect(names((await list({ filter: "{'mimeType': ['image/png', 'image/gif']}" })).body)).toEqual([
        "cats/B.png",
        "dogs/c.gif",
      ]);
    });

    it("built-in fields, ranges, prefixes and types", async () => {
      expect(names((await list({ filter: JSON.stringify({ filename: { prefix: "cats/" } }) })).body)).toEqual([
        "cats/B.png",
        "cats/a.jpg",
      ]);
      // Case-insensitive unless strictQuery.
      expect(names((await list({ metadataQuery: 'filename startsWith "CATS/"' })).body)).toHaveLength(2);
      expect(names((await list({ metadataQuery: 'filename startsWith "CATS/"', strictQuery: "y" })).body)).toEqual([]);
      expect(names((await list({ metadataQuery: 'camera == "south"' })).body)).toEqual(["cats/B.png"]);
      expect(names((await list({ metadataQuery: 'camera == "south"', strictQuery: "y" })).body)).toEqual([]);
      // A number never matches a string of the same key, nor the other way round.
      expect(names((await list({ metadataQuery: "score >= 0.8" })).body)).toEqual(["cats/a.jpg", "dogs/c.gif"]);
      expect(names((await list({ metadataQuery: 'score == "high"' })).body)).toEqual(["f.tif"]);
      expect(
        names((await list({ metadataQuery: 'camera in ["north", "east"] and not exists(custom_field)' })).body),
      ).toEqual(["cats/a.jpg", "dogs/d.webp"]);
      expect(names((await list({ metadataQuery: 'label contains "CAR"' })).body)).toEqual(["dogs/d.webp"]);
      const big = (await list({ metadataQuery: "metadata.fileSize > 1" })).body.items.length;
      expect(big).toBe(files.length);
    });

    it("bad filters and queries answer 400 saying what and where, never everything", async () => {
      const unknown = await list({ filter: '{"colour": "red"}' });
      expect(unknown.status).toBe(400);
      expect(JSON.stringify(unknown.body)).toContain("colour");
      const syntax = await list({ metadataQuery: 'score >= "x' });
      expect(syntax.status).toBe(400);
      expect((syntax.body as unknown as { details: { position: number } }).details.position).toBeGreaterThan(0);
      expect((await list({ filter: "[1, 2]" })).status).toBe(400);
      expect((await list({ metadataQuery: 'metadata.width > "wide"' })).status).toBe(400);
      expect((await list({ ruleQuery: "anything" })).status).toBe(400);
    });

    it("unfiltered pages carry the dataset's total; filtered ones only with count=y", async () => {
      expect((await list({})).body.totalCount).toBe(files.length);
      expect((await list({ metadataQuery: "exists(camera)" })).body.totalCount).toBeUndefined();
      expect((await list({ metadataQuery: "exists(camera)", count: "y", s: "1" })).body.totalCount).toBe(4);
    });

    it("sorts ascending and descending, stable on ties, across pages with a filter", async () => {
      const walk = async (query: Record<string, string>) => {
        const seen: Asset[] = [];
        let p: string | undefined;
        do {
          const page = await list({ ...query, s: "2", ...(p ? { p } : {}) });
          expect(page.status).toBe(200);
          seen.push(...page.body.items);
          p = page.body.nextPage ?? undefined;
        } while (p);
        return seen;
      };
      for (const o of ["asc", "desc"]) {
        const sizes = (await walk({ sortBy: "metadata.fileSize", o, metadataQuery: "metadata.fileSize > 0" })).map(
          (a) => a.metadata.fileSize,
        );
        expect(sizes).toHaveLength(files.length);
        expect(sizes).toEqual([...sizes].sort((x, y) => (o === "asc" ? x - y : y - x)));
      }
      const ties = await walk({ sortBy: "metadata.frames", o: "asc" }).catch(() => undefined);
      expect(ties).toBeUndefined(); // frames is not a sort criterion: the walk fails with 400
      const byWidth = await walk({ sortBy: "metadata.width", o: "desc", filter: '{"status": "uploaded"}' });
      expect(new Set(byWidth.map((a) => a.assetId)).size).toBe(files.length);
    });
  });

  describe("keyset pages while assets are added and deleted", () => {
    it("every asset present throughout a walk is seen exactly once, in every sort order", async () => {
      const ds = (await t.client.datasets.create({ name: "churn" })).datasetId;
      const dir = await mkdtemp(join(tmpdir(), "vi-churn-"));
      let n = 0;
      const addFiles = async (count: number) => {
        const sub = join(dir, `batch-${n}`);
        await mkdir(sub);
        for (let i = 0; i < count; i++)
          await writeFile(join(sub, `f${n}-${i}.jpg`), uniqueJpeg(53_000 + ((n * 31 + i * 17) % 4000)));
        n++;
        await t.client.assets.upload({ datasetId: ds, paths: sub, showProgress: false });
      };
      await addFiles(30);
      const sorts = ["default", "assetId", "filename", "metadata.fileSize", "metadata.timeCreated"] as const;
      for (const sortBy of sorts) {
        for (const o of ["asc", "desc"] as const) {
          const before = new Set((await listAllIds(ds)).map((a) => a.assetId));
          const seen: string[] = [];
          const deleted = new Set<string>();
          let p: string | undefined;
          do {
            const query = new URLSearchParams({
              s: "7",
              sortBy,
              o,
              filter: '{"status": "uploaded"}',
              ...(p ? { p } : {}),
            });
            const page = await api<PageOf<Asset>>(`${apiPaths.assets(t.organizationId, ds)}?${query}`);
            expect(page.status).toBe(200);
            seen.push(...page.body.items.map((a) => a.assetId));
            p = page.body.nextPage ?? undefined;
            // Churn between pages: one asset not yet seen and one already seen go; new ones arrive.
            const unseen = [...before].find((id) => !seen.includes(id) && !deleted.has(id));
            const old = seen.find((id) => !deleted.has(id));
            for (const id of [unseen, old]) {
              if (id) {
                await t.client.assets.delete({ datasetId: ds, assetId: id });
                deleted.add(id);
              }
            }
            await addFiles(2);
          } while (p);
          expect(new Set(seen).size).toBe(seen.length); // no asset twice
          for (const id of before) if (!deleted.has(id)) expect(seen, `${sortBy} ${o}`).toContain(id);
        }
      }
      await rm(dir, { recursive: true, force: true });
    });
  });

  describe("annotations", () => {
    let assetId: string;
    const path = () => apiPaths.annotations(t.organizationId, datasetId, assetId);

    beforeAll(async () => {
      assetId = (await byName("dogs/d.webp")).assetId;
    });

    it("are created in the shape the Python client decodes, counted and queryable", async () => {
      const box = await api<Annotation>(path(), {
        method: "POST",
        body: JSON.stringify({
          spec: {
            tag: "car",
            contents: {
              bound: [
                [0.1, 0.2],
                [0.5, 0.6],
              ],
            },
          },
        }),
      });
      expect(box.status).toBe(201);
      expect(box.body).toMatchObject({
        kind: "Annotation",
        assetId,
        datasetId: `${t.organizationId}_${datasetId}`,
        spec: {
          boundType: "PhraseGroundingBoundingBox",
          tag: 1,
          tagName: "car",
          aggregation: { whole: { id: box.body.annotationId }, thisPart: { role: "PhraseGroundingBoundingBox" } },
          contents: {
            kind: "PhraseGroundingBoundingBox",
            bound: [
              [0.1, 0.2],
              [0.5, 0.6],
            ],
            target: [0, 0],
          },
        },
        metadata: { generation: 1, attributes: {} },
      });
      await api(path(), { method: "POST", body: JSON.stringify({ spec: { tag: "car" } }) });
      const caption = await api<Annotation>(path(), {
        method: "POST",
        body: JSON.stringify({ spec: { tag: "scene", contents: { kind: "Caption", contents: "a red car" } } }),
      });
      expect(caption.body.spec).toMatchObject({
        tag: 2,
        boundType: "Caption",
        contents: { kind: "Caption", contents: "a red car" },
      });

      const asset = await api<Asset>(apiPaths.asset(t.organizationId, datasetId, assetId));
      expect(asset.body.metadata.annotations).toEqual({ total: 3, withTag: { car: 2, scene: 1 } });
      const dataset = await api<Dataset>(apiPaths.dataset(t.organizationId, datasetId));
      expect(dataset.body.statistic).toMatchObject({
        annotationTotal: 3,
        assetAnnotated: 1,
        tagsCount: { car: 2, scene: 1 },
      });
      expect(dataset.body.tags).toEqual({ car: 1, scene: 2 });

      expect(names((await list({ filter: '{"hasTag": "car"}' })).body)).toEqual(["dogs/d.webp"]);
      expect((await list({ filter: '{"lacksTag": ["car"]}' })).body.items).toHaveLength(files.length - 1);
      expect(names((await list({ filter: '{"annotationCount": {"gte": 3}}' })).body)).toEqual(["dogs/d.webp"]);
      expect(names((await list({ metadataQuery: "metadata.annotations.withTag.car >= 2" })).body)).toEqual([
        "dogs/d.webp",
      ]);
      expect(names((await list({ metadataQuery: "metadata.annotations.total == 0" })).body)).toHaveLength(
        files.length - 1,
      );
    });

    it("list in keyset pages, get one, and delete with an empty 204", async () => {
      const first = await api<PageOf<Annotation>>(`${path()}?pageSize=2`);
      expect(first.body.items).toHaveLength(2);
      expect(first.body.nextPage).toBeTruthy();
      const second = await api<PageOf<Annotation>>(`${path()}?pageSize=2&pageToken=${first.body.nextPage}`);
      expect(second.body.items).toHaveLength(1);
      expect(second.body.nextPage).toBeNull();
      const one = second.body.items[0]!;
      expect((await api<Annotation>(`${path()}/${one.annotationId}`)).body.annotationId).toBe(one.annotationId);
      const res = await fetch(`${t.server.url}${path()}/${one.annotationId}`, { method: "DELETE", headers });
      expect(res.status).toBe(204);
      expect(await res.text()).toBe("");
      expect((await api(`${path()}/${one.annotationId}`)).status).toBe(404);
      expect(
        (await api<Asset>(apiPaths.asset(t.organizationId, datasetId, assetId))).body.metadata.annotations.total,
      ).toBe(2);
    });

    it("refuse contents nested thousands of levels deep with a 400, not a 500", async () => {
      const deep = "[".repeat(5000) + "]".repeat(5000);
      const res = await fetch(`${t.server.url}${path()}`, {
        method: "POST",
        headers,
        body: `{"spec": {"tag": "car", "contents": {"bound": ${deep}}}}`,
      });
      expect(res.status).toBe(400);
    });

    it("refuse a malformed box and an unknown asset", async () => {
      const bad = await api(path(), {
        method: "POST",
        body: JSON.stringify({
          spec: {
            tag: "car",
            contents: {
              bound: [
                [1, 1],
                [0, 0],
              ],
            },
          },
        }),
      });
      expect(bad.status).toBe(400);
      const missing = await api(apiPaths.annotations(t.organizationId, datasetId, "nope"), {
        method: "POST",
        body: JSON.stringify({ spec: { tag: "car" } }),
      });
      expect(missing.status).toBe(404);
    });
  });

  describe("bulk delete", () => {
    const sessions = () => apiPaths.deleteManyAssetsSessions(t.organizationId, datasetId);
    // The exact body the Python client sends: every key present.
    const spec = (filter: unknown, metadataQuery: string | null, extra: object = {}) =>
      JSON.stringify({ spec: { filter, metadataQuery, ruleQuery: null, strictQuery: true, ...extra } });

    it("refuses a spec that selects nothing explicitly", async () => {
      for (const body of [spec(null, null), spec("", "  "), spec({}, null)]) {
        const res = await api<{ message: string }>(sessions(), { method: "POST", body });
        expect(res.status).toBe(400);
      }
    });

    it("a dry run counts and deletes nothing", async () => {
      const res = await api<BulkAssetDeletionSession>(sessions(), {
        method: "POST",
        body: spec('{"mimeType": "image/png"}', null, { dryRun: true }),
      });
      expect(res.status).toBe(201);
      expect(res.body.status).toMatchObject({ selected: 1, deleted: 0 });
      expect(res.body.status.conditions.every((c) => c.status === "Reached")).toBe(true);
      expect((await list({})).body.items).toHaveLength(files.length);
    });

    it("deletes the selection with its annotations and bytes, and the client's poll sees every condition Reached", async () => {
      const before = (await t.blobs.names()).size;
      const listed = (await list({})).body.items;
      const res = await api<BulkAssetDeletionSession>(sessions(), {
        method: "POST",
        body: spec({ filename: { prefix: "dogs/" } }, 'camera == "east" or camera == "north"'),
      });
      expect(res.status).toBe(201);
      expect(res.body.status.selected).toBe(2);
      let status = res.body;
      for (let i = 0; i < 100 && !status.status.conditions.every((c) => c.status === "Reached"); i++) {
        await new Promise((r) => setTimeout(r, 50));
        status = (
          await api<BulkAssetDeletionSession>(
            apiPaths.deleteManyAssetsSession(t.organizationId, datasetId, res.body.deleteManyAssetsSessionId),
          )
        ).body;
      }
      expect(status.status).toMatchObject({ selected: 2, deleted: 2 });
      expect(names((await list({})).body)).toEqual(["cats/B.png", "cats/a.jpg", "e.bmp", "f.tif"]);
      // From a bucket the bytes go by a background job, within seconds (while earlier tests'
      // releases may still land there: so the deleted assets' own bytes are looked for).
      const kept = new Set(names((await list({})).body));
      const gone = listed.filter((a) => !kept.has(a.filename)).map((a) => a.metadata.hash.contents);
      expect(gone).toHaveLength(2);
      const stillStored = async () => {
        const stored = await t.blobs.names();
        return gone.filter((h) => stored.has(h));
      };
      await expect.poll(stillStored, { timeout: 10_000 }).toEqual([]);
      if (!scaleout()) expect((await t.blobs.names()).size).toBe(before - 2);
      const dataset = await api<Dataset>(apiPaths.dataset(t.organizationId, datasetId));
      expect(dataset.body.statistic).toMatchObject({ assetTotal: 4, annotationTotal: 0, assetAnnotated: 0 });
      expect((await list({})).body.totalCount).toBe(4);
    });

    it("long-polls until finished, and another organization's session is not found", async () => {
      const res = await api<BulkAssetDeletionSession>(sessions(), {
        method: "POST",
        body: spec(null, 'filename == "e.bmp"'),
      });
      const polled = await api<BulkAssetDeletionSession>(
        `${apiPaths.deleteManyAssetsSession(t.organizationId, datasetId, res.body.deleteManyAssetsSessionId)}?waitFor=Finished&timeout=10`,
      );
      expect(polled.body.status.conditions.map((c) => c.status)).toEqual(["Reached", "Reached"]);
      expect(polled.body.status.deleted).toBe(1);
      const other = await t.server.admin.createOrganization("other");
      const foreign = await fetch(
        `${t.server.url}${apiPaths.deleteManyAssetsSession(other.organizationId, datasetId, res.body.deleteManyAssetsSessionId)}`,
        { headers: { authorization: `Bearer ${other.secretKey}`, "organization-id": other.organizationId } },
      );
      expect(foreign.status).toBe(404);
    });
  });
});
