import { describe, expect, it } from "vitest";
import {
  ViBulkDeleteError,
  ViNotFoundError,
  ViValidationError,
  type Annotation,
  type BulkAssetDeletionSession,
} from "@vi/sdk";
import { compactMetadata } from "../src/index.js";
import { asset, cli, fakeClient, pagesOf, uploadResult } from "./harness.js";

const json = (text: string): unknown => JSON.parse(text);
const signal = expect.any(AbortSignal);

function deletion(
  selected: number,
  deleted: number,
  dryRun = false,
  finished: "Reached" | "FailedReach" = "Reached",
): BulkAssetDeletionSession {
  return {
    kind: "BulkAssetDeletionSession",
    workspaceId: "org",
    datasetId: "org_ds1",
    deleteManyAssetsSessionId: "bd1",
    selfLink: "",
    etag: "",
    metadata: { timeCreated: 0, lastUpdated: 0, generation: 1, attributes: {} },
    spec: { filter: '{"status": "error"}', metadataQuery: null, ruleQuery: null, strictQuery: null, dryRun },
    status: {
      conditions: [
        { condition: "Started", status: "Reached", lastTransitionTime: 0 },
        { condition: "Finished", status: finished, lastTransitionTime: 0 },
      ],
      selected,
      deleted,
    },
  };
}

function annotation(id: string, contents: Annotation["spec"]["contents"], tagName = "car"): Annotation {
  return {
    kind: "Annotation",
    annotationId: id,
    assetId: "a1",
    datasetId: "org_ds1",
    workspaceId: "org",
    selfLink: "",
    etag: "",
    metadata: { timeCreated: 0, lastUpdated: 0, generation: 1, attributes: {} },
    spec: {
      boundType: "box",
      tag: 1,
      tagName,
      aggregation: { whole: { id: "" }, thisPart: { role: "" } },
      contents,
    },
  };
}

const box = (bound: number[][]): Annotation["spec"]["contents"] => ({
  kind: "PhraseGroundingBoundingBox",
  bound,
  target: [0, 0],
});

describe("compactMetadata", () => {
  it("shows types where a bare value would hide them, and cuts long text", () => {
    expect(compactMetadata({})).toBe("-");
    expect(compactMetadata({ a: "x", b: 1.5, c: false, d: "true", e: "", f: "-3", g: "a=b" })).toBe(
      'a=x b=1.5 c=false d="true" e="" f="-3" g="a=b"',
    );
    expect(compactMetadata({ long: "y".repeat(100) }, 20)).toBe(`long=${"y".repeat(14)}…`);
  });
});

describe("assets list: selection, sort and count", () => {
  it("maps --sort, --order, --filter, --query, --strict and --page-size", async () => {
    const client = fakeClient();
    client.assets.list.mockReturnValue(pagesOf([[]]));
    const r = await cli(
      [
        "assets",
        "list",
        "ds1",
        "--sort",
        "metadata.width",
        "--order",
        "desc",
        "--filter",
        '{"status": "uploaded"}',
        "--query",
        'custom_field == "value"',
        "--strict",
        "--page-size",
        "5",
      ],
      client,
    );
    expect(r.code).toBe(0);
    expect(client.assets.list).toHaveBeenCalledWith({
      datasetId: "ds1",
      pageSize: 5,
      sortBy: { criterion: "metadata.width", order: "desc" },
      filter: '{"status": "uploaded"}',
      metadataQuery: 'custom_field == "value"',
      strictQuery: true,
      signal,
    });
  });

  it("--count prints only the count of the selection; --json {count}", async () => {
    const client = fakeClient();
    client.assets.count.mockResolvedValue(42);
    const r = await cli(["assets", "list", "ds1", "--count", "--query", "score >= 0.8", "--strict"], client);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("42\n");
    expect(client.assets.count).toHaveBeenCalledWith({
      datasetId: "ds1",
      metadataQuery: "score >= 0.8",
      strictQuery: true,
      signal,
    });
    expect(client.assets.list).not.toHaveBeenCalled();
    const j = await cli(["assets", "list", "ds1", "--count", "--json", "--filter", '{"hasTag": "car"}'], client);
    expect(json(j.stdout)).toEqual({ count: 42 });
    expect(client.assets.count).toHaveBeenLastCalledWith({ datasetId: "ds1", filter: '{"hasTag": "car"}', signal });
  });

  it.each([["--all"], ["--contents"]])("--count with %s is a usage error", async (flag) => {
    const r = await cli(["assets", "list", "ds1", "--count", flag]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot be used with/);
  });

  it("--all --json with a filter is one JSON document over every page", async () => {
    const client = fakeClient();
    client.assets.list.mockImplementation(() => pagesOf([[asset("a1", "1.jpg")], [asset("a2", "2.jpg")]]));
    const r = await cli(["assets", "list", "ds1", "--all", "--json", "--filter", '{"status": "uploaded"}'], client);
    expect(json(r.stdout)).toEqual({ items: [asset("a1", "1.jpg"), asset("a2", "2.jpg")], nextPage: null, count: 2 });
  });

  it("a query the server refuses (400) exits 5 with its message", async () => {
    const client = fakeClient();
    client.assets.count.mockRejectedValue(
      new ViValidationError("metadataQuery: expected a value at position 9", { code: "InvalidParameter", status: 400 }),
    );
    const r = await cli(["assets", "list", "ds1", "--count", "--query", "camera =="], client);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/^error: metadataQuery: expected a value at position 9$/m);
  });
});

