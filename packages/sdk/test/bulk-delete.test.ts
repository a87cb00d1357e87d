import { afterEach, describe, expect, it } from "vitest";
import type { Client } from "../src/client.js";
import { ViBulkDeleteError, ViTimeoutError, ViValidationError } from "../src/core/errors.js";
import { json, startServer, testClient, type TestServer } from "./helpers/server.js";

let server: TestServer | undefined;
let client: Client | undefined;
afterEach(async () => {
  await client?.close();
  await server?.close();
  server = undefined;
  client = undefined;
});

const SESSIONS = "/workspaces/org1/datasets/org1_ds1/deleteManyAssetsSessions";

function session(
  finished: "Waiting" | "Reached" | "FailedReach",
  counts: { selected: number; deleted: number },
  spec: unknown = {},
  message?: string,
) {
  return {
    kind: "BulkAssetDeletionSession",
    workspaceId: "org1",
    datasetId: "org1_ds1",
    deleteManyAssetsSessionId: "bd1",
    selfLink: "",
    etag: "",
    metadata: { timeCreated: 0, lastUpdated: 0, generation: 1, attributes: {} },
    spec,
    status: {
      conditions: [
        { condition: "Started", status: "Reached", lastTransitionTime: 0 },
        { condition: "Finished", status: finished, lastTransitionTime: 0, ...(message ? { message } : {}) },
      ],
      ...counts,
    },
  };
}

const body = (i: number) => JSON.parse(server?.requests[i]?.body.toString() ?? "null") as unknown;

