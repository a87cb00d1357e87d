import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Client } from "../src/client.js";
import { ViValidationError } from "../src/core/errors.js";
import {
  checkCustomMetadata,
  mergeMetadata,
  parseSidecar,
  resolveFileMetadata,
  type Sidecar,
} from "../src/lib/custom-metadata.js";
import { metadataForFiles } from "../src/lib/upload-manager.js";
import { walkPaths } from "../src/lib/walk.js";
import { startIngestionServer, type IngestionServer } from "./helpers/ingestion-server.js";
import { testClient } from "./helpers/server.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vi-meta-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, content: string): string {
  const path = join(dir, name);
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, content);
  return path;
}

/** The ViValidationError `fn` throws (synchronously or not). */
async function refusal(fn: () => unknown): Promise<ViValidationError> {
  try {
    await fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ViValidationError);
    return error as ViValidationError;
  }
  throw new Error("expected a ViValidationError");
}

describe("checkCustomMetadata", () => {
  it("accepts strings, finite numbers and booleans; null only in a merge patch", () => {
    expect(() => checkCustomMetadata({ a: "x", b: 1.5, c: -3, d: true }, { where: "m" })).not.toThrow();
    expect(() => checkCustomMetadata({ a: null }, { where: "m", allowNull: true })).not.toThrow();
    expect(() => checkCustomMetadata({ a: null }, { where: "m" })).toThrow(/m\.a: null is not a value/);
  });

  it.each<[string, unknown, RegExp]>([
    ["NaN", { n: Number.NaN }, /m\.n: must be a string, a finite number or a boolean, got NaN/],
    ["Infinity", { n: Infinity }, /got Infinity/],
    ["an array", { n: [1] }, /got an array/],
    ["an object", { n: { x: 1 } }, /got an object/],
    ["undefined", { n: undefined }, /got undefined/],
    ["a long string", { n: "x".repeat(1025) }, /m\.n: a string of 1025 characters is over the limit of 1024/],
    ["an empty key", { "": 1 }, /a key must be 1 to 128 characters, got 0/],
    ["a long key", { ["k".repeat(129)]: 1 }, /a key must be 1 to 128 characters, got 129/],
    ["not an object", ["a"], /m must be an object of key: value, got an array/],
  ])("refuses %s, naming where and the key", (_label, value, message) => {
    expect(() => checkCustomMetadata(value, { where: "m" })).toThrow(message);
    expect(() => checkCustomMetadata(value, { where: "m" })).toThrow(ViValidationError);
  });

  it("counts keys only when asked (a merge's result is the server's to count)", () => {
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i]));
    expect(() => checkCustomMetadata(many, { where: "m", allowNull: true })).not.toThrow();
    expect(() => checkCustomMetadata(many, { where: "m", countKeys: true })).toThrow(
      /m has 65 keys, over the limit of 64 per asset/,
    );
  });
});

describe("sidecar", () => {
  it("parses {filename: {key: value}}, normalising names (NFC, no leading ./)", () => {
    const sidecar = parseSidecar(
      JSON.stringify({ "./cats/a.jpg": { camera: "a", iso: 200 }, "cafe\u0301.jpg": { night: true, drop: null } }),
      "/x/vi-metadata.json",
    );
    expect([...sidecar.entries]).toEqual([
      ["cats/a.jpg", { camera: "a", iso: 200 }],
      ["caf\u00e9.jpg", { night: true, drop: null }],
    ]);
  });

  it.each<[string, string, RegExp]>([
    ["not JSON", "{oops", /the metadata file \/x\/m\.json is not valid JSON/],
    ["an array", "[]", /the metadata file \/x\/m\.json must be a JSON object .* got an array/],
    ["an entry that is not an object", '{"a.jpg": 3}', /\/x\/m\.json, entry "a\.jpg" must be an object/],
    ["a bad value", '{"a.jpg": {"k": [1]}}', /\/x\/m\.json, entry "a\.jpg"\.k: must be a string/],
    ["two names for one file", '{"a.jpg": {}, "./a.jpg": {}}', /entry "\.\/a\.jpg": names the same file/],
  ])("refuses %s, naming the file and the entry", (_label, text, message) => {
    expect(() => parseSidecar(text, "/x/m.json")).toThrow(message);
  });

  it("merges an entry over the base: values set, null removes", () => {
    expect(mergeMetadata({ a: 1, b: "x" }, { b: null, c: true })).toEqual({ a: 1, c: true });
    expect(mergeMetadata(undefined, { c: 2 })).toEqual({ c: 2 });
  });
});