describe("assets update", () => {
  it("merges --metadata-json (types kept), --set (strings) and --unset (null)", async () => {
    const client = fakeClient();
    const updated = asset("a1", "cat.jpg");
    updated.metadata.customMetadata = { camera: "b", iso: 200, night: true };
    client.assets.update.mockResolvedValue(updated);
    const r = await cli(
      [
        "assets",
        "update",
        "ds1",
        "a1",
        "--metadata-json",
        '{"iso": 200, "night": true, "camera": "x"}',
        "--set",
        "camera=b",
        "--set",
        "lens=50",
        "--unset",
        "reviewed",
        "--unset",
        "old",
      ],
      client,
    );
    expect(r.code).toBe(0);
    expect(client.assets.update).toHaveBeenCalledWith({
      datasetId: "ds1",
      assetId: "a1",
      customMetadata: { iso: 200, night: true, camera: "b", lens: "50", reviewed: null, old: null },
      signal,
    });
    expect(r.stdout).toContain("Updated asset a1 (cat.jpg)");
    expect(r.stdout).toContain("  iso: 200\n");
    expect(r.stdout).toContain('  camera: "b"\n');
    const j = await cli(["assets", "update", "ds1", "a1", "--set", "camera=b", "--json"], client);
    expect(json(j.stdout)).toEqual(updated);
  });

  it("--replace sends a replacement; alone it clears every key", async () => {
    const client = fakeClient();
    client.assets.update.mockResolvedValue(asset("a1", "cat.jpg"));
    await cli(["assets", "update", "ds1", "a1", "--replace", "--metadata-json", '{"split": "train"}'], client);
    expect(client.assets.update).toHaveBeenLastCalledWith({
      datasetId: "ds1",
      assetId: "a1",
      customMetadata: { split: "train" },
      replace: true,
      signal,
    });
    await cli(["assets", "update", "ds1", "a1", "--replace"], client);
    expect(client.assets.update).toHaveBeenLastCalledWith({
      datasetId: "ds1",
      assetId: "a1",
      customMetadata: {},
      replace: true,
      signal,
    });
  });

  it.each<[string[], RegExp]>([
    [[], /nothing to change/],
    [["--replace", "--unset", "a"], /--unset cannot be combined with --replace/],
    [["--set", "a=1", "--unset", "a"], /a: both set and --unset/],
    [["--metadata-json", '{"a": [1]}'], /strings, numbers, booleans or null/],
    [["--set", "novalue"], /expected key=value/],
  ])("usage errors exit 2: %j", async (flags, message) => {
    const client = fakeClient();
    const r = await cli(["assets", "update", "ds1", "a1", ...flags], client);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(client.assets.update).not.toHaveBeenCalled();
  });

  it("the SDK's validation error exits 5; a missing asset exits 4", async () => {
    const client = fakeClient();
    client.assets.update.mockRejectedValueOnce(
      new ViValidationError("customMetadata.note: a string of 2000 characters is over the limit of 1024", {
        code: "InvalidParameter",
      }),
    );
    const r = await cli(["assets", "update", "ds1", "a1", "--set", `note=${"x".repeat(2000)}`], client);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/over the limit of 1024/);
    client.assets.update.mockRejectedValueOnce(
      new ViNotFoundError("asset nope not found", { code: "ResourceNotFound", status: 404 }),
    );
    expect((await cli(["assets", "update", "ds1", "nope", "--set", "a=b"], client)).code).toBe(4);
  });
});

