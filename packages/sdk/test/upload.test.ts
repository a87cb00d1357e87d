import { crc32c } from "@node-rs/crc32";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Client } from "../src/client.js";
import type { AssetUploadResult } from "../src/lib/upload-result.js";
import { ViFileTooLargeError, ViTimeoutError, ViUploadError, ViValidationError } from "../src/core/errors.js";
import { startIngestionServer, type IngestionScript, type IngestionServer } from "./helpers/ingestion-server.js";
import { testClient } from "./helpers/server.js";
import { onTerminal } from "./helpers/terminal.js";

let server: IngestionServer | undefined;
let client: Client | undefined;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vi-up-"));
});
afterEach(async () => {
  await client?.close();
  await server?.close();
  client = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** Writes `name -> content` under dir/imgs and returns the folder. */
function folder(files: Record<string, string | Buffer>): string {
  const root = join(dir, "imgs");
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(root, name, ".."), { recursive: true });
    writeFileSync(join(root, name), content);
  }
  return root;
}

async function start(script: IngestionScript = {}): Promise<Client> {
  server = await startIngestionServer(script);
  client = testClient(server.url);
  return client;
}

const sha = (s: string) => createHash("sha256").update(s).digest("hex");
const posts = () => server?.requests.filter((r) => r.method === "POST") ?? [];

