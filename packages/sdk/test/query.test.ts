import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Client } from "../src/client.js";
import { ViNotFoundError, ViValidationError } from "../src/core/errors.js";
import { checkListOptions, listQuery } from "../src/resources/assets.js";
import { filterSelects, filterText } from "../src/lib/selection.js";
import { json, startServer, testClient, type TestServer } from "./helpers/server.js";

let server: TestServer | undefined;
let client: Client | undefined;
afterEach(async () => {
  await client?.close();
  await server?.close();
  server = undefined;
  client = undefined;
});

const ASSETS = "/workspaces/org1/datasets/org1_ds1/assets";
const query = (url: string) => Object.fromEntries(new URL(url, "http://x").searchParams);

describe("listQuery", () => {
  it("uses the wire's short names and flags", () => {
    expect(
      listQuery(
        {
          pageSize: 50,
          sortBy: { criterion: "metadata.fileSize", order: "desc" },
          filter: { status: "uploaded", width: { gte: 100 } },
          metadataQuery: 'custom_field == "value"',
          strictQuery: true,
          contents: true,
          count: true,
        },
        "tok",
      ),
    ).toEqual({
      p: "tok",
      s: "50",
      sortBy: "metadata.fileSize",
      o: "desc",
      filter: '{"status":"uploaded","width":{"gte":100}}',
      metadataQuery: 'custom_field == "value"',
      contents: "y",
      strictQuery: "y",
      count: "y",
    });
  });

  it("sends a string filter as given, and leaves out what was not asked", () => {
    expect(listQuery({ filter: '{"status": "uploaded"}', metadataQuery: "  " }, undefined)).toEqual({
      p: undefined,
      s: undefined,
      sortBy: undefined,
      o: undefined,
      filter: '{"status": "uploaded"}',
      metadataQuery: undefined,
      contents: undefined,
      strictQuery: undefined,
      count: undefined,
    });
  });
});