describe("datasets.bulkDeleteAssets", () => {
  it.each<[string, Record<string, unknown>]>([
    ["neither filter nor query", {}],
    ["an empty filter object", { filter: {} }],
    ["an empty filter text", { filter: "{}" }],
    ["a blank query", { metadataQuery: "  " }],
  ])("refuses %s before any request", async (_label, selection) => {
    server = await startServer((_req, res) => json(res, 201, session("Reached", { selected: 0, deleted: 0 })));
    client = testClient(server.url);
    const call = client.datasets.bulkDeleteAssets({ datasetId: "ds1", ...selection });
    await expect(call).rejects.toBeInstanceOf(ViValidationError);
    await expect(call).rejects.toThrow(/needs a filter or a metadataQuery that selects assets/);
    expect(server.requests).toHaveLength(0);
  });

  it("a dry run is finished at once: one POST, no poll", async () => {
    server = await startServer((req, res) =>
      json(res, 201, session("Reached", { selected: 7, deleted: 0 }, JSON.parse(req.body.toString()).spec)),
    );
    client = testClient(server.url);
    const done = await client.datasets.bulkDeleteAssets({
      datasetId: "org1_ds1",
      filter: '{"status": "error"}',
      strictQuery: true,
      dryRun: true,
    });
    expect(done.status).toMatchObject({ selected: 7, deleted: 0 });
    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual([`POST ${SESSIONS}`]);
    expect(body(0)).toEqual({
      spec: { filter: '{"status": "error"}', metadataQuery: null, ruleQuery: null, strictQuery: true, dryRun: true },
    });
  });

  it("sends an object filter as an object and a query alone with filter null", async () => {
    server = await startServer((_req, res) => json(res, 201, session("Reached", { selected: 1, deleted: 1 })));
    client = testClient(server.url);
    await client.datasets.bulkDeleteAssets({ datasetId: "ds1", filter: { hasTag: "car" } });
    await client.datasets.bulkDeleteAssets({ datasetId: "ds1", filter: {}, metadataQuery: "not exists(reviewed)" });
    expect(body(0)).toEqual({
      spec: { filter: { hasTag: "car" }, metadataQuery: null, ruleQuery: null, strictQuery: null },
    });
    expect(body(1)).toEqual({
      spec: { filter: null, metadataQuery: "not exists(reviewed)", ruleQuery: null, strictQuery: null },
    });
  });

  it("long-polls the session until it has finished", async () => {
    let polls = 0;
    server = await startServer((req, res) => {
      if (req.method === "POST") return json(res, 201, session("Waiting", { selected: 3, deleted: 0 }));
      polls++;
      json(res, 200, session(polls < 2 ? "Waiting" : "Reached", { selected: 3, deleted: polls < 2 ? 1 : 3 }));
    });
    client = testClient(server.url);
    const done = await client.datasets.bulkDeleteAssets({ datasetId: "ds1", metadataQuery: "score < 0.2" });
    expect(done.status).toMatchObject({ selected: 3, deleted: 3 });
    expect(server.requests.slice(1).map((r) => `${r.method} ${r.url}`)).toEqual([
      `GET ${SESSIONS}/bd1?waitFor=Finished&timeout=30`,
      `GET ${SESSIONS}/bd1?waitFor=Finished&timeout=30`,
    ]);
  });

  it("raises ViBulkDeleteError, with the session, when it ends FailedReach", async () => {
    server = await startServer((req, res) => {
      if (req.method === "POST") return json(res, 201, session("Waiting", { selected: 5, deleted: 0 }));
      json(res, 200, session("FailedReach", { selected: 5, deleted: 2 }, {}, "the store is read-only"));
    });
    client = testClient(server.url);
    const error = await client.datasets
      .bulkDeleteAssets({ datasetId: "ds1", filter: { status: "uploaded" } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ViBulkDeleteError);
    expect((error as ViBulkDeleteError).message).toBe(
      "bulk delete bd1 failed: the store is read-only (2 of 5 selected assets deleted)",
    );
    expect((error as ViBulkDeleteError).code).toBe("BulkDeleteFailed");
    expect((error as ViBulkDeleteError).session.status.deleted).toBe(2);
  });

  it("waitUntilDone: false answers the opened session; waitForBulkDelete waits for it later", async () => {
    let polls = 0;
    server = await startServer((req, res) => {
      if (req.method === "POST") return json(res, 201, session("Waiting", { selected: 2, deleted: 0 }));
      polls++;
      json(res, 200, session(polls === 1 ? "Waiting" : "Reached", { selected: 2, deleted: polls === 1 ? 0 : 2 }));
    });
    client = testClient(server.url);
    const opened = await client.datasets.bulkDeleteAssets({
      datasetId: "ds1",
      filter: { status: "error" },
      waitUntilDone: false,
    });
    expect(opened.status.deleted).toBe(0);
    expect(server.requests).toHaveLength(1);
    const done = await client.datasets.waitForBulkDelete({ datasetId: "ds1", deleteManyAssetsSessionId: "bd1" });
    expect(done.status.deleted).toBe(2);
    expect(server.requests.slice(1).map((r) => r.url)).toEqual([
      `${SESSIONS}/bd1`,
      `${SESSIONS}/bd1?waitFor=Finished&timeout=30`,
    ]);
  });

  it("a server that never finishes times out with ViTimeoutError, after polls that do not spin", async () => {
    server = await startServer((req, res) =>
      json(res, req.method === "POST" ? 201 : 200, session("Waiting", { selected: 9, deleted: 4 })),
    );
    client = testClient(server.url);
    const error = await client.datasets
      .bulkDeleteAssets({ datasetId: "ds1", filter: { status: "error" }, timeout: 1200 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ViTimeoutError);
    expect((error as ViTimeoutError).message).toMatch(/did not finish within 1200 ms \(4 of 9 deleted so far\)/);
    // Answered at once, so polled with growing pauses (250, 500 ms, ...), not in a tight loop.
    expect(server.requests.length).toBeLessThan(8);
  });

  it("stops waiting when the signal aborts", async () => {
    server = await startServer((req, res) =>
      json(res, req.method === "POST" ? 201 : 200, session("Waiting", { selected: 1, deleted: 0 })),
    );
    client = testClient(server.url);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("stop")), 300);
    await expect(
      client.datasets.bulkDeleteAssets({ datasetId: "ds1", filter: { status: "error" }, signal: controller.signal }),
    ).rejects.toThrow("stop");
  });
});
