import { spawn } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Annotation, Asset } from "@vi/sdk";
import { FIXTURES, startTestServer, type TestServer } from "../helpers/server.js";

const BIN = join(import.meta.dirname, "..", "..", "packages", "cli", "dist", "bin.js");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The assets guide's queries through the built vi-cli, as a user runs it (no TTY), against a real
 * server: per-file metadata on upload, selections, sorts and counts, updates, annotations,
 * selective download and bulk delete with its confirmation rules.
 */
describe("vi-cli queries against a real server", () => {
  let t: TestServer;
  let work: string;
  let datasetId: string;

  const vi = (args: string[]): Promise<Run> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], {
        cwd: work,
        env: {
          PATH: process.env.PATH ?? "",
          HOME: work,
          DATATURE_VI_API_ENDPOINT: t.server.url,
          DATATURE_VI_ORGANIZATION_ID: t.organizationId,
          DATATURE_VI_SECRET_KEY: t.secretKey,
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("error", reject);
      child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
  const json = <T>(r: Run): T => {
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout) as T;
  };
  const listed = async (...flags: string[]): Promise<Asset[]> =>
    json<{ items: Asset[] }>(await vi(["assets", "list", datasetId, "--all", "--json", ...flags])).items;
  const names = async (...flags: string[]): Promise<string[]> => (await listed(...flags)).map((a) => a.filename).sort();
  const idOf = async (filename: string): Promise<string> =>
    (await listed()).find((a) => a.filename === filename)!.assetId;

  beforeAll(async () => {
    t = await startTestServer();
    work = await mkdtemp(join(tmpdir(), "vi-query-cli-"));
    datasetId = (await t.client.datasets.create({ name: "cli queries" })).datasetId;
    const place = async (fixture: string, target: string) => {
      await mkdir(join(work, target, ".."), { recursive: true });
      await cp(join(FIXTURES, "valid", fixture), join(work, target));
    };
    await place("photo-baseline.jpg", "set/cats/a.jpg");
    await place("rgba.png", "set/cats/b.png");
    await place("static.gif", "set/dogs/c.gif");
    await place("lossy.webp", "set/dogs/d.webp");
    await place("bitmap-24.bmp", "more/e.bmp");
    await place("scan-lzw.tif", "more/f.tif");
    await writeFile(
      join(work, "set", "vi-metadata.json"),
      JSON.stringify({
        "cats/a.jpg": { camera: "north", score: 0.91, night: false },
        "cats/b.png": { camera: "South", score: 0.5, night: true },
        "dogs/c.gif": { camera: "north", custom_field: "value", score: 0.8 },
        "dogs/d.webp": { camera: "east", label: "red car", iso: 200 },
      }),
    );
    await writeFile(join(work, "more.json"), JSON.stringify({ "f.tif": { score: "high", reviewed: null } }));
  });
  afterAll(async () => {
    await t?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("upload: the folder's vi-metadata.json, --metadata-json and --metadata-file, with types kept", async () => {
    const first = await vi([
      "assets",
      "upload",
      datasetId,
      join(work, "set"),
      "--metadata-json",
      '{"set": 1}',
      "--json",
    ]);
    expect(json<{ totalSucceeded: number }>(first).totalSucceeded).toBe(4);
    const second = await vi([
      "assets",
      "upload",
      datasetId,
      join(work, "more"),
      "--metadata",
      "batch=two",
      "--metadata-json",
      '{"reviewed": true, "n": 3}',
      "--metadata-file",
      join(work, "more.json"),
      "--json",
    ]);
    expect(json<{ totalSucceeded: number }>(second).totalSucceeded).toBe(2);
    const metadata = Object.fromEntries((await listed()).map((a) => [a.filename, a.metadata.customMetadata]));
    expect(metadata).toEqual({
      "cats/a.jpg": { set: 1, camera: "north", score: 0.91, night: false },
      "cats/b.png": { set: 1, camera: "South", score: 0.5, night: true },
      "dogs/c.gif": { set: 1, camera: "north", custom_field: "value", score: 0.8 },
      "dogs/d.webp": { set: 1, camera: "east", label: "red car", iso: 200 },
      "e.bmp": { batch: "two", reviewed: true, n: 3 },
      "f.tif": { batch: "two", n: 3, score: "high" },
    });
  });

  it("a sidecar entry for no uploaded file is a warning (exit 0), named with --verbose", async () => {
    await writeFile(join(work, "typo.json"), JSON.stringify({ "e.bpm": { a: 1 } }));
    const other = json<{ datasetId: string }>(await vi(["datasets", "create", "typo", "--json"])).datasetId;
    const r = await vi([
      "assets",
      "upload",
      other,
      join(work, "more"),
      "--metadata-file",
      join(work, "typo.json"),
      "--verbose",
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Warning: +1 entry of .*typo\.json named no file of this upload \(not applied\)/);
    expect(r.stdout).toContain('"e.bpm"');
  });

  it("list: the guide's filters verbatim, queries, sorts and counts", async () => {
    expect(await names("--filter", '{"status": "uploaded"}')).toHaveLength(6);
    expect(await names("--query", 'custom_field == "value"')).toEqual(["dogs/c.gif"]);
    expect(await names("--query", 'camera == "south"')).toEqual(["cats/b.png"]);
    expect(await names("--query", 'camera == "south"', "--strict")).toEqual([]);
    expect(await names("--filter", '{"filename": {"prefix": "cats/"}}', "--query", "score > 0.6")).toEqual([
      "cats/a.jpg",
    ]);
    const sizes = (await listed("--sort", "metadata.fileSize", "--order", "desc", "--page-size", "1")).map(
      (a) => a.metadata.fileSize,
    );
    expect(sizes).toHaveLength(6);
    expect(sizes).toEqual([...sizes].sort((x, y) => y - x));

    const count = await vi(["assets", "list", datasetId, "--count", "--query", "exists(camera)"]);
    expect(count).toMatchObject({ code: 0, stdout: "4\n" });
    expect(
      json(await vi(["assets", "list", datasetId, "--count", "--json", "--filter", '{"mimeType": "image/png"}'])),
    ).toEqual({ count: 1 });
    expect((await vi(["assets", "list", datasetId, "--count"])).stdout).toBe("6\n");
  });

  it("list: the table shows custom metadata compactly, with its types", async () => {
    const r = await vi(["assets", "list", datasetId, "--query", 'label contains "car"']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ASSETID +FILENAME +WIDTH X HEIGHT +MIME +BYTES +CUSTOM METADATA$/);
    expect(lines[1]).toMatch(/ dogs\/d\.webp +400x250 +image\/webp +.* set=1 camera=east label="red car" iso=200$/);
  });

  it("list: a malformed filter is a usage error (2); a query the server refuses exits 5 saying where", async () => {
    const filter = await vi(["assets", "list", datasetId, "--filter", "{status: uploaded}"]);
    expect(filter.code).toBe(2);
    const query = await vi(["assets", "list", datasetId, "--query", 'score >= "x']);
    expect(query.code).toBe(5);
    expect(query.stderr).toMatch(/^error: .*position \d+/m);
    const unknown = await vi(["assets", "list", datasetId, "--filter", '{"colour": "red"}', "--json"]);
    expect(unknown.code).toBe(5);
    expect(JSON.parse(unknown.stdout).error.message).toContain("colour");
  });

  it("update: --set, --metadata-json, --unset and --replace; limits exit 5, an unknown asset 4", async () => {
    const a = await idOf("cats/a.jpg");
    const merged = json<Asset>(
      await vi([
        "assets",
        "update",
        datasetId,
        a,
        "--set",
        "lens=50",
        "--metadata-json",
        '{"iso": 800, "reviewed": true}',
        "--unset",
        "night",
        "--json",
      ]),
    );
    expect(merged.metadata.customMetadata).toEqual({
      set: 1,
      camera: "north",
      score: 0.91,
      lens: "50",
      iso: 800,
      reviewed: true,
    });
    expect(await names("--query", "reviewed == true and iso >= 800")).toEqual(["cats/a.jpg"]);
    const human = await vi(["assets", "update", datasetId, a, "--replace", "--metadata-json", '{"camera": "north"}']);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain("Updated asset");
    expect(human.stdout).toContain('  camera: "north"');
    expect((await listed()).find((x) => x.assetId === a)!.metadata.customMetadata).toEqual({ camera: "north" });

    const long = await vi(["assets", "update", datasetId, a, "--set", `note=${"x".repeat(1025)}`]);
    expect(long.code).toBe(5);
    expect(long.stderr).toMatch(/note/);
    const many = JSON.stringify(Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, i])));
    const over = await vi(["assets", "update", datasetId, a, "--metadata-json", many]);
    expect(over.code).toBe(5);
    expect(over.stderr).toMatch(/keys/);
    expect((await vi(["assets", "update", datasetId, "no-such-asset", "--set", "a=b"])).code).toBe(4);
    expect((await vi(["assets", "update", datasetId, a])).code).toBe(2);
  });

  it("annotations: create, list, delete; counted and filterable with hasTag", async () => {
    const d = await idOf("dogs/d.webp");
    const box = json<Annotation>(
      await vi(["annotations", "create", datasetId, d, "--tag", "car", "--bbox", "0.1,0.2,0.5,0.6", "--json"]),
    );
    expect(box.spec).toMatchObject({
      tagName: "car",
      contents: {
        bound: [
          [0.1, 0.2],
          [0.5, 0.6],
        ],
      },
    });
    const caption = await vi(["annotations", "create", datasetId, d, "--tag", "scene", "--caption", "a red car"]);
    expect(caption.code).toBe(0);
    expect(caption.stdout).toMatch(/^Created annotation \S+ \(scene: "a red car"\)$/m);

    const list = await vi(["annotations", "list", datasetId, d]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ANNOTATIONID +TAG +KIND +CONTENTS$/m);
    expect(list.stdout).toMatch(/ car +PhraseGroundingBoundingBox +\[\[0\.1,0\.2\],\[0\.5,0\.6\]\]$/m);
    expect(json<{ count: number }>(await vi(["annotations", "list", datasetId, d, "--json"])).count).toBe(2);

    expect((await vi(["assets", "list", datasetId, "--count", "--filter", '{"hasTag": "car"}'])).stdout).toBe("1\n");
    const asset = json<Asset>(await vi(["assets", "get", datasetId, d, "--json"]));
    expect(asset.metadata.annotations).toEqual({ total: 2, withTag: { car: 1, scene: 1 } });

    const del = await vi(["annotations", "delete", datasetId, d, box.annotationId]);
    expect(del).toMatchObject({ code: 0, stdout: `Deleted annotation ${box.annotationId}\n` });
    expect((await vi(["assets", "list", datasetId, "--count", "--filter", '{"hasTag": "car"}'])).stdout).toBe("0\n");
    expect((await vi(["annotations", "delete", datasetId, d, box.annotationId])).code).toBe(4);
    expect((await vi(["annotations", "create", datasetId, d, "--tag", "car", "--bbox", "1,2,3"])).code).toBe(2);
  });

  it("download: only the selection", async () => {
    const out = join(work, "north");
    const r = await vi(["assets", "download", datasetId, out, "--query", 'camera == "north"']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Downloaded 2 asset\(s\)/);
    expect((await readdir(out, { recursive: true })).filter((p) => /\.\w+$/.test(p)).sort()).toEqual([
      join("cats", "a.jpg"),
      join("dogs", "c.gif"),
    ]);
    expect(
      (await readFile(join(out, "dogs", "c.gif"))).equals(await readFile(join(work, "set", "dogs", "c.gif"))),
    ).toBe(true);
  });

  it("bulk-delete: needs a selection; dry run; refuses without --yes off a terminal; deletes with --yes", async () => {
    const none = await vi(["assets", "bulk-delete", datasetId, "--yes"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/bulk-delete needs --filter or --query/);

    const dry = await vi([
      "assets",
      "bulk-delete",
      datasetId,
      "--filter",
      '{"customMetadata": {"batch": "two"}}',
      "--dry-run",
    ]);
    expect(dry).toMatchObject({ code: 0, stdout: "2 asset(s) selected; dry run: nothing was deleted\n" });

    const refused = await vi(["assets", "bulk-delete", datasetId, "--filter", '{"customMetadata": {"batch": "two"}}']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/refusing to delete 2 asset\(s\) of dataset .* without confirmation/);
    expect(refused.stderr).toMatch(/hint: pass --yes/);
    expect((await vi(["assets", "list", datasetId, "--count"])).stdout).toBe("6\n");

    const deleted = json<{ selected: number; deleted: number; dryRun: boolean }>(
      await vi([
        "assets",
        "bulk-delete",
        datasetId,
        "--filter",
        '{"customMetadata": {"batch": "two"}}',
        "--strict",
        "--yes",
        "--json",
      ]),
    );
    expect(deleted).toMatchObject({ selected: 2, deleted: 2, dryRun: false });
    expect(await names()).toEqual(["cats/a.jpg", "cats/b.png", "dogs/c.gif", "dogs/d.webp"]);

    const human = await vi(["assets", "bulk-delete", datasetId, "--query", 'camera == "South"', "--yes"]);
    expect(human).toMatchObject({ code: 0, stdout: "Deleted 1 of 1 selected asset(s)\n" });
    const nothing = await vi(["assets", "bulk-delete", datasetId, "--query", 'camera == "nowhere"']);
    expect(nothing).toMatchObject({ code: 0, stdout: "0 asset(s) selected; dry run: nothing was deleted\n" });
    expect((await vi(["assets", "list", datasetId, "--count"])).stdout).toBe("3\n");
  });
});
