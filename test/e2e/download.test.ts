import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Client } from "@vi/sdk";
import { partPath } from "../../packages/sdk/src/lib/download-manager.js";
import { uniqueJpeg, writeLargeJpeg } from "../helpers/jpeg.mjs";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { scaleout } from "../helpers/s3-bucket.mjs";

/**
 * Verified, resumable downloads against a real server, whose signed URLs lead through a small
 * proxy in the test: it logs every request (range, status, bytes it passed on) and can answer
 * in the server's place (errors, corrupt or cut bodies, delays).
 */

interface Hit {
  method: string;
  /** The path without the query (the signed URL's file path). */
  path: string;
  range: string | undefined;
  ifRange: string | undefined;
  status: number;
  /** Body bytes passed on to the client. */
  bytes: number;
}

interface Upstream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Answers a request itself (returns true), or lets the proxy pass it on (false). */
type Hook = (
  hit: Hit,
  res: ServerResponse,
  upstream: () => Promise<Upstream>,
  req: IncomingMessage,
) => Promise<boolean>;

interface Proxy {
  url: string;
  hits: Hit[];
  /** The client ports that blob requests came from (one per connection). */
  blobPorts: Set<number>;
  /** The hits for one file (by its name at the end of the signed path). */
  of(filename: string): Hit[];
  target: string;
  hook: Hook | undefined;
  close(): Promise<void>;
}

