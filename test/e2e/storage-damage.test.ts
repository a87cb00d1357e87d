import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, truncate, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Asset } from "@vi/protocol";
import { Client } from "@vi/sdk";
import { fsck, startServer, type RunningServer } from "@vi/server";
import { uniqueJpeg } from "../helpers/jpeg.mjs";

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const blobPath = (dataDir: string, sha: string) => join(dataDir, "blobs", sha.slice(0, 2), sha);

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** Reads a response body to its end; "cut" when the connection broke before it did. */
async function drain(res: Response): Promise<{ received: number; outcome: "complete" | "cut" }> {
  let received = 0;
  try {
    for await (const chunk of res.body! as AsyncIterable<Uint8Array>) received += chunk.length;
    return { received, outcome: "complete" };
  } catch {
    return { received, outcome: "cut" };
  }
}

/**
 * Bytes damaged on disk under a running server (truncated, deleted, a flipped byte), as a disk
 * or an operator can leave them: the server serves only bytes that match the asset, answers
 * at once (no connection left waiting for bytes that will never come), and logs every finding
 * at error level with the asset and its SHA-256. Then `fsck` over the stopped data dir finds
 * them all, and quarantines the damaged ones.
 */
describe("damaged or missing bytes", () => {
  let home: string;
  let dataDir: string;
  let server: RunningServer | undefined;
  let client: Client;
  let datasetId: string;
  const logs: LogLine[] = [];
  const files = new Map<string, Buffer>();
  const assets = new Map<string, Asset>();

  const start = async () => {
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString("utf8").split("\n")) if (line.trim()) logs.push(JSON.parse(line) as LogLine);
        done();
      },
    });
    // Processing is off: fsck's counts below are of the uploaded bytes alone (no thumbnails).
    server = await startServer({
      host: "127.0.0.1",
      port: 0,
      dataDir,
      logger: { level: "warn", stream },
      processingConcurrency: 0,
    });
    const creds = JSON.parse(await readFile(server.credentialsPath!, "utf8")) as {
      organizationId: string;
      secretKey: string;
    };
    client = new Client({ endpoint: server.url, ...creds, maxRetries: 0 });
  };
  const refresh = async () => {
    for await (const page of client.assets.list({ datasetId, contents: true, pageSize: 100 }))
      for (const a of page.items) assets.set(a.filename, a);
  };
  const url = (name: string) => assets.get(name)!.contents!.asset!.url;
  const shaOf = (name: string) => sha256(files.get(name)!);
  const findings = (name: string) => logs.filter((l) => l.level >= 50 && l.sha256 === shaOf(name));

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), "vi-damage-"));
    dataDir = join(home, "data");
    const images = join(home, "images");
    await mkdir(images);
    const sizes: Record<string, number> = {
      "truncated.jpg": 80_000,
      "missing.jpg": 70_000,
      "flipped-small.jpg": 90_000,
      "flipped-large.jpg": 4_000_000,
      "cut-large.jpg": 3_000_000,
      "intact.jpg": 65_000,
    };
    for (const [name, size] of Object.entries(sizes)) {
      files.set(name, uniqueJpeg(size));
      await writeFile(join(images, name), files.get(name)!);
    }
    await start();
    datasetId = (await client.datasets.create({ name: "damage" })).datasetId;
    const result = await client.assets.upload({ datasetId, paths: images, showProgress: false });
    expect(result.totalSucceeded).toBe(files.size);
    await refresh();

    // The damage, done behind the server's back.
    await truncate(blobPath(dataDir, shaOf("truncated.jpg")), 40_000);
    await truncate(blobPath(dataDir, shaOf("cut-large.jpg")), 1_000_000);
    await unlink(blobPath(dataDir, shaOf("missing.jpg")));
    for (const name of ["flipped-small.jpg", "flipped-large.jpg"]) {
      const path = blobPath(dataDir, shaOf(name));
      const bytes = await readFile(path);
      bytes[bytes.length - 100]! ^= 0x01;
      await writeFile(path, bytes);
    }
  });
  afterAll(async () => {
    await client?.close();
    await server?.close();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it("bytes of the wrong size answer 500 at once, for GET, HEAD and ranges alike", async () => {
    for (const name of ["truncated.jpg", "cut-large.jpg"]) {
      const get = await fetch(url(name));
      expect(get.status, name).toBe(500);
      const body = (await get.json()) as { error: string; message: string };
      expect(body.error).toBe("ServerError");
      expect(body.message).toMatch(/stored bytes of this asset are \d+ bytes instead of \d+/);
      expect(get.headers.get("content-disposition")).toBeNull();
      expect((await fetch(url(name), { method: "HEAD" })).status).toBe(500);
      expect((await fetch(url(name), { headers: { range: "bytes=0-99" } })).status).toBe(500);
      expect(findings(name).length).toBeGreaterThanOrEqual(3);
      expect(findings(name)[0]).toMatchObject({
        assetId: assets.get(name)!.assetId,
        expectedSize: files.get(name)!.length,
      });
    }
  });

  it("missing bytes answer 500 saying so, for HEAD as for GET", async () => {
    const head = await fetch(url("missing.jpg"), { method: "HEAD" });
    expect(head.status).toBe(500);
    const get = await fetch(url("missing.jpg"));
    expect(get.status).toBe(500);
    expect(((await get.json()) as { message: string }).message).toMatch(/are missing/);
    expect(findings("missing.jpg")[0]!.msg).toMatch(/missing/);
  });

  it("a flipped byte in a small file answers 500 before anything is sent; HEAD and ranges check the size only", async () => {
    const get = await fetch(url("flipped-small.jpg"));
    expect(get.status).toBe(500);
    expect(((await get.json()) as { message: string }).message).toMatch(/damaged \(their SHA-256 no longer matches\)/);
    expect(findings("flipped-small.jpg")[0]).toMatchObject({
      storedSha256: expect.not.stringMatching(shaOf("flipped-small.jpg")) as unknown,
    });
    expect((await fetch(url("flipped-small.jpg"), { method: "HEAD" })).status).toBe(200);
    expect((await fetch(url("flipped-small.jpg"), { headers: { range: "bytes=0-99" } })).status).toBe(206);
  });

  it("a flipped byte in a large file: the connection is cut before the last chunk, so the client never holds a complete-looking file", async () => {
    const name = "flipped-large.jpg";
    const res = await fetch(url(name));
    expect(res.status).toBe(200);
    expect(res.headers.get("etag")).toBe(`"${shaOf(name)}"`);
    expect(res.headers.get("content-length")).toBe(String(files.get(name)!.length));
    const { received, outcome } = await drain(res);
    expect(outcome).toBe("cut");
    expect(received).toBeLessThan(files.get(name)!.length);
    expect(findings(name).some((l) => /SHA-256 .* not .*connection was cut/.test(l.msg))).toBe(true);

    // The SDK's download reports the damaged files as failed and keeps no bad bytes.
    const saveDir = join(home, "out");
    const result = await client.assets.download({ datasetId, saveDir, showProgress: false });
    const failed = result.failed.map((f) => f.filename).sort();
    expect(failed).toEqual(
      ["cut-large.jpg", "flipped-large.jpg", "flipped-small.jpg", "missing.jpg", "truncated.jpg"].sort(),
    );
    expect(sha256(await readFile(join(saveDir, "intact.jpg")))).toBe(shaOf("intact.jpg"));
    for (const name of failed) expect(await readFile(join(saveDir, name)).catch(() => "absent"), name).toBe("absent");
  });

  it("intact bytes are still served whole, verified, and HEAD reads nothing", async () => {
    const got = Buffer.from(await (await fetch(url("intact.jpg"))).arrayBuffer());
    expect(sha256(got)).toBe(shaOf("intact.jpg"));
    const head = await fetch(url("intact.jpg"), { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(files.get("intact.jpg")!.length));
  });

  it("fsck refuses a data dir a server is running on", async () => {
    await expect(fsck({ dataDir })).rejects.toThrow(/in use .*stop the server first/);
  });

  it("fsck over the stopped data dir finds every damaged and missing blob and the assets they break, and quarantines", async () => {
    await server!.close();
    server = undefined;
    // Bytes without a row, and a file that is not the server's.
    const orphan = uniqueJpeg(60_000);
    await writeFile(blobPath(dataDir, sha256(orphan)), orphan);
    await writeFile(join(dataDir, "blobs", "00", "notes.txt"), "hello");

    const damaged = ["truncated.jpg", "cut-large.jpg", "flipped-small.jpg", "flipped-large.jpg"];
    const report = await fsck({ dataDir });
    expect(report.clean).toBe(false);
    expect(report.blobsChecked).toBe(files.size - 1 + 1);
    expect(report.damaged.map((d) => d.sha256).sort()).toEqual(damaged.map(shaOf).sort());
    expect(report.damaged.every((d) => d.problem === "sha256-mismatch" && d.quarantinedTo === undefined)).toBe(true);
    const broken = new Map(report.assetsWithoutBytes.map((a) => [a.filename, a.problem]));
    expect(broken).toEqual(
      new Map([["missing.jpg", "missing"], ...damaged.map((n) => [n, "damaged"] as [string, string])]),
    );
    expect(report.assetsWithoutBytes.find((a) => a.filename === "missing.jpg")).toMatchObject({
      assetId: assets.get("missing.jpg")!.assetId,
      sha256: shaOf("missing.jpg"),
      fileSize: files.get("missing.jpg")!.length,
    });
    expect(report.unreferencedBlobs).toEqual([{ sha256: sha256(orphan), size: orphan.length }]);
    expect(report.strayFiles).toEqual([join("blobs", "00", "notes.txt")]);

    const fixing = await fsck({ dataDir, quarantine: true });
    for (const d of fixing.damaged) expect(d.quarantinedTo).toBe(join(dataDir, "quarantine", d.sha256));
    const after = await fsck({ dataDir });
    expect(after.damaged).toEqual([]);
    expect(after.assetsWithoutBytes.every((a) => a.problem === "missing")).toBe(true);
    expect(after.assetsWithoutBytes).toHaveLength(damaged.length + 1);

    // Restarted, the quarantined assets answer "missing" instead of serving damage.
    await client.close();
    await start();
    await refresh();
    const get = await fetch(url("flipped-large.jpg"));
    expect(get.status).toBe(500);
    expect(((await get.json()) as { message: string }).message).toMatch(/are missing/);
    expect(sha256(Buffer.from(await (await fetch(url("intact.jpg"))).arrayBuffer()))).toBe(shaOf("intact.jpg"));
  });
});