describe("assets bulk-delete", () => {
  it.each<[string[]]>([[[]], [["--filter", "{}"]], [["--query", "  "]], [["--strict", "--dry-run"]]])(
    "refuses a selection of nothing with exit 2: %j",
    async (flags) => {
      const r = await cli(["assets", "bulk-delete", "ds1", "--yes", ...flags]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/bulk-delete needs --filter or --query/);
      expect(r.stderr).toMatch(/hint: to delete every asset, delete the dataset: vi-cli datasets delete ds1/);
      expect(r.createClient).not.toHaveBeenCalled();
    },
  );

  it("--dry-run only counts", async () => {
    const client = fakeClient();
    client.datasets.bulkDeleteAssets.mockResolvedValue(deletion(7, 0, true));
    const r = await cli(["assets", "bulk-delete", "ds1", "--filter", '{"status": "error"}', "--dry-run"], client);
    expect(r.code).toBe(0);
    expect(client.datasets.bulkDeleteAssets).toHaveBeenCalledTimes(1);
    expect(client.datasets.bulkDeleteAssets).toHaveBeenCalledWith({
      datasetId: "ds1",
      filter: '{"status": "error"}',
      dryRun: true,
      signal,
    });
    expect(r.stdout).toBe("7 asset(s) selected; dry run: nothing was deleted\n");
  });

  it("--yes deletes at once and prints selected/deleted; --json the session's counts", async () => {
    const client = fakeClient();
    client.datasets.bulkDeleteAssets.mockResolvedValue(deletion(7, 7));
    const r = await cli(["assets", "bulk-delete", "ds1", "--query", "score < 0.2", "--strict", "--yes"], client);
    expect(r.code).toBe(0);
    expect(client.datasets.bulkDeleteAssets).toHaveBeenCalledTimes(1);
    expect(client.datasets.bulkDeleteAssets).toHaveBeenCalledWith({
      datasetId: "ds1",
      metadataQuery: "score < 0.2",
      strictQuery: true,
      signal,
    });
    expect(r.stdout).toBe("Deleted 7 of 7 selected asset(s)\n");
    const j = await cli(["assets", "bulk-delete", "ds1", "--query", "score < 0.2", "--yes", "--json"], client);
    expect(json(j.stdout)).toMatchObject({ deleteManyAssetsSessionId: "bd1", selected: 7, deleted: 7, dryRun: false });
  });

  it("without --yes and without a terminal it counts, then refuses (exit 2) naming the count", async () => {
    const client = fakeClient();
    client.datasets.bulkDeleteAssets.mockResolvedValue(deletion(3, 0, true));
    const r = await cli(["assets", "bulk-delete", "ds1", "--filter", '{"status": "error"}'], client);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refusing to delete 3 asset\(s\) of dataset ds1 without confirmation/);
    expect(r.stderr).toMatch(/hint: pass --yes/);
    expect(client.datasets.bulkDeleteAssets).toHaveBeenCalledTimes(1);
    expect(client.datasets.bulkDeleteAssets).toHaveBeenCalledWith(expect.objectContaining({ dryRun: true }));
  });

  it("on a terminal it asks with the count, and deletes on yes", async () => {
    const client = fakeClient();
    client.datasets.bulkDeleteAssets.mockResolvedValueOnce(deletion(3, 0, true)).mockResolvedValueOnce(deletion(3, 3));
    const questions: string[] = [];
    const r = await cli(["assets", "bulk-delete", "ds1", "--filter", '{"status": "error"}'], client, {
      isInteractive: () => true,
      confirm: async (q) => {
        questions.push(q);
        return true;
      },
    });
    expect(r.code).toBe(0);
    expect(questions).toEqual(["Delete 3 asset(s) of dataset ds1?"]);
    expect(client.datasets.bulkDeleteAssets.mock.calls.map(([o]) => (o as { dryRun?: boolean }).dryRun)).toEqual([
      true,
      undefined,
    ]);
    expect(r.stdout).toBe("Deleted 3 of 3 selected asset(s)\n");
  });

  it("a declined confirmation deletes nothing (exit 130); an empty selection asks nothing", async () => {
    const client = fakeClient();
    client.datasets.bulkDeleteAssets.mockResolvedValue(deletion(3, 0, true));
    const no = await cli(["assets", "bulk-delete", "ds1", "--filter", '{"status": "error"}'], client, {
      isInteractive: () => true,
      confirm: async () => false,
    });
    expect(no.code).toBe(130);
    expect(no.stderr).toMatch(/deletion cancelled: nothing was deleted/);
    expect(client.datasets.bulkDeleteAssets).toHaveBeenCalledTimes(1);

    const none = fakeClient();
    none.datasets.bulkDeleteAssets.mockResolvedValue(deletion(0, 0, true));
    const r = await cli(["assets", "bulk-delete", "ds1", "--filter", '{"status": "error"}'], none);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("0 asset(s) selected; dry run: nothing was deleted\n");
    expect(none.datasets.bulkDeleteAssets).toHaveBeenCalledTimes(1);
  });

  it("a session that failed part way exits 1", async () => {
    const client = fakeClient();
    const failed = deletion(5, 2, false, "FailedReach");
    client.datasets.bulkDeleteAssets.mockRejectedValue(
      new ViBulkDeleteError("bulk delete bd1 failed: disk (2 of 5 selected assets deleted)", {
        code: "BulkDeleteFailed",
        session: failed,
      }),
    );
    const r = await cli(["assets", "bulk-delete", "ds1", "--filter", '{"status": "error"}', "--yes"], client);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/2 of 5 selected assets deleted/);
  });
});