describe("option validation", () => {
  it.each<[string, Parameters<typeof checkListOptions>[0], RegExp]>([
    ["pageSize 0", { pageSize: 0 }, /pageSize must be a whole number from 1 to 1000, got 0/],
    ["pageSize 1001", { pageSize: 1001 }, /got 1001/],
    ["pageSize 1.5", { pageSize: 1.5 }, /got 1.5/],
    ["an unknown criterion", { sortBy: { criterion: "colour" as never } }, /sortBy.criterion must be one of default/],
    ["an unknown order", { sortBy: { criterion: "filename", order: "up" as never } }, /sortBy.order must be/],
  ])("refuses %s", (_label, options, message) => {
    expect(() => checkListOptions(options)).toThrow(message);
  });

  it.each<[string, unknown, RegExp]>([
    ["text that is not JSON", "{status: uploaded}", /filter is not valid JSON/],
    ["JSON that is not an object", "[1]", /filter must be the JSON of an object/],
    ["a number", 3, /filter must be an object or the JSON text of one/],
  ])("refuses a filter that is %s", (_label, filter, message) => {
    expect(() => filterText(filter as string)).toThrow(message);
  });

  it("filterSelects: {} and '{}' select nothing explicitly", () => {
    expect(filterSelects(undefined)).toBe(false);
    expect(filterSelects({})).toBe(false);
    expect(filterSelects(" {} ")).toBe(false);
    expect(filterSelects({ status: "uploaded" })).toBe(true);
  });

  it("list rejects bad options before any request, on await and in for await", async () => {
    server = await startServer((_req, res) => json(res, 200, { items: [], nextPage: null, prevPage: null }));
    client = testClient(server.url);
    await expect(client.assets.list({ datasetId: "ds1", pageSize: 0 })).rejects.toBeInstanceOf(ViValidationError);
    const iterate = async () => {
      for await (const page of client!.assets.list({ datasetId: "ds1", filter: "{nope" })) void page;
    };
    await expect(iterate()).rejects.toThrow(/filter is not valid JSON/);
    // .catch() and .then(ok, fail) get the rejection: nothing throws at the call.
    const caught = await client.assets.list({ datasetId: "ds1", filter: "[1]" }).catch((e: unknown) => e);
    expect(caught).toBeInstanceOf(ViValidationError);
    const failed = await client.assets.list({ datasetId: "ds1", pageSize: -1 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(ViValidationError);
    expect(server.requests).toHaveLength(0);
  });
});

describe("assets.list pages", () => {
  it("carries filter, query and sort on every page", async () => {
    server = await startServer((req, res) => {
      const q = query(req.url);
      const page = Number(q.p ?? "0");
      json(res, 200, {
        items: [{ assetId: `a${page}` }],
        nextPage: page < 2 ? String(page + 1) : null,
        prevPage: null,
        totalCount: 3,
      });
    });
    client = testClient(server.url);
    const ids: string[] = [];
    for await (const page of client.assets.list({
      datasetId: "ds1",
      filter: { hasTag: "car" },
      metadataQuery: "score >= 0.8",
      strictQuery: true,
      sortBy: { criterion: "filename", order: "desc" },
      pageSize: 1,
      count: true,
    })) {
      ids.push(...page.items.map((a) => a.assetId));
      expect(page.totalCount).toBe(3);
    }
    expect(ids).toEqual(["a0", "a1", "a2"]);
    expect(server.requests.map((r) => new URL(r.url, "http://x").pathname)).toEqual([ASSETS, ASSETS, ASSETS]);
    const asked = server.requests.map((r) => query(r.url));
    for (const [i, q] of asked.entries()) {
      expect(q).toEqual({
        ...(i > 0 ? { p: String(i) } : {}),
        s: "1",
        sortBy: "filename",
        o: "desc",
        filter: '{"hasTag":"car"}',
        metadataQuery: "score >= 0.8",
        strictQuery: "y",
        count: "y",
      });
    }
  });
});

describe("assets.count", () => {
  it("asks one item with count=y and answers totalCount", async () => {
    server = await startServer((_req, res) =>
      json(res, 200, { items: [{ assetId: "a" }], nextPage: "n", prevPage: null, totalCount: 42 }),
    );
    client = testClient(server.url);
    expect(await client.assets.count({ datasetId: "ds1", metadataQuery: 'camera == "a"', strictQuery: true })).toBe(42);
    expect(server.requests.map((r) => query(r.url))).toEqual([
      { s: "1", count: "y", metadataQuery: 'camera == "a"', strictQuery: "y" },
    ]);
  });

  it("counts page by page when the server sends no totalCount", async () => {
    server = await startServer((req, res) => {
      const q = query(req.url);
      if (q.s === "1") return json(res, 200, { items: [{}], nextPage: "x", prevPage: null });
      const page = Number(q.p ?? "0");
      json(res, 200, {
        items: Array.from({ length: page === 0 ? 1000 : 7 }, () => ({})),
        nextPage: page === 0 ? "1" : null,
        prevPage: null,
      });
    });
    client = testClient(server.url);
    expect(await client.assets.count({ datasetId: "ds1", filter: { status: "uploaded" } })).toBe(1007);
  });
});

describe("assets.update and updateMany", () => {
  const asset = (assetId: string, customMetadata: Record<string, unknown>) => ({
    assetId,
    metadata: { customMetadata },
  });

  it("update PATCHes a merge patch (nulls remove) or a replacement", async () => {
    server = await startServer((req, res) => json(res, 200, asset("a1", { camera: "b", iso: 200 })));
    client = testClient(server.url);
    const updated = await client.assets.update({
      datasetId: "org1_ds1",
      assetId: "a1",
      customMetadata: { camera: "b", iso: 200, old: null },
    });
    expect(updated.metadata.customMetadata).toEqual({ camera: "b", iso: 200 });
    await client.assets.update({ datasetId: "ds1", assetId: "a1", customMetadata: { only: true }, replace: true });
    expect(server.requests.map((r) => `${r.method} ${r.url} ${r.body.toString()}`)).toEqual([
      `PATCH ${ASSETS}/a1 {"customMetadata":{"camera":"b","iso":200,"old":null}}`,
      `PATCH ${ASSETS}/a1 {"customMetadata":{"only":true},"replaceCustomMetadata":true}`,
    ]);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ["a NaN", { customMetadata: { n: Number.NaN } }, /customMetadata\.n: must be a string, a finite number/],
    ["an object value", { customMetadata: { n: { a: 1 } } }, /customMetadata\.n: .* got an object/],
    ["a null in a replacement", { customMetadata: { n: null }, replace: true }, /customMetadata\.n: null is not/],
    ["a long string", { customMetadata: { n: "x".repeat(1025) } }, /over the limit of 1024/],
    ["no object", { customMetadata: undefined }, /customMetadata must be an object/],
    ["no asset id", { assetId: "", customMetadata: {} }, /assetId must be an asset id/],
  ])("update refuses %s before any request", async (_label, patch, message) => {
    server = await startServer((_req, res) => json(res, 200, {}));
    client = testClient(server.url);
    const call = client.assets.update({ datasetId: "ds1", assetId: "a1", ...patch } as never);
    await expect(call).rejects.toBeInstanceOf(ViValidationError);
    await expect(call).rejects.toThrow(message);
    expect(server.requests).toHaveLength(0);
  });

  it("updateMany sends chunks of 1000 in order and answers every asset", async () => {
    server = await startServer((req, res) => {
      const body = JSON.parse(req.body.toString()) as { updates: { assetId: string; customMetadata: object }[] };
      json(res, 200, { items: body.updates.map((u) => asset(u.assetId, u.customMetadata as never)) });
    });
    client = testClient(server.url);
    const updates = Array.from({ length: 2500 }, (_, i) => ({ assetId: `a${i}`, customMetadata: { i } }));
    updates[5] = { ...updates[5]!, replace: true } as (typeof updates)[number];
    const out = await client.assets.updateMany({ datasetId: "ds1", updates });
    expect(out.map((a) => a.assetId)).toEqual(updates.map((u) => u.assetId));
    const bodies = server.requests.map((r) => JSON.parse(r.body.toString()) as { updates: unknown[] });
    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual(Array(3).fill(`PATCH ${ASSETS}`));
    expect(bodies.map((b) => b.updates.length)).toEqual([1000, 1000, 500]);
    expect(bodies[0]?.updates[5]).toEqual({ assetId: "a5", customMetadata: { i: 5 }, replaceCustomMetadata: true });
    expect(bodies[0]?.updates[4]).toEqual({ assetId: "a4", customMetadata: { i: 4 } });
  });

  it("updateMany checks every update before the first request, naming its index", async () => {
    server = await startServer((_req, res) => json(res, 200, { items: [] }));
    client = testClient(server.url);
    const updates = Array.from({ length: 1500 }, (_, i) => ({ assetId: `a${i}`, customMetadata: { i } as never }));
    updates[1200] = { assetId: "a1200", customMetadata: { bad: [1] } as never };
    await expect(client.assets.updateMany({ datasetId: "ds1", updates })).rejects.toThrow(
      /updates\[1200\]\.customMetadata\.bad/,
    );
    expect(server.requests).toHaveLength(0);
    expect(await client.assets.updateMany({ datasetId: "ds1", updates: [] })).toEqual([]);
    expect(server.requests).toHaveLength(0);
  });

  it("a failed later chunk keeps its error class and says what the earlier chunks applied", async () => {
    server = await startServer((req, res) => {
      const body = JSON.parse(req.body.toString()) as { updates: { assetId: string }[] };
      if (body.updates.some((u) => u.assetId === "a1500"))
        return json(res, 404, { error: "ResourceNotFound", message: "asset a1500 not found", traceId: "t" });
      json(res, 200, { items: body.updates.map((u) => asset(u.assetId, {})) });
    });
    client = testClient(server.url);
    const updates = Array.from({ length: 2500 }, (_, i) => ({ assetId: `a${i}`, customMetadata: { i } }));
    const error = await client.assets.updateMany({ datasetId: "ds1", updates }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ViNotFoundError);
    expect((error as ViNotFoundError).message).toBe(
      "asset a1500 not found (updates 1000..1999 were refused; the 1000 before them were applied)",
    );
    expect((error as ViNotFoundError).details).toEqual({ applied: 1000 });
    expect((error as ViNotFoundError).status).toBe(404);
    expect(server.requests).toHaveLength(2);
  });
});

describe("assets.download of a selection", () => {
  let saveDir: string | undefined;
  afterEach(() => {
    if (saveDir) rmSync(saveDir, { recursive: true, force: true });
  });

  it("lists only the selection, with contents, and downloads nothing else", async () => {
    server = await startServer((_req, res) => json(res, 200, { items: [], nextPage: null, prevPage: null }));
    client = testClient(server.url);
    saveDir = mkdtempSync(join(tmpdir(), "vi-sel-"));
    const result = await client.assets.download({
      datasetId: "ds1",
      saveDir,
      filter: '{"customMetadata": {"camera": "a"}}',
      metadataQuery: "score > 0.5",
      strictQuery: true,
      showProgress: false,
    });
    expect(result.downloaded).toBe(0);
    expect(server.requests.map((r) => query(r.url))).toEqual([
      {
        s: "1000",
        filter: '{"customMetadata": {"camera": "a"}}',
        metadataQuery: "score > 0.5",
        strictQuery: "y",
        contents: "y",
      },
    ]);
  });

  it("refuses a malformed filter before making the folder", async () => {
    server = await startServer((_req, res) => json(res, 200, { items: [], nextPage: null, prevPage: null }));
    client = testClient(server.url);
    const target = join(tmpdir(), `vi-sel-never-${process.pid}`);
    await expect(client.assets.download({ datasetId: "ds1", saveDir: target, filter: "nope" })).rejects.toThrow(
      /filter is not valid JSON/,
    );
    expect(server.requests).toHaveLength(0);
    expect(existsSync(target)).toBe(false);
  });
});
