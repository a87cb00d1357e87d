import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { apiPaths } from "@vi/protocol";
import { Client } from "@vi/sdk";
import { uniqueJpeg } from "../../../test/helpers/jpeg.mjs";
import { FaultPlan, faultyStores, isMetadataWrite } from "../src/store/faults/faulty-stores.js";
import { fsck } from "../src/store/fsck.js";
import { StorageHarness, sha256, type UploadFile } from "./storage-harness.js";

/**
 * Storage faults injected behind the store interfaces (a full disk, a read-only or failing one,
 * a short write: what cannot be had for real in a test) under a real server on a real port,
 * real SQLite files and real bytes. Each fault must get a clear answer (507 or 503 with
 * Retry-After, the cause logged at error level), what can be retried must succeed once it
 * clears, and nothing may be lost: every acknowledged asset reads back with its SHA-256, and
 * no row is without its bytes nor bytes without a row (fsck over the data dir says so).
 */
describe("storage faults behind the store interfaces", () => {
  let h: StorageHarness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  const start = async (plan: FaultPlan) => (h = await StorageHarness.start({ wrapStores: faultyStores(plan) }));
  const image = (filename: string, size = 60_000): UploadFile => ({ filename, bytes: uniqueJpeg(size) });
  const blobFiles = async (dataDir: string) =>
    (await readdir(join(dataDir, "blobs"), { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => e.name);

  async function expectStorageAnswer(res: Response, status: number, code: string, words: RegExp) {
    expect(res.status).toBe(status);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    const body = (await res.json()) as { error: string; message: string; suggestion: string; traceId: string };
    expect(body.error).toBe(code);
    expect(body.message).toMatch(words);
    expect(body.suggestion).toContain(body.traceId);
    return body;
  }

  it("a full disk under the metadata answers 507 on every write, reads keep working, and writes work once it clears", async () => {
    const plan = new FaultPlan();
    const t = await start(plan);
    const ds = await t.datasetId("before");
    const file = image("kept.jpg");
    const session = await t.session(ds, [file]);
    expect((await t.put(session, file)).status).toBe(200);
    const [asset] = await t.listAssets(ds);

    plan.fail({ store: "metadata", op: isMetadataWrite, times: "forever", kind: "ENOSPC" });
    await expectStorageAnswer(await t.createDataset("during"), 507, "InsufficientStorage", /disk is full/);
    await expectStorageAnswer(await t.openSession(ds, [image("new.jpg")]), 507, "InsufficientStorage", /disk is full/);
    const deleting = await t.api(apiPaths.asset(t.org, ds, asset!.assetId), { method: "DELETE" });
    await expectStorageAnswer(deleting, 507, "InsufficientStorage", /disk is full/);
    const droppingDataset = await t.api(apiPaths.dataset(t.org, ds), { method: "DELETE" });
    await expectStorageAnswer(droppingDataset, 507, "InsufficientStorage", /disk is full/);

    // Reads need no write: listings, the asset and its bytes.
    expect((await t.api(apiPaths.datasets(t.org))).status).toBe(200);
    const listed = await t.listAssets(ds);
    expect(listed.map((a) => a.filename)).toEqual(["kept.jpg"]);
    const got = await t.download(listed[0]!.contents!.asset!.url);
    expect(got.status).toBe(200);
    expect(sha256(got.bytes)).toBe(sha256(file.bytes));

    // The operator sees the real cause, once per failed request.
    const logged = t.errors().filter((l) => (l.storage as { code?: string } | undefined)?.code === "SQLITE_FULL");
    expect(logged).toHaveLength(4);
    expect(logged[0]!.msg).toMatch(/disk is full/);

    plan.clear();
    expect((await t.createDataset("after")).status).toBe(201);
    expect((await t.api(apiPaths.asset(t.org, ds, asset!.assetId), { method: "DELETE" })).status).toBe(204);
    expect(await blobFiles(t.dataDir)).toEqual([]);
  });

  it("read-only storage and I/O errors answer 503 with Retry-After, each saying what is wrong", async () => {
    const plan = new FaultPlan();
    const t = await start(plan);
    plan.fail({ store: "metadata", op: "createDataset", kind: "EROFS" });
    await expectStorageAnswer(await t.createDataset("x"), 503, "ServiceUnavailable", /storage is read-only/);
    plan.fail({ store: "metadata", op: "createDataset", kind: "EIO" });
    await expectStorageAnswer(await t.createDataset("y"), 503, "ServiceUnavailable", /I\/O error/);
    // A read that fails is a 503 too, not a generic 500.
    plan.fail({ store: "metadata", op: "listDatasets", kind: "EIO" });
    await expectStorageAnswer(await t.api(apiPaths.datasets(t.org)), 503, "ServiceUnavailable", /I\/O error/);
    expect(t.errors().map((l) => (l.storage as { code: string }).code)).toEqual([
      "SQLITE_READONLY",
      "SQLITE_IOERR_WRITE",
      "SQLITE_IOERR_WRITE",
    ]);
    expect((await t.createDataset("z")).status).toBe(201);
  });

  for (const size of [60_000, 6_000_000]) {
    it(`a disk that fills up while a PUT of ${size} bytes is staged answers 507 (not a reset), keeps nothing, and the retried PUT commits`, async () => {
      const plan = new FaultPlan();
      const t = await start(plan);
      const ds = await t.datasetId("put");
      const file = image("big.jpg", size);
      const session = await t.session(ds, [file]);
      plan.fail({ store: "blobs", op: "stage", kind: "ENOSPC" });
      await expectStorageAnswer(await t.put(session, file), 507, "InsufficientStorage", /disk is full/);
      expect(await t.stagingFiles()).toEqual([]);
      expect(await blobFiles(t.dataDir)).toEqual([]);
      // The file is still expected: a retry (what the SDK does after Retry-After) commits it.
      expect((await t.put(session, file)).status).toBe(200);
      const done = await t.sessionStatus(ds, session, 5);
      expect(done.status.progressCount).toMatchObject({ total: 1, succeeded: 1, errored: 0 });
      const [asset] = await t.listAssets(ds);
      expect(sha256((await t.download(asset!.contents!.asset!.url)).bytes)).toBe(sha256(file.bytes));
    });
  }

  it("a short write (the disk kept fewer bytes than it acknowledged) is caught before the blob is published", async () => {
    const plan = new FaultPlan();
    const t = await start(plan);
    const ds = await t.datasetId("short");
    const file = image("short.jpg", 200_000);
    const session = await t.session(ds, [file]);
    plan.fail({ store: "blobs", op: "stage", kind: "short" });
    await expectStorageAnswer(await t.put(session, file), 503, "ServiceUnavailable", /I\/O error/);
    expect(t.errors().at(-1)!.err).toMatchObject({ message: expect.stringMatching(/short write/) as unknown });
    expect(await blobFiles(t.dataDir)).toEqual([]);
    expect(await t.listAssets(ds)).toEqual([]);
    expect((await t.put(session, file)).status).toBe(200);
    const [asset] = await t.listAssets(ds);
    expect(sha256((await t.download(asset!.contents!.asset!.url)).bytes)).toBe(sha256(file.bytes));
  });

  it("a commit that fails after the bytes were published removes them; a retry commits the file once", async () => {
    const plan = new FaultPlan();
    const t = await start(plan);
    const ds = await t.datasetId("commit");
    const file = image("c.jpg");
    const session = await t.session(ds, [file]);
    plan.fail({ store: "metadata", op: "commitFiles", kind: "ENOSPC" });
    await expectStorageAnswer(await t.put(session, file), 507, "InsufficientStorage", /disk is full/);
    // No bytes without a row.
    expect(await blobFiles(t.dataDir)).toEqual([]);
    expect((await t.put(session, file)).status).toBe(200);
    expect(await blobFiles(t.dataDir)).toEqual([sha256(file.bytes)]);
  });

  it("a commit that took effect but answered an I/O error: the retried PUT answers the same asset, never a second", async () => {
    const plan = new FaultPlan();
    const t = await start(plan);
    const ds = await t.datasetId("after");
    const file = image("a.jpg");
    const session = await t.session(ds, [file]);
    plan.fail({ store: "metadata", op: "commitFiles", kind: "EIO", after: true });
    await expectStorageAnswer(await t.put(session, file), 503, "ServiceUnavailable", /I\/O error/);
    const retry = await t.put(session, file);
    expect(retry.status).toBe(200);
    const assets = await t.listAssets(ds);
    expect(assets).toHaveLength(1);
    expect(((await retry.json()) as { assetId: string }).assetId).toBe(assets[0]!.assetId);
    expect(await blobFiles(t.dataDir)).toEqual([sha256(file.bytes)]);
  });

  it("bytes whose delete failed are kept, logged, and deleted by the next release: the asset delete still answers 204", async () => {
    const plan = new FaultPlan();
    const t = await start(plan);
    const ds = await t.datasetId("release");
    const files = [image("1.jpg"), image("2.jpg")];
    const session = await t.session(ds, files);
    for (const f of files) expect((await t.put(session, f)).status).toBe(200);
    const [one, two] = await t.listAssets(ds);
    plan.fail({ store: "blobs", op: "delete", kind: "EROFS" });
    expect((await t.api(apiPaths.asset(t.org, ds, one!.assetId), { method: "DELETE" })).status).toBe(204);
    expect((await blobFiles(t.dataDir)).sort()).toEqual(files.map((f) => sha256(f.bytes)).sort());
    expect(t.errors().at(-1)).toMatchObject({ sha256: sha256(files[0]!.bytes) });
    expect((await t.api(apiPaths.asset(t.org, ds, two!.assetId), { method: "DELETE" })).status).toBe(204);
    expect(await blobFiles(t.dataDir)).toEqual([]);
  });

  it("a failed delete is recorded in the store: after a clean restart, the next server's release deletes the bytes", async () => {
    const plan = new FaultPlan();
    const t = await start(plan);
    const ds = await t.datasetId("durable-release");
    const files = [image("1.jpg"), image("2.jpg")];
    const session = await t.session(ds, files);
    for (const f of files) expect((await t.put(session, f)).status).toBe(200);
    const [one, two] = await t.listAssets(ds);
    plan.fail({ store: "blobs", op: "delete", kind: "EROFS" });
    expect((await t.api(apiPaths.asset(t.org, ds, one!.assetId), { method: "DELETE" })).status).toBe(204);
    expect((await blobFiles(t.dataDir)).sort()).toEqual(files.map((f) => sha256(f.bytes)).sort());
    // A clean stop: no crash sweep at the next start; only the recorded release remembers the bytes.
    await t.stop({ keep: true });
    const again = await StorageHarness.start({ dataDir: t.dataDir });
    h = again;
    again.org = t.org;
    again.key = t.key;
    expect(again.server.recovery.uncleanShutdown).toBe(false);
    expect((await again.api(apiPaths.asset(again.org, ds, two!.assetId), { method: "DELETE" })).status).toBe(204);
    expect(await blobFiles(again.dataDir)).toEqual([]);
  });

  it("a read that fails answers 503 (GET and HEAD); a read that comes up short is cut, never served as whole", async () => {
    const plan = new FaultPlan();
    const t = await start(plan);
    const ds = await t.datasetId("reads");
    const small = image("small.jpg", 60_000);
    const large = image("large.jpg", 3_000_000);
    const session = await t.session(ds, [small, large]);
    for (const f of [small, large]) expect((await t.put(session, f)).status).toBe(200);
    const urls = new Map((await t.listAssets(ds)).map((a) => [a.filename, a.contents!.asset!.url]));

    plan.fail({ store: "blobs", op: "openRead", kind: "EIO" });
    await expectStorageAnswer(await fetch(urls.get("small.jpg")!), 503, "ServiceUnavailable", /I\/O error/);
    plan.fail({ store: "blobs", op: "openRead", kind: "EIO" });
    const head = await fetch(urls.get("small.jpg")!, { method: "HEAD" });
    expect(head.status).toBe(503);

    // Up to 1 MiB the bytes are checked before the answer starts: a clean 500.
    plan.fail({ store: "blobs", op: "openRead", kind: "short" });
    const cut = await fetch(urls.get("small.jpg")!);
    expect(cut.status).toBe(500);
    expect(((await cut.json()) as { message: string }).message).toMatch(/stored bytes of this asset are damaged/);

    // Larger ones stream; the end shows the bytes were short and the connection is cut.
    plan.fail({ store: "blobs", op: "openRead", kind: "short" });
    const res = await fetch(urls.get("large.jpg")!);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe(String(large.bytes.length));
    let received = 0;
    const outcome = await (async () => {
      for await (const chunk of res.body! as AsyncIterable<Uint8Array>) received += chunk.length;
      return "complete";
    })().catch(() => "cut");
    expect(outcome).toBe("cut");
    expect(received).toBeLessThan(large.bytes.length);
    const finding = t.errors().find((l) => /connection was cut/.test(l.msg));
    expect(finding).toMatchObject({ sha256: sha256(large.bytes), datasetId: ds });

    // Once the fault clears, both read back whole.
    for (const f of [small, large])
      expect(sha256((await t.download(urls.get(f.filename)!)).bytes)).toBe(sha256(f.bytes));
  });

  it("a full disk under SQLite itself (SQLITE_FULL) answers 507, not a 500 about a failed rollback", async () => {
    // The one fault here not injected by the wrapper: SQLite's own page limit makes it fail
    // exactly as on a full disk (SQLITE_FULL, transaction rolled back by SQLite).
    const { sqliteDatabaseOf } = await import("../src/store/metadata/sqlite.js");
    let database: ReturnType<typeof sqliteDatabaseOf>;
    h = await StorageHarness.start({
      wrapStores: (stores) => {
        database = sqliteDatabaseOf(stores.metadata);
        return stores;
      },
    });
    const t = h;
    const ds = await t.datasetId("sqlite-full");
    database!.pragma(`max_page_count = ${database!.pragma("page_count", { simple: true }) as number}`);
    const many = Array.from({ length: 300 }, (_, i) => ({ filename: `f${i}.jpg`, bytes: Buffer.from([i & 0xff]) }));
    await expectStorageAnswer(await t.openSession(ds, many), 507, "InsufficientStorage", /disk is full/);
    expect(t.errors().at(-1)!.storage).toMatchObject({ code: "SQLITE_FULL" });
    expect((await t.api(apiPaths.datasets(t.org))).status).toBe(200);
    database!.pragma("max_page_count = 4294967294");
    expect((await t.openSession(ds, many.slice(0, 3))).status).toBe(201);
  });

  it("an SDK upload through intermittent faults retries what it can and loses nothing", async () => {
    const plan = new FaultPlan();
    const t = await start(plan);
    const ds = await t.datasetId("sdk");
    const folder = await mkdtemp(join(tmpdir(), "vi-faults-src-"));
    const files = Array.from({ length: 24 }, (_, i) => image(`img-${String(i).padStart(2, "0")}.jpg`, 55_000 + i));
    files.push(image("large.jpg", 5_000_000));
    for (const f of files) await writeFile(join(folder, f.filename), f.bytes);
    plan
      .fail({ store: "blobs", op: "stage", at: 3, kind: "ENOSPC" })
      .fail({ store: "blobs", op: "stage", at: 8, kind: "short" })
      .fail({ store: "blobs", op: "publish", at: 5, kind: "EIO" })
      .fail({ store: "metadata", op: "commitFiles", at: 2, kind: "ENOSPC" })
      .fail({ store: "metadata", op: "commitFiles", at: 6, kind: "EIO", after: true })
      .fail({ store: "metadata", op: "getSessionFile", at: 10, kind: "EIO" });
    const client = new Client({ endpoint: t.url, organizationId: t.org, secretKey: t.key, maxRetries: 3 });
    try {
      // I/O errors and short writes are retried through; a full disk (507) is not worth retrying
      // in seconds, so its files fail as ENOQUOTA and the rest go on (FailAfterAll).
      // One PUT per file (the Python client's path): the faults are planned by call count.
      const first = await client.assets.upload({
        datasetId: ds,
        paths: folder,
        concurrency: 4,
        failureMode: "FailAfterAll",
        showProgress: false,
        batchSmallFiles: false,
      });
      expect(plan.injected.length).toBeGreaterThanOrEqual(5);
      // Which files the two disk-full faults hit (one file's staging, or a group commit of one or
      // more) depends on timing: each failed file fails as ENOQUOTA, and no other fault fails one.
      expect(first.totalFailed).toBeGreaterThanOrEqual(1);
      expect(new Set(first.failedFiles.map((f) => f.code))).toEqual(new Set(["ENOQUOTA"]));
      // Space freed: the same upload again completes the dataset.
      const again = await client.assets.upload({ datasetId: ds, paths: folder, concurrency: 4, showProgress: false });
      expect(again.totalFailed).toBe(0);
      expect(again.totalSucceeded).toBe(files.length);
    } finally {
      await client.close();
      await rm(folder, { recursive: true, force: true });
    }
    plan.clear();

    const assets = await t.listAssets(ds);
    expect(assets.map((a) => a.filename).sort()).toEqual(files.map((f) => f.filename).sort());
    for (const a of assets) {
      const want = files.find((f) => f.filename === a.filename)!;
      expect(a.metadata.hash.contents).toBe(sha256(want.bytes));
      expect(sha256((await t.download(a.contents!.asset!.url)).bytes), a.filename).toBe(sha256(want.bytes));
    }
    // A delete whose bytes could not go, then one more: the first bytes go with the second.
    plan.fail({ store: "blobs", op: "delete", kind: "EIO" });
    for (const a of assets.slice(0, 2))
      expect((await t.api(apiPaths.asset(t.org, ds, a.assetId), { method: "DELETE" })).status).toBe(204);

    await t.stop({ keep: true });
    const report = await fsck({ dataDir: t.dataDir });
    expect(report).toMatchObject({ clean: true, blobsChecked: files.length - 2, stagingFiles: 0 });
    await rm(t.dataDir, { recursive: true, force: true });
    h = undefined;
  });
  it("a batched SDK upload through storage faults retries the batch and loses nothing", async () => {
    const plan = new FaultPlan();
    const t = await start(plan);
    const ds = await t.datasetId("batched");
    const folder = await mkdtemp(join(tmpdir(), "vi-faults-batch-"));
    const files = Array.from({ length: 30 }, (_, i) => image(`b-${String(i).padStart(2, "0")}.jpg`, 55_000 + i));
    for (const f of files) await writeFile(join(folder, f.filename), f.bytes);
    // A short write of one staged file (found before publishing) and a failed commit: each fails
    // its whole batch with a 5xx, which the SDK sends again (the batch PUT is idempotent).
    plan
      .fail({ store: "blobs", op: "stage", at: 4, kind: "short" })
      .fail({ store: "metadata", op: "commitFiles", at: 1, kind: "EIO" });
    const client = new Client({ endpoint: t.url, organizationId: t.org, secretKey: t.key, maxRetries: 3 });
    try {
      const result = await client.assets.upload({ datasetId: ds, paths: folder, concurrency: 2, showProgress: false });
      expect(plan.injected.length).toBe(2);
      expect(result.failedFiles).toEqual([]);
      expect(result.totalSucceeded).toBe(files.length);
    } finally {
      await client.close();
      await rm(folder, { recursive: true, force: true });
    }
    const assets = await t.listAssets(ds);
    expect(assets.map((a) => a.filename).sort()).toEqual(files.map((f) => f.filename).sort());
    for (const a of assets)
      expect(a.metadata.hash.contents).toBe(sha256(files.find((f) => f.filename === a.filename)!.bytes));
    await t.stop({ keep: true });
    const report = await fsck({ dataDir: t.dataDir });
    expect(report).toMatchObject({ clean: true, blobsChecked: files.length, stagingFiles: 0 });
    await rm(t.dataDir, { recursive: true, force: true });
    h = undefined;
  });
});