describe("assets download and upload: selection and metadata", () => {
  it("download passes --filter, --query and --strict", async () => {
    const client = fakeClient();
    client.assets.download.mockResolvedValue({ saveDir: "/out", downloaded: 1, skipped: 0, failed: [], bytes: 10 });
    const r = await cli(
      ["assets", "download", "ds1", "out", "--filter", '{"hasTag": "car"}', "--query", "iso > 100", "--strict"],
      client,
    );
    expect(r.code).toBe(0);
    expect(client.assets.download).toHaveBeenCalledWith({
      datasetId: "ds1",
      saveDir: "out",
      filter: '{"hasTag": "car"}',
      metadataQuery: "iso > 100",
      strictQuery: true,
      signal,
    });
  });

  it("upload passes --metadata-file, and --metadata-json keeps its types", async () => {
    const client = fakeClient();
    client.assets.upload.mockResolvedValue(uploadResult(1));
    const r = await cli(
      [
        "assets",
        "upload",
        "ds1",
        "imgs",
        "--metadata-json",
        '{"iso": 200, "night": true, "score": 0.5, "camera": "a"}',
        "--metadata-file",
        "meta.json",
      ],
      client,
    );
    expect(r.code).toBe(0);
    expect(client.assets.upload).toHaveBeenCalledWith(
      expect.objectContaining({
        customMetadata: { iso: 200, night: true, score: 0.5, camera: "a" },
        metadataFile: "meta.json",
      }),
    );
  });
});