describe("upload", () => {
  it("uploads a folder in batches, sending each file's bytes with its size and CRC-32C", async () => {
    const files = {
      "a.jpg": "alpha",
      "b.png": "bravo!",
      "cats/c.jpg": "charlie",
      "cats/deep/d.webp": "delta delta",
      "e.gif": "",
    };
    const root = folder({ ...files, "notes.txt": "skip me" });
    const c = await start();
    const result = await c.assets.upload({
      datasetId: "ds1",
      paths: root,
      batchSize: 2,
      showProgress: false,
      customMetadata: { camera: "A", n: 3 },
    });

    expect(result.totalFiles).toBe(5);
    expect(result.totalSucceeded).toBe(5);
    expect(result.totalFailed).toBe(0);
    expect(result.successRate).toBe(100);
    expect(result.sessionIds).toEqual(["s1", "s2", "s3"]);
    expect(posts()).toHaveLength(3);

    const manifest = JSON.parse(posts()[0]?.body.toString() ?? "{}");
    expect(manifest.spec).toMatchObject({
      kind: "Upload",
      failureMode: "FailAfterOne",
      onAssetOverwritten: "RemoveLinkedResource",
    });
    expect(manifest.spec.assets[0]).toEqual({
      filename: "a.jpg",
      mime: "image/jpeg",
      size: 5,
      crc32c: crc32c(Buffer.from("alpha")) | 0,
      sha256: sha("alpha"),
      customMetadata: { camera: "A", n: 3 },
      kind: "Image",
    });
    const names = server?.sessions.flatMap((s) => s.files.map((f) => f.filename)).sort();
    expect(names).toEqual(["a.jpg", "b.png", "cats/c.jpg", "cats/deep/d.webp", "e.gif"]);

    expect(server?.puts).toHaveLength(5);
    for (const put of server?.puts ?? []) {
      const name = decodeURIComponent(new URL(put.url, "http://x").pathname.split("/").slice(3).join("/"));
      const expected = files[name as keyof typeof files];
      expect(put.body.toString()).toBe(expected);
      expect(put.headers["content-length"]).toBe(String(Buffer.byteLength(expected)));
      expect(put.headers["x-upload-token"]).toBe("tok");
      expect(put.headers.authorization).toBeUndefined();
      expect(put.headers["organization-id"]).toBeUndefined();
    }
    expect(result.skippedFiles).toEqual([{ path: join(root, "notes.txt"), reason: "unsupported type .txt" }]);
    const summary = result.summary();
    expect(summary).toContain("5 total, 5 succeeded, 0 failed");
    expect(summary).toContain("Skipped:      1 file: unsupported type .txt (1) (not uploaded)");
    expect(summary).not.toContain("notes.txt");
    expect(result.summary({ verbose: true })).toContain(
      `  Skipped files:\n    ${join(root, "notes.txt")}  unsupported type .txt`,
    );
    expect(summary).toContain("Success rate: 100.0%");
    expect(summary).toContain("Batches:      3");
  });

  it("sends no bytes for files the store already holds", async () => {
    const root = folder({ "old.jpg": "seen before", "new.jpg": "fresh" });
    const result = await (
      await start({ known: new Set([sha("seen before")]) })
    ).assets.upload({ datasetId: "ds1", paths: root, showProgress: false });
    expect(result.totalSucceeded).toBe(2);
    expect(server?.puts.map((p) => p.url)).toEqual(["/upload/s1/new.jpg?sig=abc"]);
    expect(result.summary()).toContain("Deduplicated: 1");
  });

  it("keeps at most `concurrency` PUTs in flight", async () => {
    const files = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${i}.jpg`, `file ${i}`]));
    const c = await start({ putDelayMs: 30 });
    const result = await c.assets.upload({
      datasetId: "ds1",
      paths: folder(files),
      concurrency: 3,
      showProgress: false,
    });
    expect(result.totalSucceeded).toBe(12);
    expect(server?.maxPutsInFlight).toBe(3);
  });

  it("retries a PUT answered 503", async () => {
    const root = folder({ "a.jpg": "alpha" });
    const result = await (
      await start({ flakyPut: { "a.jpg": 2 } })
    ).assets.upload({ datasetId: "ds1", paths: root, showProgress: false });
    expect(result.totalSucceeded).toBe(1);
    expect(server?.puts).toHaveLength(3);
    expect(server?.puts.every((p) => p.body.toString() === "alpha")).toBe(true);
  });

  it("FailAfterOne: a failed file raises ViUploadError carrying the partial result", async () => {
    const root = folder({ "a.jpg": "alpha", "b.jpg": "bravo" });
    const c = await start({ failAfterPut: { "b.jpg": "ECORRUPT" } });
    const err = await c.assets
      .upload({ datasetId: "ds1", paths: root, concurrency: 1, showProgress: false })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ViUploadError);
    const upload = err as ViUploadError;
    expect(upload.message).toContain(join(root, "b.jpg"));
    expect(upload.message).toContain("ECORRUPT");
    expect(upload.message).toContain("verification failed");
    expect(upload.code).toBe("UploadFailed");
    expect(upload.result.totalFiles).toBe(2);
    expect(upload.result.failedFiles).toEqual([
      { path: join(root, "b.jpg"), filename: "b.jpg", code: "ECORRUPT", reason: "verification failed: ECORRUPT" },
    ]);
    expect(upload.result.sessions).toHaveLength(1);
  });

  it("FailAfterOne: a PUT the server refuses stops new PUTs", async () => {
    const files = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`f${i}.jpg`, `file ${i}`]));
    const c = await start({
      refusePut: { "f0.jpg": { status: 400, error: "InvalidFileFormat", message: "not an image" } },
    });
    const err = await c.assets
      .upload({ datasetId: "ds1", paths: folder(files), concurrency: 1, showProgress: false })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ViUploadError);
    const { result, suggestion } = err as ViUploadError;
    expect(result.failedFiles[0]).toMatchObject({ filename: "f0.jpg", reason: "not an image" });
    expect(server?.puts).toHaveLength(1);
    // Says what happened to the rest, and what to do about it.
    expect(result.stopped).toBe(true);
    expect(result.totalPending).toBe(5);
    expect(result.summary()).toContain("6 total, 0 succeeded, 1 failed, 5 not uploaded (stopped at the first failure)");
    expect(suggestion).toMatch(
      /stops at the first failed file, 5 file\(s\) were not uploaded: pass failureMode: "FailAfterAll"/,
    );
  });

  it("FailAfterAll: every file is tried and failures are returned", async () => {
    const root = folder({ "a.jpg": "alpha", "b.jpg": "bravo", "c.jpg": "charlie", "d.jpg": "delta" });
    const c = await start({
      failAfterPut: { "b.jpg": "EBADMIME" },
      refusePut: { "c.jpg": { status: 413, error: "FileTooLarge", message: "over the pixel limit" } },
      refuseInManifest: { "d.jpg": "EALREADY" },
    });
    const result = await c.assets.upload({
      datasetId: "ds1",
      paths: root,
      failureMode: "FailAfterAll",
      showProgress: false,
    });
    expect(result.totalFiles).toBe(4);
    expect(result.totalSucceeded).toBe(1);
    expect(result.totalFailed).toBe(3);
    expect(result.successRate).toBe(25);
    const byName = Object.fromEntries(result.failedFiles.map((f) => [f.filename, f]));
    expect(byName["b.jpg"]).toMatchObject({ code: "EBADMIME", path: join(root, "b.jpg") });
    expect(byName["c.jpg"]).toMatchObject({ code: "EBADSIZE", reason: "over the pixel limit" });
    expect(byName["d.jpg"]).toMatchObject({ code: "EALREADY" });
    expect(server?.puts.map((p) => p.url).sort()).toEqual([
      "/upload/s1/a.jpg?sig=abc",
      "/upload/s1/b.jpg?sig=abc",
      "/upload/s1/c.jpg?sig=abc",
    ]);
    const summary = result.summary();
    expect(summary).toContain("Failed files:");
    expect(summary).toMatch(/c\.jpg {2}EBADSIZE {2}over the pixel limit/);
  });

  it("FailAfterAll: stops waiting once only files whose bytes never went are left", async () => {
    const root = folder({ "a.jpg": "alpha", "lost.jpg": "never arrives" });
    const c = await start({ resetPut: new Set(["lost.jpg"]) });
    const result = await c.assets.upload({
      datasetId: "ds1",
      paths: root,
      failureMode: "FailAfterAll",
      showProgress: false,
    });
    expect(result.totalSucceeded).toBe(1);
    expect(result.failedFiles).toEqual([expect.objectContaining({ filename: "lost.jpg", code: "ENOASSET" })]);
    expect(result.failedFiles[0]?.reason).toMatch(/failed/);
    // The first attempt and maxRetries (3) more.
    expect(server?.puts.filter((p) => p.url.includes("lost.jpg"))).toHaveLength(4);
  });

  it("raises ViFileTooLargeError before sending anything", async () => {
    const root = folder({ "small.jpg": "ok", "big.jpg": "x".repeat(100) });
    const c = await start({ maxFileSize: 50 });
    const err = await c.assets.upload({ datasetId: "ds1", paths: root, showProgress: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ViFileTooLargeError);
    const tooLarge = err as ViFileTooLargeError;
    expect(tooLarge.message).toContain(join(root, "big.jpg"));
    expect(tooLarge.message).toContain("100 bytes");
    expect(tooLarge.message).toContain("50 bytes");
    expect(tooLarge).toMatchObject({ path: join(root, "big.jpg"), size: 100, maxFileSize: 50 });
    expect(server?.requests.map((r) => `${r.method} ${r.url}`)).toEqual(["GET /workspaces/org1"]);
  });

  it("FailAfterAll: an oversized file is recorded as EBADSIZE and the rest go through", async () => {
    const root = folder({ "small.jpg": "ok", "big.jpg": "x".repeat(100) });
    const result = await (
      await start({ maxFileSize: 50 })
    ).assets.upload({
      datasetId: "ds1",
      paths: root,
      failureMode: "FailAfterAll",
      showProgress: false,
    });
    expect(result.totalSucceeded).toBe(1);
    expect(result.failedFiles).toEqual([expect.objectContaining({ filename: "big.jpg", code: "EBADSIZE" })]);
    expect(server?.puts).toHaveLength(1);
  });

  it("refuses bad paths before any request", async () => {
    const c = await start();
    await expect(
      c.assets.upload({ datasetId: "ds1", paths: join(dir, "missing"), showProgress: false }),
    ).rejects.toThrow(ViValidationError);
    writeFileSync(join(dir, "x.txt"), "t");
    await expect(
      c.assets.upload({ datasetId: "ds1", paths: [join(dir, "x.txt")], showProgress: false }),
    ).rejects.toThrow(/x\.txt/);
    await expect(
      c.assets.upload({ datasetId: "ds1", paths: folder({ "a.jpg": "a" }), batchSize: 20_000 }),
    ).rejects.toThrow(/batchSize/);
    expect(server?.requests).toHaveLength(0);
  });

  it("an AbortSignal stops the upload and rejects with its reason", async () => {
    const files = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`f${i}.jpg`, `file ${i}`]));
    const c = await start({ putDelayMs: 2_000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const started = Date.now();
    const err = await c.assets
      .upload({
        datasetId: "ds1",
        paths: folder(files),
        concurrency: 2,
        showProgress: false,
        signal: controller.signal,
      })
      .catch((e: unknown) => e);
    expect((err as Error).name).toBe("AbortError");
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(server?.puts.length).toBeLessThanOrEqual(2);
  });

  it("waitUntilDone: false returns once the bytes are sent", async () => {
    const root = folder({ "a.jpg": "alpha" });
    const c = await start();
    const result = await c.assets.upload({ datasetId: "ds1", paths: root, waitUntilDone: false, showProgress: false });
    expect(result.sessionIds).toEqual(["s1"]);
    expect(server?.puts).toHaveLength(1);
    expect(server?.requests.some((r) => r.method === "GET" && r.url.includes("assetIngestionSessions/"))).toBe(false);
    // Not a failure: the summary says the files are being settled, with no success rate of 0%.
    expect(result).toMatchObject({ waited: false, totalPending: 1, totalFailed: 0, stopped: false });
    const summary = result.summary();
    expect(summary).toContain("1 total, 0 succeeded, 0 failed, 1 sent, still being settled by the server");
    expect(summary).toContain("Status:       not waited for: the server verifies and commits the files on its own");
    expect(summary).not.toContain("Success rate");
    const session = await c.assets.waitUntilDone({ datasetId: "ds1", assetIngestionSessionId: "s1" });
    expect(session.status.progressCount).toEqual({ total: 1, succeeded: 1, errored: 0 });
    const poll = server?.requests.find((r) => r.url.includes("assetIngestionSessions/s1"));
    expect(new URL(poll?.url ?? "", "http://x").searchParams.get("waitFor")).toBe("Finished");
  });

  it("an aborted upload rejects with the signal's reason and hands onInterrupted what got in", async () => {
    const files = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`f${i}.jpg`, `file ${i}`]));
    const c = await start({ putDelayMs: 50 });
    const controller = new AbortController();
    const reason = new Error("interrupted (SIGINT)");
    const seen: AssetUploadResult[] = [];
    const upload = c.assets.upload({
      datasetId: "ds1",
      paths: folder(files),
      concurrency: 1,
      showProgress: false,
      signal: controller.signal,
      onInterrupted: (partial) => seen.push(partial),
    });
    // Interrupt once the third file is on its way (the first two are in).
    while ((server?.puts.length ?? 0) < 3) await new Promise((r) => setTimeout(r, 5));
    controller.abort(reason);
    await expect(upload).rejects.toBe(reason);
    expect(seen).toHaveLength(1);
    const partial = seen[0]!;
    expect(partial).toMatchObject({ interrupted: true, totalFiles: 6, totalFailed: 0, sessionIds: ["s1"] });
    expect(partial.totalSucceeded).toBeGreaterThanOrEqual(1);
    expect(partial.totalSucceeded).toBeLessThanOrEqual(3);
    expect(partial.totalPending).toBe(6 - partial.totalSucceeded);
    // The session was asked once more after the abort, to count what got in.
    expect(server?.requests.some((r) => r.method === "GET" && r.url.includes("assetIngestionSessions/s1"))).toBe(true);
    const summary = partial.summary();
    expect(summary).toMatch(/^Upload summary \(interrupted\)$/m);
    expect(summary).toContain(`${partial.totalPending} not committed (interrupted)`);
    expect(summary).toContain("uploading the same files again sends only what was not committed");
    expect(summary).not.toContain("Success rate");
  });

  it("progress on a terminal: hashing counts every file, and each stage ends on its own line at 100%", async () => {
    const files = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`f${i}.jpg`, `file number ${i}`]));
    const c = await start();
    const one = await onTerminal(() =>
      c.assets.upload({ datasetId: "ds1", paths: folder(files), showProgress: true, digestCache: false }),
    );
    expect(one.lines).toHaveLength(3);
    expect(one.lines[0]).toMatch(/^Hashing +\[#{20}\] 100% {2}5\/5 files {2}65 B\/65 B /);
    expect(one.lines[1]).toMatch(/^Uploading +\[#{20}\] 100% {2}5\/5 files {2}65 B\/65 B /);
    expect(one.lines[2]).toMatch(/^Processing +\[#{20}\] 100% {2}1\/1 batch$/);
  });

  it("progress over several batches: the Uploading line counts every file and notes the hashing still running", async () => {
    const files = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`f${i}.jpg`, `file number ${i}`]));
    const c = await start();
    let result: AssetUploadResult | undefined;
    const many = await onTerminal(async () => {
      result = await c.assets.upload({
        datasetId: "ds1",
        paths: folder(files),
        batchSize: 2,
        showProgress: true,
        digestCache: false,
      });
    });
    // One file in the last batch: "1 file", not "1 files".
    expect(result?.summary()).toMatch(/^ {4}#3 s3: 1 file, 1 succeeded, 0 failed$/m);
    for (const frame of many.frames) expect(frame).toMatch(/ \d\/5 files | \d\/3 batches$/);
    expect(many.lines.at(-2)).toMatch(/^Uploading +\[#{20}\] 100% {2}5\/5 files {2}65 B\/65 B /);
    expect(many.lines.at(-1)).toMatch(/^Processing +\[#{20}\] 100% {2}3\/3 batches$/);
  });

  it("waitUntilDone times out with ViTimeoutError", async () => {
    const root = folder({ "a.jpg": "alpha" });
    const c = await start({ neverFinish: true });
    await c.assets.upload({ datasetId: "ds1", paths: root, waitUntilDone: false, showProgress: false });
    const started = Date.now();
    const err = await c.assets
      .waitUntilDone({ datasetId: "ds1", assetIngestionSessionId: "s1", timeout: 1_500 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ViTimeoutError);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