describe("resolveFileMetadata", () => {
  const files = [
    { path: "/d/a.jpg", filename: "a.jpg" },
    { path: "/d/cats/b.jpg", filename: "cats/b.jpg" },
  ];
  const sidecar = (entries: Record<string, Record<string, string | number | boolean | null>>): Sidecar => ({
    path: "/d/vi-metadata.json",
    entries: new Map(Object.entries(entries)),
  });

  it("the object form applies to every file; none gives null", () => {
    expect([...resolveFileMetadata(files, { camera: "a" }).metadata]).toEqual([
      ["a.jpg", { camera: "a" }],
      ["cats/b.jpg", { camera: "a" }],
    ]);
    expect([...resolveFileMetadata(files, undefined).metadata]).toEqual([
      ["a.jpg", null],
      ["cats/b.jpg", null],
    ]);
  });

  it("the function form is asked per file with its path and filename", () => {
    const seen: unknown[] = [];
    const out = resolveFileMetadata(files, (file) => {
      seen.push(file);
      return file.filename.startsWith("cats/") ? { animal: "cat", score: 0.9 } : undefined;
    }).metadata;
    expect(seen).toEqual(files);
    expect(out.get("a.jpg")).toBeNull();
    expect(out.get("cats/b.jpg")).toEqual({ animal: "cat", score: 0.9 });
  });

  it("a function's bad value is refused naming the file", () => {
    expect(() => resolveFileMetadata(files, () => ({ n: Number.NaN }))).toThrow(/customMetadata\("a\.jpg"\)\.n/);
  });

  it("a sidecar entry merges over the object or function form", () => {
    const s = sidecar({ "cats/b.jpg": { camera: "b", reviewed: false, site: null } });
    const withSidecar = files.map((f) => ({ ...f, sidecar: s }));
    expect(resolveFileMetadata(withSidecar, { camera: "a", site: "north" }).metadata.get("cats/b.jpg")).toEqual({
      camera: "b",
      reviewed: false,
    });
    expect(resolveFileMetadata(withSidecar, () => ({ n: 1 })).metadata.get("cats/b.jpg")).toEqual({
      n: 1,
      camera: "b",
      reviewed: false,
    });
    expect(resolveFileMetadata(withSidecar, { camera: "a" }).metadata.get("a.jpg")).toEqual({ camera: "a" });
  });

  it("reports, without refusing, the sidecar entries that name no file of the upload", () => {
    const s = sidecar({ "a.jpg": { x: 1 }, "deleted.jpg": { x: 2 }, "cats/gone.jpg": { x: 3 } });
    const resolved = resolveFileMetadata(
      files.map((f) => ({ ...f, sidecar: s })),
      undefined,
    );
    expect(resolved.metadata.get("a.jpg")).toEqual({ x: 1 });
    expect(resolved.metadata.get("cats/b.jpg")).toBeNull();
    expect(resolved.unmatched).toEqual([
      { metadataFile: "/d/vi-metadata.json", entry: "deleted.jpg" },
      { metadataFile: "/d/vi-metadata.json", entry: "cats/gone.jpg" },
    ]);
    expect(resolveFileMetadata(files, undefined).unmatched).toEqual([]);
  });

  it("still refuses a bad value in an entry that names no file", () => {
    expect(() => parseSidecar(JSON.stringify({ "gone.jpg": { n: [1] } }), "/d/vi-metadata.json")).toThrow(
      /\/d\/vi-metadata\.json, entry "gone\.jpg"\.n: must be a string, a finite number or a boolean/,
    );
  });

  it("refuses a merge that goes over 64 keys, naming the file and the sidecar", () => {
    const base = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`k${i}`, i]));
    const extra = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`x${i}`, i]));
    const s = sidecar({ "a.jpg": extra });
    expect(() => resolveFileMetadata([{ ...files[0]!, sidecar: s }], base)).toThrow(
      /the metadata of a\.jpg \(with the metadata file \/d\/vi-metadata\.json, entry "a\.jpg"\) has 65 keys/,
    );
  });
});

describe("metadataForFiles", () => {
  it("reads vi-metadata.json at the root of each uploaded folder, keyed relative to that folder", async () => {
    write("one/a.jpg", "a");
    write("one/sub/b.jpg", "b");
    write("one/vi-metadata.json", JSON.stringify({ "sub/b.jpg": { camera: "b" } }));
    write("one/sub/vi-metadata.json", JSON.stringify({ "b.jpg": { ignored: true } }));
    write("two/c.jpg", "c");
    write("d.jpg", "d");
    const files = await walkPaths([join(dir, "one"), join(dir, "two"), join(dir, "d.jpg")]);
    expect(files.map((f) => f.filename)).toEqual(["a.jpg", "sub/b.jpg", "c.jpg", "d.jpg"]);
    const { metadata: out, unmatched } = await metadataForFiles(files, { customMetadata: { set: "s1" } });
    expect(unmatched).toEqual([]);
    expect(Object.fromEntries(out)).toEqual({
      "a.jpg": { set: "s1" },
      "sub/b.jpg": { set: "s1", camera: "b" },
      "c.jpg": { set: "s1" },
      "d.jpg": { set: "s1" },
    });
  });

  it("metadataFile replaces the folders' sidecars and covers every file", async () => {
    write("one/a.jpg", "a");
    write("one/vi-metadata.json", JSON.stringify({ "a.jpg": { from: "folder" } }));
    write("d.jpg", "d");
    const explicit = write("meta.json", JSON.stringify({ "a.jpg": { from: "file" }, "d.jpg": { n: 4 } }));
    const files = await walkPaths([join(dir, "one"), join(dir, "d.jpg")]);
    const { metadata: out } = await metadataForFiles(files, { metadataFile: explicit });
    expect(Object.fromEntries(out)).toEqual({ "a.jpg": { from: "file" }, "d.jpg": { n: 4 } });
  });

  it("a missing metadataFile is refused, naming it", async () => {
    write("d.jpg", "d");
    const files = await walkPaths([join(dir, "d.jpg")]);
    const error = await refusal(() => metadataForFiles(files, { metadataFile: join(dir, "nope.json") }));
    expect(error.message).toMatch(/cannot read the metadata file .*nope\.json: it does not exist/);
  });
});

