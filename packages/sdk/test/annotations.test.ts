import { afterEach, describe, expect, it } from "vitest";
import type { Client } from "../src/client.js";
import { ViValidationError } from "../src/core/errors.js";
import { annotationSpec } from "../src/resources/annotations.js";
import { json, startServer, testClient, type TestServer } from "./helpers/server.js";

let server: TestServer | undefined;
let client: Client | undefined;
afterEach(async () => {
  await client?.close();
  await server?.close();
  server = undefined;
  client = undefined;
});

const ANNOTATIONS = "/workspaces/org1/datasets/org1_ds1/assets/a1/annotations";

describe("annotationSpec", () => {
  it("a box, a caption, or neither (the whole image)", () => {
    expect(annotationSpec({ tag: "car", bbox: [1, 2, 30, 40] })).toEqual({
      tag: "car",
      contents: {
        bound: [
          [1, 2],
          [30, 40],
        ],
      },
    });
    expect(annotationSpec({ tag: "scene", caption: "a red car" })).toEqual({
      tag: "scene",
      contents: { kind: "Caption", contents: "a red car" },
    });
    expect(annotationSpec({ tag: "car" })).toEqual({ tag: "car" });
  });

  it.each<[string, Parameters<typeof annotationSpec>[0], RegExp]>([
    ["an empty tag", { tag: " " }, /tag must be a name of 1 to 255 characters/],
    ["a long tag", { tag: "t".repeat(256) }, /tag must be a name/],
    ["a box and a caption", { tag: "t", bbox: [0, 0, 1, 1], caption: "c" }, /a bbox or a caption, not both/],
    ["three numbers", { tag: "t", bbox: [0, 0, 1] as never }, /bbox must be four finite numbers/],
    ["a NaN", { tag: "t", bbox: [0, 0, Number.NaN, 1] }, /bbox must be four finite numbers/],
    ["swapped corners", { tag: "t", bbox: [5, 0, 1, 1] }, /x0 <= x1 and y0 <= y1/],
  ])("refuses %s", (_label, options, message) => {
    expect(() => annotationSpec(options)).toThrow(message);
    expect(() => annotationSpec(options)).toThrow(ViValidationError);
  });
});

describe("client.annotations", () => {
  it("create, list (pages with pageToken and pageSize), get, delete", async () => {
    server = await startServer((req, res) => {
      const url = new URL(req.url, "http://x");
      if (req.method === "POST") return json(res, 201, { annotationId: "n1", spec: { tagName: "car" } });
      if (req.method === "DELETE") {
        res.writeHead(204).end();
        return;
      }
      if (url.pathname === ANNOTATIONS) {
        const token = url.searchParams.get("pageToken");
        return json(res, 200, {
          items: [{ annotationId: token ? "n2" : "n1" }],
          nextPage: token ? null : "t2",
          prevPage: null,
        });
      }
      json(res, 200, { annotationId: "n1" });
    });
    client = testClient(server.url);
    const created = await client.annotations.create({
      datasetId: "ds1",
      assetId: "a1",
      tag: "car",
      bbox: [0, 0, 5, 5],
    });
    expect(created.annotationId).toBe("n1");
    const ids: string[] = [];
    for await (const page of client.annotations.list({ datasetId: "org1_ds1", assetId: "a1", pageSize: 1 }))
      ids.push(...page.items.map((a) => a.annotationId));
    expect(ids).toEqual(["n1", "n2"]);
    expect((await client.annotations.get({ datasetId: "ds1", assetId: "a1", annotationId: "n1" })).annotationId).toBe(
      "n1",
    );
    expect(await client.annotations.delete({ datasetId: "ds1", assetId: "a1", annotationId: "n1" })).toEqual({
      annotationId: "n1",
      deleted: true,
    });
    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      `POST ${ANNOTATIONS}`,
      `GET ${ANNOTATIONS}?pageSize=1`,
      `GET ${ANNOTATIONS}?pageToken=t2&pageSize=1`,
      `GET ${ANNOTATIONS}/n1`,
      `DELETE ${ANNOTATIONS}/n1`,
    ]);
    expect(JSON.parse(server.requests[0]?.body.toString() ?? "")).toEqual({
      spec: {
        tag: "car",
        contents: {
          bound: [
            [0, 0],
            [5, 5],
          ],
        },
      },
    });
  });

  it("a bad annotation is refused before any request", async () => {
    server = await startServer((_req, res) => json(res, 201, {}));
    client = testClient(server.url);
    await expect(
      client.annotations.create({ datasetId: "ds1", assetId: "a1", tag: "car", bbox: [0, 0, 1, 1], caption: "x" }),
    ).rejects.toBeInstanceOf(ViValidationError);
    await expect(client.annotations.list({ datasetId: "ds1", assetId: "a1", pageSize: 0 })).rejects.toBeInstanceOf(
      ViValidationError,
    );
    expect(server.requests).toHaveLength(0);
  });
});
