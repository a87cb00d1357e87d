import { afterEach, describe, expect, it } from "vitest";
import type { Client } from "../src/client.js";
import { ViServerError } from "../src/core/errors.js";
import { json, startServer, testClient, type TestServer } from "./helpers/server.js";

let server: TestServer | undefined;
let client: Client | undefined;
afterEach(async () => {
  await client?.close();
  await server?.close();
});

describe("resources", () => {
  it("datasets: create, list, get, delete", async () => {
    server = await startServer((req, res) => {
      if (req.method === "POST")
        return json(res, 201, { kind: "Dataset", datasetId: "ds9", ...JSON.parse(req.body.toString()) });
      if (req.method === "DELETE")
        return json(res, 200, { kind: "DeletedDataset", datasetId: "ds9", deleted: true, deletedAssets: 7 });
      if (req.url === "/workspaces/org1/datasets")
        return json(res, 200, { items: [{ datasetId: "ds9" }], nextPage: null, prevPage: null });
      return json(res, 200, { kind: "Dataset", datasetId: "ds9" });
    });
    client = testClient(server.url);
    expect(await client.datasets.create({ name: "cats", description: "d", type: "vqa" })).toMatchObject({
      datasetId: "ds9",
      name: "cats",
      type: "vqa",
    });
    expect(JSON.parse(server.requests[0]?.body.toString() ?? "")).toEqual({
      name: "cats",
      description: "d",
      type: "vqa",
    });
    expect(server.requests[0]?.headers["content-type"]).toBe("application/json");
    expect((await client.datasets.list()).items).toEqual([{ datasetId: "ds9" }]);
    await client.datasets.get({ datasetId: "ds9" });
    expect(await client.datasets.delete({ datasetId: "org1_ds9" })).toEqual({
      kind: "DeletedDataset",
      datasetId: "ds9",
      deleted: true,
      deletedAssets: 7,
    });
    expect(server.requests.slice(2).map((r) => `${r.method} ${r.url}`)).toEqual([
      "GET /workspaces/org1/datasets/org1_ds9",
      "DELETE /workspaces/org1/datasets/org1_ds9",
    ]);
  });

  it("organizations: get, and createKey", async () => {
    server = await startServer((req, res) => {
      if (req.method === "POST")
        return json(res, 201, {
          kind: "SecretKey",
          keyId: "k1",
          name: "ci",
          workspaceId: "org1",
          secretKey: "dtvi_x",
          createDate: 1,
        });
      return json(res, 200, { kind: "Workspace", workspaceId: "org1" });
    });
    client = testClient(server.url);
    expect((await client.organizations.get()).workspaceId).toBe("org1");
    expect(await client.organizations.createKey({ name: "ci" })).toMatchObject({ keyId: "k1", secretKey: "dtvi_x" });
    expect(server.requests.map((r) => `${r.method} ${r.url} ${r.body.toString()}`)).toEqual([
      "GET /workspaces/org1 ",
      'POST /workspaces/org1/secretKeys {"name":"ci"}',
    ]);
  });

  it("does not retry a POST that failed with a 500", async () => {
    server = await startServer((_req, res) => json(res, 500, { error: "ServerError", message: "boom", traceId: "t" }));
    client = testClient(server.url);
    await expect(client.datasets.create({ name: "x" })).rejects.toBeInstanceOf(ViServerError);
    expect(server.requests).toHaveLength(1);
  });

  it("assets: get with contents, delete with an empty answer", async () => {
    server = await startServer((req, res) => {
      if (req.method === "DELETE") {
        res.writeHead(204).end();
        return;
      }
      json(res, 200, { assetId: "a1", contents: { asset: { url: "http://x/a.jpg", expiry: 1 } } });
    });
    client = testClient(server.url);
    const asset = await client.assets.get({ datasetId: "ds1", assetId: "a1", contents: true });
    expect(asset.contents?.asset?.url).toBe("http://x/a.jpg");
    expect(await client.assets.delete({ datasetId: "ds1", assetId: "a1" })).toEqual({ assetId: "a1", deleted: true });
    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      "GET /workspaces/org1/datasets/org1_ds1/assets/a1?contents=y",
      "DELETE /workspaces/org1/datasets/org1_ds1/assets/a1",
    ]);
  });
});
