import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Client } from "../src/client.js";
import { unsafeFilenameReason } from "../src/lib/download-manager.js";
import { json, startServer, testClient, type TestServer } from "./helpers/server.js";
import { onTerminal } from "./helpers/terminal.js";

interface Blob {
  assetId: string;
  filename: string;
  data: Buffer;
  /** Overrides the advertised SHA-256 (to simulate corruption). */
  sha?: string;
}

let server: TestServer | undefined;
let client: Client | undefined;
let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "vi-dl-"));
});
afterEach(async () => {
  await client?.close();
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

function asset(blob: Blob, url: string) {
  return {
    kind: "Image",
    assetId: blob.assetId,
    datasetId: "org1_ds1",
    workspaceId: "org1",
    filename: blob.filename,
    metadata: { fileSize: blob.data.length, hash: { algorithm: "sha256", contents: blob.sha ?? sha256(blob.data) } },
    contents: { asset: { url, expiry: Date.now() + 60_000 } },
  };
}

/** A dataset of `blobs` listed two per page; `onBlob` may take over a blob request. */
async function serve(blobs: Blob[], onBlob?: (blob: Blob, attempt: number, res: ServerResponse) => boolean) {
  const attempts = new Map<string, number>();
  server = await startServer((req, res) => {
    const url = new URL(req.url, "http://x");
    if (url.pathname === "/workspaces/org1/datasets/org1_ds1/assets") {
      const start = Number(url.searchParams.get("p") ?? "0");
      const page = blobs
        .slice(start, start + 2)
        .map((b) => asset(b, `/blob/${b.assetId}/v1/${encodeURIComponent(b.filename)}`));
      json(res, 200, { items: page, nextPage: start + 2 < blobs.length ? String(start + 2) : null, prevPage: null });
      return;
    }
    const single = /^\/workspaces\/org1\/datasets\/org1_ds1\/assets\/([^/]+)$/.exec(url.pathname);
    if (single) {
      const blob = blobs.find((b) => b.assetId === single[1]) as Blob;
      json(res, 200, asset(blob, `/blob/${blob.assetId}/v2/${encodeURIComponent(blob.filename)}`));
      return;
    }
    const m = /^\/blob\/([^/]+)\/(v\d)\//.exec(url.pathname);
    const blob = blobs.find((b) => b.assetId === m?.[1]);
    if (!blob) {
      json(res, 404, { error: "ResourceNotFound", message: "no blob", traceId: "t" });
      return;
    }
    const attempt = (attempts.get(blob.assetId) ?? 0) + 1;
    attempts.set(blob.assetId, attempt);
    if (onBlob?.(blob, attempt, res)) return;
    res.writeHead(200, { "content-type": "image/jpeg", "content-length": String(blob.data.length) });
    res.end(blob.data);
  });
  client = testClient(server.url, { maxRetries: 2 });
  return client;
}

const listFiles = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();

describe("download", () => {
  it("writes only safe filenames, nothing outside saveDir", async () => {
    const saveDir = join(root, "out", "save");
    const blobs: Blob[] = [
      { assetId: "e1", filename: "../evil.jpg", data: Buffer.from("evil1") },
      { assetId: "e2", filename: "/abs.jpg", data: Buffer.from("evil2") },
      { assetId: "e3", filename: "a/../../b.jpg", data: Buffer.from("evil3") },
      { assetId: "e4", filename: "back\\slash.jpg", data: Buffer.from("evil4") },
      { assetId: "ok", filename: "ok/x.jpg", data: Buffer.from("fine bytes") },
    ];
    const result = await (await serve(blobs)).assets.download({ datasetId: "ds1", saveDir, showProgress: false });
    expect(listFiles(root)).toEqual([join("out", "save", "ok", "x.jpg")]);
    expect(readFileSync(join(saveDir, "ok", "x.jpg"), "utf8")).toBe("fine bytes");
    expect(result.downloaded).toBe(1);
    expect(result.bytes).toBe(10);
    expect(result.failed.map((f) => f.filename).sort()).toEqual([
      "../evil.jpg",
      "/abs.jpg",
      "a/../../b.jpg",
      "back\\slash.jpg",
    ]);
    expect(result.failed.every((f) => f.reason.startsWith("refused"))).toBe(true);
    // The refused assets' bytes were never even asked for.
    expect(server?.requests.filter((r) => r.url.startsWith("/blob/")).map((r) => r.url)).toEqual([
      "/blob/ok/v1/ok%2Fx.jpg",
    ]);
    expect(new URL(server?.requests[0]?.url ?? "", "http://x").searchParams.get("contents")).toBe("y");
    expect(new URL(server?.requests[0]?.url ?? "", "http://x").searchParams.get("s")).toBe("1000");
  });

  it("progress on a terminal starts with the first page, never at 0/0, and ends at 100%", async () => {
    const blobs: Blob[] = Array.from({ length: 5 }, (_, i) => ({
      assetId: `a${i}`,
      filename: `f${i}.jpg`,
      data: Buffer.from(`bytes of file ${i}`),
    }));
    const c = await serve(blobs);
    const { lines, frames } = await onTerminal(() =>
      c.assets.download({ datasetId: "ds1", saveDir: join(root, "out"), showProgress: true }),
    );
    expect(frames.some((f) => /\b0\/0 files|0 B\/0 B/.test(f))).toBe(false);
    // Listed two per page with no totalCount: while pages come, the total is a lower bound, without a bar.
    expect(frames[0]).toBe("Download    0/2+ files");
    expect(lines).toEqual([expect.stringMatching(/^Download +\[#{20}\] 100% {2}5\/5 files {2}75 B\/75 B /)]);
  });

  it("classifies unsafe filenames", () => {
    expect(unsafeFilenameReason("a/b.jpg")).toBeUndefined();
    expect(unsafeFilenameReason("a\0b.jpg")).toMatch(/NUL/);
    expect(unsafeFilenameReason("C:evil.jpg")).toMatch(/absolute/);
    expect(unsafeFilenameReason("a//b.jpg")).toMatch(/empty/);
    expect(unsafeFilenameReason("..")).toMatch(/\.\./);
  });

  it("refuses to follow a symlinked folder out of saveDir", async () => {
    const saveDir = join(root, "save");
    mkdirSync(join(root, "elsewhere"));
    mkdirSync(saveDir);
    const { symlinkSync } = await import("node:fs");
    symlinkSync(join(root, "elsewhere"), join(saveDir, "sub"));
    const result = await (
      await serve([{ assetId: "s1", filename: "sub/x.jpg", data: Buffer.from("x") }])
    ).assets.download({
      datasetId: "ds1",
      saveDir,
      showProgress: false,
    });
    expect(result.failed[0]?.reason).toMatch(/outside saveDir/);
    expect(readdirSync(join(root, "elsewhere"))).toEqual([]);
  });

  it("skips existing files unless overwrite, and pages through the listing", async () => {
    const saveDir = join(root, "save");
    mkdirSync(saveDir);
    writeFileSync(join(saveDir, "1.jpg"), "old");
    const blobs = [1, 2, 3, 4, 5].map((i) => ({
      assetId: `a${i}`,
      filename: `${i}.jpg`,
      data: Buffer.from(`data-${i}`),
    }));
    const c = await serve(blobs);
    const first = await c.assets.download({ datasetId: "ds1", saveDir, showProgress: false });
    expect(first).toMatchObject({ downloaded: 4, skipped: 1, failed: [] });
    expect(readFileSync(join(saveDir, "1.jpg"), "utf8")).toBe("old");
    const again = await c.assets.download({
      datasetId: "ds1",
      saveDir,
      overwrite: true,
      concurrency: 2,
      showProgress: false,
    });
    expect(again).toMatchObject({ downloaded: 5, skipped: 0 });
    expect(readFileSync(join(saveDir, "1.jpg"), "utf8")).toBe("data-1");
    expect(listFiles(saveDir)).toEqual(["1.jpg", "2.jpg", "3.jpg", "4.jpg", "5.jpg"]);
  });

  it("rejects a file whose SHA-256 does not match and leaves no temp file", async () => {
    const saveDir = join(root, "save");
    const result = await (
      await serve([{ assetId: "c1", filename: "bad.jpg", data: Buffer.from("corrupt"), sha: "0".repeat(64) }])
    ).assets.download({ datasetId: "ds1", saveDir, showProgress: false });
    expect(result.downloaded).toBe(0);
    expect(result.failed[0]?.reason).toMatch(/SHA-256 mismatch/);
    expect(listFiles(saveDir)).toEqual([]);
  });

  it("retries a 503 and a reset connection, and re-fetches an expired URL once", async () => {
    const saveDir = join(root, "save");
    const blobs = [
      { assetId: "r1", filename: "busy.jpg", data: Buffer.from("busy") },
      { assetId: "r2", filename: "reset.jpg", data: Buffer.from("reset") },
      { assetId: "r3", filename: "expired.jpg", data: Buffer.from("expired") },
    ];
    const result = await (
      await serve(blobs, (blob, attempt, res) => {
        if (blob.assetId === "r1" && attempt === 1) {
          json(res, 503, { error: "ServiceUnavailable", message: "busy", traceId: "t" }, { "retry-after": "0" });
          return true;
        }
        if (blob.assetId === "r2" && attempt === 1) {
          res.writeHead(200, { "content-length": "5" });
          res.write("re");
          res.socket?.destroy();
          return true;
        }
        if (blob.assetId === "r3" && attempt === 1) {
          json(res, 403, { error: "PermissionDenied", message: "expired", traceId: "t" });
          return true;
        }
        return false;
      })
    ).assets.download({ datasetId: "ds1", saveDir, showProgress: false });
    expect(result).toMatchObject({ downloaded: 3, failed: [] });
    expect(listFiles(saveDir)).toEqual(["busy.jpg", "expired.jpg", "reset.jpg"]);
    expect(readFileSync(join(saveDir, "reset.jpg"), "utf8")).toBe("reset");
    expect(server?.requests.some((r) => r.url === "/workspaces/org1/datasets/org1_ds1/assets/r3?contents=y")).toBe(
      true,
    );
    expect(server?.requests.some((r) => r.url.startsWith("/blob/r3/v2/"))).toBe(true);
  });

  it("an abort stops the download and deletes its temp files", async () => {
    const saveDir = join(root, "save");
    const controller = new AbortController();
    const download = (
      await serve([{ assetId: "h1", filename: "slow.jpg", data: Buffer.alloc(100_000, 1) }], (_blob, _attempt, res) => {
        res.writeHead(200, { "content-length": "100000" });
        res.write(Buffer.alloc(1000, 1));
        setTimeout(() => controller.abort(), 50);
        return true;
      })
    ).assets.download({ datasetId: "ds1", saveDir, showProgress: false, signal: controller.signal });
    await expect(download).rejects.toMatchObject({ name: "AbortError" });
    expect(existsSync(saveDir) ? listFiles(saveDir) : []).toEqual([]);
  });
});