describe("upload with per-file metadata", () => {
  let server: IngestionServer | undefined;
  let client: Client | undefined;
  afterEach(async () => {
    await client?.close();
    await server?.close();
  });

  it("sends each file's own metadata in the manifest, and never the sidecar itself", async () => {
    write("imgs/a.jpg", "alpha");
    write("imgs/cats/b.png", "bravo");
    write("imgs/vi-metadata.json", JSON.stringify({ "cats/b.png": { reviewed: true, score: 0.5 } }));
    server = await startIngestionServer();
    client = testClient(server.url);
    const result = await client.assets.upload({
      datasetId: "ds1",
      paths: join(dir, "imgs"),
      showProgress: false,
      digestCache: false,
      customMetadata: (file) => ({ folder: file.filename.includes("/") ? file.filename.split("/")[0]! : "." }),
    });
    expect(result.totalFiles).toBe(2);
    const manifest = JSON.parse(server.requests.find((r) => r.method === "POST")?.body.toString() ?? "{}");
    const byName = Object.fromEntries(
      (manifest.spec.assets as { filename: string; customMetadata: unknown }[]).map((a) => [
        a.filename,
        a.customMetadata,
      ]),
    );
    expect(byName).toEqual({
      "a.jpg": { folder: "." },
      "cats/b.png": { folder: "cats", reviewed: true, score: 0.5 },
    });
  });

  it("an entry for a file that is not uploaded is a warning in the result, not an error", async () => {
    write("imgs/a.jpg", "alpha");
    write("imgs/cats/b.png", "bravo");
    const sidecarPath = write(
      "imgs/vi-metadata.json",
      JSON.stringify({ "a.jpg": { camera: "a" }, "deleted.jpg": { camera: "x" }, "cats/gone.png": { n: 1 } }),
    );
    server = await startIngestionServer();
    client = testClient(server.url);
    const result = await client.assets.upload({
      datasetId: "ds1",
      paths: join(dir, "imgs"),
      showProgress: false,
      digestCache: false,
    });
    expect(result.totalSucceeded).toBe(2);
    expect(result.unmatchedMetadataEntries).toEqual([
      { metadataFile: sidecarPath, entry: "deleted.jpg" },
      { metadataFile: sidecarPath, entry: "cats/gone.png" },
    ]);
    const manifest = JSON.parse(server.requests.find((r) => r.method === "POST")?.body.toString() ?? "{}");
    expect(manifest.spec.assets.map((a: { customMetadata: unknown }) => a.customMetadata)).toEqual([
      { camera: "a" },
      null,
    ]);
    const summary = result.summary();
    expect(summary).toContain(`Warning:      2 entries of ${sidecarPath} named no file of this upload (not applied)`);
    expect(summary).not.toContain("deleted.jpg");
    const verbose = result.summary({ verbose: true });
    expect(verbose).toContain(`    "deleted.jpg"\n    "cats/gone.png"`);
  });

  it("a sidecar that is not JSON still fails, naming it, before any request", async () => {
    write("imgs/a.jpg", "alpha");
    write("imgs/vi-metadata.json", `{"a.jpg": {"camera": "a"},}`);
    server = await startIngestionServer();
    client = testClient(server.url);
    const error = await refusal(() =>
      client!.assets.upload({ datasetId: "ds1", paths: join(dir, "imgs"), showProgress: false, digestCache: false }),
    );
    expect(error.message).toMatch(
      new RegExp(`the metadata file ${join(dir, "imgs", "vi-metadata.json")} is not valid JSON`),
    );
    expect(server.requests).toHaveLength(0);
  });

  it("a bad sidecar fails before any request", async () => {
    write("imgs/a.jpg", "alpha");
    write("imgs/vi-metadata.json", JSON.stringify({ "a.jpg": { n: [1, 2] } }));
    server = await startIngestionServer();
    client = testClient(server.url);
    const error = await refusal(() =>
      client!.assets.upload({ datasetId: "ds1", paths: join(dir, "imgs"), showProgress: false, digestCache: false }),
    );
    expect(error.message).toContain(`${join(dir, "imgs", "vi-metadata.json")}, entry "a.jpg".n`);
    expect(server.requests).toHaveLength(0);
  });
});