async function startProxy(): Promise<Proxy> {
  const proxy: Proxy = {
    url: "",
    hits: [],
    blobPorts: new Set(),
    of: (filename) => proxy.hits.filter((h) => h.path.endsWith(`/${encodeURIComponent(filename)}`)),
    target: "",
    hook: undefined,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  /**
   * The server's answer; a redirect (the scale-out run's presigned GET of the bucket) is
   * followed here, so the test sees the bytes whichever store serves them. Like the SDK, it
   * drops If-Range there: the bucket's ETags are its own.
   */
  const send = (req: IncomingMessage): Promise<IncomingMessage> => {
    const once = (url: string, headers: IncomingMessage["headers"], hops: number): Promise<IncomingMessage> =>
      new Promise((resolve, reject) => {
        const up = httpRequest(url, { method: req.method, headers });
        up.on("response", (res) => {
          const location = res.headers.location;
          if (res.statusCode === 302 && location && hops < 3) {
            res.resume();
            const { host: _host, "if-range": _ifRange, ...rest } = headers;
            resolve(once(location, rest, hops + 1));
          } else resolve(res);
        });
        up.on("error", reject);
        // The request's own body (API calls through the proxy) goes to the server once.
        if (hops === 0) req.pipe(up);
        else up.end();
      });
    return once(proxy.target + (req.url ?? "/"), req.headers, 0);
  };
  const upstream = (req: IncomingMessage) => async (): Promise<Upstream> => {
    const res = await send(req);
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const header = (name: string) => req.headers[name] as string | undefined;
    const hit: Hit = {
      method: req.method ?? "",
      path: url.pathname,
      range: header("range"),
      ifRange: header("if-range"),
      status: 0,
      bytes: 0,
    };
    proxy.hits.push(hit);
    if (isBlob(hit)) proxy.blobPorts.add(req.socket.remotePort ?? 0);
    void (async () => {
      if (proxy.hook && (await proxy.hook(hit, res, upstream(req), req))) return;
      let upRes: IncomingMessage;
      try {
        upRes = await send(req);
      } catch {
        res.destroy();
        return;
      }
      hit.status = upRes.statusCode ?? 0;
      res.writeHead(hit.status, upRes.headers);
      upRes.on("data", (c: Buffer) => (hit.bytes += c.length));
      upRes.pipe(res);
    })();
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}

/** Sends what the server answered, with `body` in place of its body (the same Content-Length unless cut). */
/**
 * Sends what the server answered, with `body` in place of its body (the same Content-Length), or
 * only its first `cutAfter` bytes and then a closed connection, once `landed` (if given) holds
 * them all: so that the client surely wrote them before it learns that the rest will not come.
 */
function answer(res: ServerResponse, hit: Hit, up: Upstream, body: Buffer, cutAfter?: number, landed?: string): void {
  hit.status = up.status;
  res.writeHead(up.status, up.headers);
  if (cutAfter === undefined) {
    hit.bytes += body.length;
    res.end(body);
    return;
  }
  hit.bytes += cutAfter;
  const deadline = Date.now() + 5_000;
  const cut = () => {
    const size = landed === undefined || !existsSync(landed) ? -1 : statSync(landed).size;
    if (landed === undefined || size === cutAfter || Date.now() > deadline) res.socket?.destroy();
    else setTimeout(cut, 10);
  };
  res.write(body.subarray(0, cutAfter), cut);
}

function fail(res: ServerResponse, hit: Hit, status: number, headers: Record<string, string> = {}): void {
  hit.status = status;
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify({ error: "ServiceUnavailable", message: `injected ${status}`, traceId: "proxy" }));
}

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");
const isBlob = (hit: Hit) => hit.path.startsWith("/files/");

/** Every file under `dir` (dotfiles too: no `.part` may be left behind unless a test says so). */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

const LARGE = 3 * 1024 * 1024;

/** Where the server really listens (its `url` is the proxy's, the public URL it signs with). */
const listening = (t: TestServer) => `http://127.0.0.1:${(t.server.app.server.address() as AddressInfo).port}`;

describe("downloads", () => {
  let proxy: Proxy;
  let t: TestServer;
  let work: string;
  let datasetId: string;
  /** The bytes of every uploaded file, by filename. */
  const files = new Map<string, Buffer>();
  let client: Client;

  beforeAll(async () => {
    proxy = await startProxy();
    t = await startTestServer({ publicUrl: proxy.url, processingConcurrency: 0 });
    proxy.target = listening(t);
    work = await mkdtemp(join(tmpdir(), "vi-dl-e2e-"));
    const src = join(work, "src");
    await mkdir(join(src, "sub"), { recursive: true });
    for (let i = 0; i < 12; i++) {
      const name = i % 3 === 0 ? `sub/small-${i}.jpg` : `small-${i}.jpg`;
      const bytes = uniqueJpeg(60_000 + i * 1000);
      files.set(name, bytes);
      await writeFile(join(src, name), bytes);
    }
    for (const [name, fill] of [
      ["large-a.jpg", 0x5a],
      ["large-b.jpg", 0x33],
    ] as const) {
      await writeLargeJpeg(join(src, name), LARGE, Buffer.alloc(1 << 20, fill));
      files.set(name, await readFile(join(src, name)));
    }
    ({ datasetId } = await t.client.datasets.create({ name: "downloads" }));
    const up = await t.client.assets.upload({ datasetId, paths: src, showProgress: false, digestCache: false });
    expect(up.totalSucceeded).toBe(files.size);
  });
  afterAll(async () => {
    await t.stop();
    await proxy.close();
    await rm(work, { recursive: true, force: true });
  });

  let saveDir: string;
  let cacheFile: string;
  beforeEach(async () => {
    saveDir = await mkdtemp(join(work, "out-"));
    cacheFile = join(saveDir + "-digests.json");
    proxy.hits.length = 0;
    proxy.blobPorts.clear();
    proxy.hook = undefined;
    client = new Client({
      endpoint: t.server.url,
      organizationId: t.organizationId,
      secretKey: t.secretKey,
      maxRetries: 3,
    });
  });
  afterEach(async () => {
    await client.close();
  });

  const download = (options: { overwrite?: boolean; concurrency?: number; digestCache?: boolean } = {}) =>
    client.assets.download({ datasetId, saveDir, showProgress: false, digestCache: cacheFile, ...options });

  const expectAllThere = async () => {
    expect(await listFiles(saveDir)).toEqual([...files.keys()].sort());
    for (const [name, bytes] of files) expect(sha256(await readFile(join(saveDir, name))), name).toBe(sha256(bytes));
  };

  it("downloads every file verified, over kept-alive connections, and leaves nothing else", async () => {
    const result = await download({ concurrency: 4 });
    expect(result).toMatchObject({ downloaded: files.size, skipped: 0, failed: [], differing: [], resumedBytes: 0 });
    expect(result.bytes).toBe([...files.values()].reduce((n, b) => n + b.length, 0));
    await expectAllThere();
    expect(proxy.hits.filter(isBlob).map((h) => h.status)).toEqual(Array(files.size).fill(200));
    // 14 files over at most 4 connections.
    expect(proxy.blobPorts.size).toBeLessThanOrEqual(4);
  });

  it("a corrupt body is fetched again, and one that stays corrupt is reported, never renamed into place", async () => {
    const flipped = new Set<string>();
    proxy.hook = async (hit, res, upstream) => {
      const name = hit.path.slice(hit.path.lastIndexOf("/") + 1);
      const always = name === "small-1.jpg" || name === "large-a.jpg";
      const once = (name === "small-2.jpg" || name === "large-b.jpg") && !flipped.has(name);
      if (!isBlob(hit) || !(always || once)) return false;
      flipped.add(name);
      const up = await upstream();
      const body = Buffer.from(up.body);
      body[body.length >> 1]! ^= 0xff;
      answer(res, hit, up, body);
      return true;
    };
    const result = await download({ concurrency: 4 });
    expect(result.failed.map((f) => f.filename).sort()).toEqual(["large-a.jpg", "small-1.jpg"]);
    expect(result.failed.every((f) => /SHA-256 mismatch/.test(f.reason))).toBe(true);
    expect(result.downloaded).toBe(files.size - 2);
    // The file corrupted once was fetched whole a second time; the one always corrupt twice, then given up.
    expect(proxy.of("small-2.jpg").map((h) => h.range)).toEqual([undefined, undefined]);
    expect(proxy.of("large-b.jpg").map((h) => h.range)).toEqual([undefined, undefined]);
    expect(proxy.of("small-1.jpg")).toHaveLength(2);
    // Neither the corrupt files nor their parts are anywhere.
    const expected = [...files.keys()].filter((f) => f !== "small-1.jpg" && f !== "large-a.jpg").sort();
    expect(await listFiles(saveDir)).toEqual(expected);
    // (Digests compared, not buffers: a deep comparison of 3 MiB takes vitest seconds.)
    expect(sha256(await readFile(join(saveDir, "small-2.jpg")))).toBe(sha256(files.get("small-2.jpg")!));
    expect(sha256(await readFile(join(saveDir, "large-b.jpg")))).toBe(sha256(files.get("large-b.jpg")!));
  });

  const cutAt = (attempt: number) => 1024 * 1024 + 1000 * attempt;

  it("a body cut short is retried; with every retry cut, the file fails and the next run continues its part", async () => {
    const cutOnce = new Set<string>();
    let cutLarge = true;
    let largeAttempts = 0;
    proxy.hook = async (hit, res, upstream) => {
      if (!isBlob(hit)) return false;
      const name = hit.path.slice(hit.path.lastIndexOf("/") + 1);
      const small = name === "small-4.jpg" && !cutOnce.has(name);
      if (!small && !(name === "large-a.jpg" && cutLarge)) return false;
      cutOnce.add(name);
      const up = await upstream();
      // Each attempt cuts elsewhere, so that the part the previous one left never looks like this one's.
      if (small) answer(res, hit, up, up.body, 1000);
      else
        answer(res, hit, up, up.body, cutAt(++largeAttempts), partPath(join(saveDir, name), sha256(files.get(name)!)));
      return true;
    };
    const first = await download({ concurrency: 4 });
    expect(first.failed.map((f) => f.filename)).toEqual(["large-a.jpg"]);
    expect(first.downloaded).toBe(files.size - 1);
    expect(proxy.of("small-4.jpg")).toHaveLength(2);
    // maxRetries 3: four attempts, each cut; what arrived is kept as the part, a prefix of the file.
    expect(proxy.of("large-a.jpg")).toHaveLength(4);
    const part = partPath(join(saveDir, "large-a.jpg"), sha256(files.get("large-a.jpg")!));
    const kept = await readFile(part);
    expect(kept.length).toBe(cutAt(4));
    expect(kept.equals(files.get("large-a.jpg")!.subarray(0, kept.length))).toBe(true);

    cutLarge = false;
    proxy.hits.length = 0;
    const second = await download();
    expect(second).toMatchObject({ downloaded: 1, skipped: files.size - 1, failed: [], resumedBytes: kept.length });
    // Only the rest was asked for and sent.
    expect(proxy.hits.filter(isBlob)).toEqual([
      {
        method: "GET",
        path: expect.stringMatching(/\/large-a\.jpg$/),
        range: `bytes=${kept.length}-`,
        ifRange: `"${sha256(files.get("large-a.jpg")!)}"`,
        status: 206,
        bytes: LARGE - kept.length,
      },
    ]);
    await expectAllThere();
  });

  it("an abort keeps a large file's part (a prefix of its bytes), which the next run continues", async () => {
    const controller = new AbortController();
    const a = files.get("large-a.jpg")!;
    const part = partPath(join(saveDir, "large-a.jpg"), sha256(a));
    proxy.hook = async (hit, res, upstream) => {
      if (!hit.path.endsWith("/large-a.jpg")) return false;
      const up = await upstream();
      hit.status = up.status;
      res.writeHead(up.status, up.headers);
      // Half the body, then silence until the client gives up.
      res.write(a.subarray(0, LARGE / 2));
      const waitForPart = setInterval(() => {
        if (existsSync(part) && readFileSync(part).length === LARGE / 2) {
          clearInterval(waitForPart);
          controller.abort();
        }
      }, 20);
      return true;
    };
    await expect(
      client.assets.download({
        datasetId,
        saveDir,
        showProgress: false,
        digestCache: cacheFile,
        signal: controller.signal,
      }),
    ).rejects.toMatchObject({ name: "AbortError" });
    const parts = (await listFiles(saveDir)).filter((f) => f.startsWith("."));
    // Through the bucket's redirect the other large file may still be on its way at the abort,
    // and keeps its part too; on the local store it has landed by then.
    if (scaleout()) expect(parts).toContain(part.slice(saveDir.length + 1));
    else expect(parts).toEqual([part.slice(saveDir.length + 1)]);
    proxy.hook = undefined;
    proxy.hits.length = 0;
    const result = await download();
    expect(result).toMatchObject({ downloaded: expect.any(Number), failed: [] });
    if (scaleout()) expect(result.resumedBytes).toBeGreaterThanOrEqual(LARGE / 2);
    else expect(result.resumedBytes).toBe(LARGE / 2);
    expect(proxy.of("large-a.jpg").map((h) => [h.range, h.status])).toEqual([[`bytes=${LARGE / 2}-`, 206]]);
    await expectAllThere();
  });

  it("continues a planted .part with a byte range; a part with wrong bytes fails its digest and is fetched whole", async () => {
    const half = LARGE / 2;
    const a = files.get("large-a.jpg")!;
    const b = files.get("large-b.jpg")!;
    await writeFile(partPath(join(saveDir, "large-a.jpg"), sha256(a)), a.subarray(0, half));
    // The right length, the wrong bytes: resuming must not trust it blindly.
    await writeFile(partPath(join(saveDir, "large-b.jpg"), sha256(b)), Buffer.alloc(half, 7));
    const result = await download();
    expect(result).toMatchObject({ downloaded: files.size, failed: [], resumedBytes: half });
    const hitsA = proxy.of("large-a.jpg");
    expect(hitsA.map((h) => [h.range, h.status, h.bytes])).toEqual([[`bytes=${half}-`, 206, LARGE - half]]);
    const hitsB = proxy.of("large-b.jpg");
    expect(hitsB.map((h) => [h.range, h.status, h.bytes])).toEqual([
      [`bytes=${half}-`, 206, LARGE - half],
      [undefined, 200, LARGE],
    ]);
    await expectAllThere();
  });

  it("a whole, verified .part left before its rename is renamed without a request", async () => {
    const a = files.get("large-a.jpg")!;
    await writeFile(partPath(join(saveDir, "large-a.jpg"), sha256(a)), a);
    const result = await download();
    expect(result).toMatchObject({ downloaded: files.size, failed: [], resumedBytes: LARGE });
    expect(proxy.of("large-a.jpg")).toEqual([]);
    await expectAllThere();
  });

  it("transient 5xx and 429 answers are retried; a file that keeps failing is reported without stopping the others", async () => {
    let injected = 0;
    proxy.hook = async (hit, res) => {
      if (!isBlob(hit)) return false;
      if (hit.path.endsWith("/small-7.jpg")) {
        fail(res, hit, 503, { "retry-after": "0" });
        return true;
      }
      const n = injected++;
      if (n >= 3) return false;
      if (n === 0) fail(res, hit, 503, { "retry-after": "0" });
      else if (n === 1) fail(res, hit, 429, { "retry-after": "0" });
      else fail(res, hit, 502);
      return true;
    };
    const result = await download({ concurrency: 2 });
    expect(result.failed).toEqual([{ filename: "small-7.jpg", reason: expect.stringMatching(/injected 503/) }]);
    expect(result.downloaded).toBe(files.size - 1);
    // maxRetries 3: four attempts, then reported.
    expect(proxy.of("small-7.jpg").map((h) => h.status)).toEqual([503, 503, 503, 503]);
    expect(proxy.hits.filter((h) => isBlob(h) && h.status >= 500).length).toBe(6);
    expect(proxy.hits.filter((h) => isBlob(h) && h.status === 429).length).toBe(1);
    expect((await listFiles(saveDir)).filter((f) => f.startsWith("."))).toEqual([]);
  });

  it("a re-run checks the files present and skips them without a request; differing ones are reported and kept", async () => {
    await download();
    proxy.hits.length = 0;
    const again = await download();
    expect(again).toMatchObject({ downloaded: 0, skipped: files.size, failed: [], differing: [], bytes: 0 });
    expect(proxy.hits.filter(isBlob)).toEqual([]);

    // The same size with other bytes (found by its SHA-256), and a shorter file (found by its size).
    const same = Buffer.from(files.get("small-8.jpg")!);
    same[100]! ^= 1;
    await writeFile(join(saveDir, "small-8.jpg"), same);
    await truncate(join(saveDir, "sub/small-9.jpg"), 10);
    const checked = await download();
    expect(checked).toMatchObject({ downloaded: 0, skipped: files.size, failed: [] });
    expect(checked.differing.sort()).toEqual(["small-8.jpg", "sub/small-9.jpg"]);
    expect((await stat(join(saveDir, "sub/small-9.jpg"))).size).toBe(10);
    // Without the digest cache every file is read once, with the same findings.
    const uncached = await download({ digestCache: false });
    expect(uncached.differing.sort()).toEqual(["small-8.jpg", "sub/small-9.jpg"]);
    const replaced = await download({ overwrite: true });
    expect(replaced).toMatchObject({ downloaded: files.size, skipped: 0, failed: [], differing: [] });
    await expectAllThere();
    expect(existsSync(cacheFile)).toBe(true);
  });
});

describe("downloads whose URLs expire mid-run", () => {
  let proxy: Proxy;
  let t: TestServer;
  let work: string;

  beforeAll(async () => {
    proxy = await startProxy();
    t = await startTestServer({ publicUrl: proxy.url, processingConcurrency: 0, downloadUrlTtlSeconds: 2 });
    proxy.target = listening(t);
    work = await mkdtemp(join(tmpdir(), "vi-dl-expiry-"));
  });
  afterAll(async () => {
    await t.stop();
    await proxy.close();
    await rm(work, { recursive: true, force: true });
  });

  it("renews a URL that expired on the way (403) and those the listing gave too long ago", async () => {
    const src = join(work, "src");
    await mkdir(src);
    const bytes = new Map<string, Buffer>();
    for (let i = 0; i < 6; i++) {
      bytes.set(`f${i}.jpg`, uniqueJpeg());
      await writeFile(join(src, `f${i}.jpg`), bytes.get(`f${i}.jpg`)!);
    }
    const { datasetId } = await t.client.datasets.create({ name: "expiry" });
    await t.client.assets.upload({ datasetId, paths: src, showProgress: false, digestCache: false });
    // A slow consumer: the first request reaches the server only after every listed URL expired.
    let first = true;
    proxy.hook = async (hit) => {
      if (isBlob(hit) && first) {
        first = false;
        await new Promise((r) => setTimeout(r, 2_300));
      }
      return false;
    };
    const saveDir = join(work, "out");
    const result = await t.client.assets.download({
      datasetId,
      saveDir,
      concurrency: 1,
      showProgress: false,
      digestCache: false,
    });
    expect(result).toMatchObject({ downloaded: 6, failed: [] });
    for (const [name, data] of bytes) expect((await readFile(join(saveDir, name))).equals(data), name).toBe(true);
    const blobHits = proxy.hits.filter(isBlob);
    // The delayed one answered 403 and was renewed; the others were renewed before they were tried.
    expect(blobHits.map((h) => h.status)).toEqual([403, 200, 200, 200, 200, 200, 200]);
  });
});