describe("annotations", () => {
  it("create maps --tag and --bbox; --json prints the annotation", async () => {
    const client = fakeClient();
    const created = annotation(
      "n1",
      box([
        [1, 2],
        [30, 40],
      ]),
    );
    client.annotations.create.mockResolvedValue(created);
    const r = await cli(["annotations", "create", "ds1", "a1", "--tag", "car", "--bbox", "1, 2,30,40"], client);
    expect(r.code).toBe(0);
    expect(client.annotations.create).toHaveBeenCalledWith({
      datasetId: "ds1",
      assetId: "a1",
      tag: "car",
      bbox: [1, 2, 30, 40],
      signal,
    });
    expect(r.stdout).toBe("Created annotation n1 (car: [[1,2],[30,40]])\n");
    const j = await cli(
      ["annotations", "create", "ds1", "a1", "--tag", "scene", "--caption", "a red car", "--json"],
      client,
    );
    expect(json(j.stdout)).toEqual(created);
    expect(client.annotations.create).toHaveBeenLastCalledWith({
      datasetId: "ds1",
      assetId: "a1",
      tag: "scene",
      caption: "a red car",
      signal,
    });
  });

  it.each<[string[], RegExp]>([
    [["annotations", "create", "ds1", "a1"], /required option '--tag <name>' not specified/],
    [["annotations", "create", "ds1", "a1", "--tag", "t", "--bbox", "1,2,3"], /expected four numbers x0,y0,x1,y1/],
    [["annotations", "create", "ds1", "a1", "--tag", "t", "--bbox", "a,b,c,d"], /expected four numbers/],
    [
      ["annotations", "create", "ds1", "a1", "--tag", "t", "--bbox", "0,0,1,1", "--caption", "x"],
      /cannot be used with option '--caption/,
    ],
    [["annotations", "delete", "ds1", "a1"], /missing required argument 'annotationId'/],
  ])("usage errors exit 2: %j", async (argv, message) => {
    const r = await cli(argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it("list prints every page as a table; --json {items, count}", async () => {
    const client = fakeClient();
    const items = [
      annotation(
        "n1",
        box([
          [0, 0],
          [5, 5],
        ]),
      ),
      annotation("n2", { kind: "Caption", contents: "a red car" }, "scene"),
    ];
    client.annotations.list.mockImplementation(() => pagesOf([[items[0]], [items[1]]]));
    const r = await cli(["annotations", "list", "ds1", "a1"], client);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ANNOTATIONID +TAG +KIND +CONTENTS$/);
    expect(lines[1]).toMatch(/^n1 +car +PhraseGroundingBoundingBox +\[\[0,0\],\[5,5\]\]$/);
    expect(lines[2]).toMatch(/^n2 +scene +Caption +"a red car"$/);
    expect(client.annotations.list).toHaveBeenCalledWith({ datasetId: "ds1", assetId: "a1", signal });
    const j = await cli(["annotations", "list", "ds1", "a1", "--json"], client);
    expect(json(j.stdout)).toEqual({ items, count: 2 });
  });

  it("get and delete; a missing annotation exits 4", async () => {
    const client = fakeClient();
    client.annotations.get.mockResolvedValue(annotation("n1", { kind: "Caption", contents: "x" }));
    const got = await cli(["annotations", "get", "ds1", "a1", "n1"], client);
    expect(got.stdout).toMatch(/^Annotation id: +n1$/m);
    expect(got.stdout).toMatch(/^Tag: +car \(id 1\)$/m);
    client.annotations.delete.mockResolvedValue({ annotationId: "n1", deleted: true });
    const del = await cli(["annotations", "delete", "ds1", "a1", "n1"], client);
    expect(del.code).toBe(0);
    expect(del.stdout).toBe("Deleted annotation n1\n");
    expect(client.annotations.delete).toHaveBeenCalledWith({
      datasetId: "ds1",
      assetId: "a1",
      annotationId: "n1",
      signal,
    });
    client.annotations.delete.mockRejectedValue(
      new ViNotFoundError("annotation n9 not found", { code: "ResourceNotFound", status: 404 }),
    );
    expect((await cli(["annotations", "delete", "ds1", "a1", "n9"], client)).code).toBe(4);
  });
});
