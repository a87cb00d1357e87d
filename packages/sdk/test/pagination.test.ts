import { afterEach, describe, expect, it } from "vitest";
import type { Asset } from "@vi/protocol";
import type { Client } from "../src/client.js";
import type { Page } from "../src/core/pagination.js";
import { json, startServer, testClient, type TestServer } from "./helpers/server.js";

let server: TestServer | undefined;
let client: Client | undefined;
afterEach(async () => {
  await client?.close();
  await server?.close();
});

const pages: Record<string, { items: { assetId: string }[]; nextPage: string | null }> = {
  first: { items: [{ assetId: "a1" }, { assetId: "a2" }], nextPage: "tok2" },
  tok2: { items: [{ assetId: "a3" }], nextPage: "tok3" },
  tok3: { items: [{ assetId: "a4" }], nextPage: null },
};

async function start(): Promise<Client> {
  server = await startServer((req, res) => {
    const url = new URL(req.url, "http://x");
    const page = pages[url.searchParams.get("p") ?? "first"];
    json(res, 200, { ...page, prevPage: null });
  });
  client = testClient(server.url);
  return client;
}

describe("PagePromise", () => {
  it("is a Promise of the first page: then, catch, finally, and where a Promise is expected", async () => {
    const c = await start();
    // Type-checked by tsconfig.test.json: a PagePromise stands where a Promise is expected.
    const promise: Promise<Page<Asset>> = c.assets.list({ datasetId: "ds1" });
    let settled = false;
    const page = await promise.finally(() => {
      settled = true;
    });
    expect(settled).toBe(true);
    expect(page.items).toHaveLength(2);
    const [first, count] = await Promise.all([c.assets.list({ datasetId: "ds1" }), Promise.resolve(1)]);
    expect(first.nextPage).toBe("tok2");
    expect(count).toBe(1);
    expect(Object.prototype.toString.call(promise)).toBe("[object PagePromise]");
    // finally on a rejected first page passes the rejection on.
    const bad = c.assets.list({ datasetId: "ds1", pageSize: 0 });
    let ran = false;
    await expect(
      bad.finally(() => {
        ran = true;
      }),
    ).rejects.toThrow(/pageSize/);
    expect(ran).toBe(true);
  });

  it("awaits to the first page", async () => {
    const page = await (await start()).assets.list({ datasetId: "ds1" });
    expect(page.items.map((a) => a.assetId)).toEqual(["a1", "a2"]);
    expect(page.nextPage).toBe("tok2");
  });

  it("iterates every page with for await, following the tokens", async () => {
    const c = await start();
    const seen: string[][] = [];
    for await (const page of c.assets.list({ datasetId: "ds1", pageSize: 2 }))
      seen.push(page.items.map((a) => a.assetId));
    expect(seen).toEqual([["a1", "a2"], ["a3"], ["a4"]]);
    const urls = server?.requests.map((r) => new URL(r.url, "http://x")) ?? [];
    expect(urls.map((u) => u.searchParams.get("p"))).toEqual([null, "tok2", "tok3"]);
    expect(urls.every((u) => u.searchParams.get("s") === "2")).toBe(true);
    expect(urls[0]?.pathname).toBe("/workspaces/org1/datasets/org1_ds1/assets");
  });

  it(".items() yields every item of every page", async () => {
    const c = await start();
    const ids: string[] = [];
    for await (const asset of c.assets.list({ datasetId: "org1_ds1" }).items()) ids.push(asset.assetId);
    expect(ids).toEqual(["a1", "a2", "a3", "a4"]);
  });

  it("sends nothing until used, and maps list options to the wire's query names", async () => {
    const c = await start();
    const listing = c.assets.list({
      datasetId: "ds1",
      pageToken: "tok3",
      sortBy: { criterion: "metadata.fileSize", order: "desc" },
      filter: { status: "error" },
      metadataQuery: 'custom_field == "value"',
      contents: true,
      strictQuery: true,
    });
    expect(server?.requests).toHaveLength(0);
    await listing;
    const q = new URL(server?.requests[0]?.url ?? "", "http://x").searchParams;
    expect(Object.fromEntries(q)).toEqual({
      p: "tok3",
      sortBy: "metadata.fileSize",
      o: "desc",
      filter: '{"status":"error"}',
      metadataQuery: 'custom_field == "value"',
      contents: "y",
      strictQuery: "y",
    });
  });
});
