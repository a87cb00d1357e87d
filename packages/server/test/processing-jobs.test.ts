import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openSqliteStore } from "../src/store/metadata/sqlite.js";
import { openPostgresStore } from "../src/store/metadata/postgres.js";
import { createTestDatabase, scaleout } from "../../../test/helpers/test-database.mjs";
import type { KyselyMetadataStore } from "../src/store/metadata/kysely-store.js";
import type { ClaimedJob, ProcessingOutcome } from "../src/store/metadata/metadata-store.js";

/**
 * The processing job table on a real SQLite store: claims lease jobs to one owner, an expired
 * lease makes a job due again with its attempt counted, an outcome applies only for the owner
 * and the asset's current bytes, thumbnails are counted as blob references, and reprocessing
 * is idempotent.
 */
const ORG = "org1";
const DATASET = "ds1";
const sha = (n: number) => n.toString(16).padStart(64, "0");

describe("processing jobs in the metadata store", () => {
  let dir: string;
  let store: KyselyMetadataStore;
  let dropDatabase: (() => Promise<void>) | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "vi-jobs-"));
    // SQLite, or in the scale-out configuration a PostgreSQL database of its own (claims take SKIP LOCKED there).
    if (scaleout()) {
      const database = await createTestDatabase();
      dropDatabase = () => database.drop();
      store = await openPostgresStore(database.url);
    } else store = await openSqliteStore(join(dir, "metadata.sqlite"));
    await store.createOrganization(
      { orgId: ORG, name: "o", createdAt: 1 },
      { keyId: "k", orgId: ORG, name: "k", keyHash: "h", createdAt: 1 },
    );
    await store.createDataset({
      orgId: ORG,
      datasetId: DATASET,
      name: "d",
      description: null,
      type: "phrase-grounding",
      content: "Image",
      createdAt: 1,
      lastAccessed: 1,
    });
  });
  afterEach(async () => {
    await store.close();
    await dropDatabase?.();
    dropDatabase = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  /** Commits `names` through an upload session, as the ingestion service does; answers the asset ids. */
  async function upload(names: string[], bytes = 1, sessionId = `s-${names.join(",")}-${bytes}`): Promise<string[]> {
    const t = Date.now();
    await store.createSession(
      {
        sessionId,
        orgId: ORG,
        datasetId: DATASET,
        failureMode: "FailAfterAll",
        onOverwrite: "RemoveLinkedResource",
        state: "Running",
        failureReason: null,
        total: names.length,
        succeeded: 0,
        errored: 0,
        createdAt: t,
        updatedAt: t,
        expiresAt: t + 60_000,
        generation: 1,
      },
      names.map((filename, fileIndex) => ({
        sessionId,
        fileIndex,
        filename,
        mime: "image/jpeg",
        size: 10,
        crc32c: 0,
        sha256: null,
        customMetadata: null,
        state: "pending",
        errorCode: null,
        errorMessage: null,
        assetId: null,
        deduplicated: false,
        updatedAt: t,
      })),
    );
    const results = await store.commitFiles(
      names.map((filename, fileIndex) => ({
        sessionId,
        fileIndex,
        newAssetId: `a-${filename}`,
        asset: {
          filename,
          sha256: sha(bytes * 1000 + fileIndex),
          fileSize: 10,
          customMetadata: null,
          mimeType: "image/jpeg",
          width: 4,
          height: 3,
          rawWidth: 4,
          rawHeight: 3,
          orientation: 1,
          frames: 1,
        },
      })),
    );
    return results.map((r) => r!.assetId);
  }

  const ok = (thumb: number | null): ProcessingOutcome => ({
    status: "uploaded",
    reason: null,
    thumbnail: thumb === null ? null : { sha256: sha(900_000 + thumb), size: 5 },
    media: { channels: 3 },
    version: 1,
  });

  it("leases each job to one owner; a second claim gets nothing until the lease runs out", async () => {
    await upload(["a.jpg", "b.jpg"]);
    const first = await store.claimProcessingJobs("A", 10, 60_000);
    expect(first.map((j) => j.assetId).sort()).toEqual(["a-a.jpg", "a-b.jpg"]);
    expect(first.every((j) => j.attempts === 1 && j.generation === 1)).toBe(true);
    expect(await store.claimProcessingJobs("B", 10, 60_000)).toEqual([]);
    expect(await store.processingBacklog()).toBe(2);

    // A lease of 1 ms runs out at once: the job is due again for anyone, its attempts counted.
    await upload(["c.jpg"]);
    const [short] = await store.claimProcessingJobs("A", 10, 1);
    await new Promise((r) => setTimeout(r, 5));
    const [again] = await store.claimProcessingJobs("B", 10, 60_000);
    expect(again).toMatchObject({ assetId: short!.assetId, attempts: 2 });
    // A's late outcome does not apply: the job is B's now.
    const late = await store.finishProcessingJobs("A", [{ job: short!, outcome: ok(1) }]);
    expect(late.applied).toEqual([false]);
    const mine = await store.finishProcessingJobs("B", [{ job: again!, outcome: ok(1) }]);
    expect(mine.applied).toEqual([true]);
    const asset = await store.getAsset(ORG, DATASET, again!.assetId);
    expect(asset).toMatchObject({ uploadStatus: "completed", status: "uploaded", thumbnail: { generation: 1 } });
    expect(await store.isBlobReferenced(sha(900_001))).toBe(true);
  });

  it("records errors with their reason, and retries wait their turn", async () => {
    const [id] = await upload(["bad.jpg"]);
    const [job] = await store.claimProcessingJobs("A", 1, 60_000);
    // A retry is not due before its time.
    await store.retryProcessingJob("A", job!, "decoder crashed", Date.now() + 50);
    expect(await store.claimProcessingJobs("A", 1, 60_000)).toEqual([]);
    expect((await store.getAsset(ORG, DATASET, id!))!.uploadStatus).toBe("processing");
    await new Promise((r) => setTimeout(r, 60));
    const [retried] = await store.claimProcessingJobs("A", 1, 60_000);
    expect(retried).toMatchObject({ attempts: 2, lastError: "decoder crashed" });
    // Released leases (a clean shutdown) make a job due at once, without counting an attempt.
    expect(await store.releaseProcessingLeases("A")).toBe(1);
    const [resumed] = await store.claimProcessingJobs("B", 1, 60_000);
    expect(resumed!.attempts).toBe(2);
    const failed: ProcessingOutcome = { ...ok(null), status: "error", reason: "PNG: IDAT stream is corrupt" };
    await store.finishProcessingJobs("B", [{ job: resumed!, outcome: failed }]);
    expect(await store.getAsset(ORG, DATASET, id!)).toMatchObject({
      uploadStatus: "completed",
      status: "error",
      statusReason: "PNG: IDAT stream is corrupt",
      thumbnail: null,
    });
    expect(await store.processingBacklog()).toBe(0);
  });

  it("new bytes re-queue the asset, drop its old thumbnail, and make an outcome for the old bytes stale", async () => {
    const [id] = await upload(["x.jpg"], 1, "s1");
    const [job1] = await store.claimProcessingJobs("A", 1, 60_000);
    await store.finishProcessingJobs("A", [{ job: job1!, outcome: ok(7) }]);
    expect(await store.isBlobReferenced(sha(900_007))).toBe(true);

    const [job2pending] = [await upload(["x.jpg"], 2, "s2")];
    expect(job2pending).toEqual([id]);
    const replaced = await store.getAsset(ORG, DATASET, id!);
    expect(replaced).toMatchObject({ uploadStatus: "processing", status: "uploaded", thumbnail: null, generation: 2 });
    // The old thumbnail lost its only reference with the old bytes.
    expect(await store.isBlobReferenced(sha(900_007))).toBe(false);

    const [job2] = await store.claimProcessingJobs("A", 1, 60_000);
    expect(job2!.generation).toBe(2);
    // An outcome computed for generation 1 does not apply to generation 2.
    expect(
      (await store.finishProcessingJobs("A", [{ job: { ...job2!, generation: 1 }, outcome: ok(8) }])).applied,
    ).toEqual([false]);
    expect((await store.finishProcessingJobs("A", [{ job: job2!, outcome: ok(9) }])).applied).toEqual([true]);
    // A new thumbnail gets a new generation: a URL of the old one never answers the new bytes.
    expect((await store.getAsset(ORG, DATASET, id!))!.thumbnail).toMatchObject({ sha256: sha(900_009), generation: 2 });
  });

  it("deleting assets releases their thumbnails and drops their jobs", async () => {
    const ids = await upload(["p.jpg", "q.jpg"]);
    const jobs = await store.claimProcessingJobs("A", 2, 60_000);
    // Both assets get the same thumbnail bytes: the blob is counted twice.
    await store.finishProcessingJobs(
      "A",
      jobs.map((job) => ({ job, outcome: ok(3) })),
    );
    const first = await store.deleteAsset(ORG, DATASET, ids[0]!);
    expect(first!.orphanedBlobs).not.toContain(sha(900_003));
    const second = await store.deleteAsset(ORG, DATASET, ids[1]!);
    expect(second!.orphanedBlobs).toContain(sha(900_003));

    await upload(["r.jpg"]);
    expect(await store.processingBacklog()).toBe(1);
    await store.deleteDataset(ORG, DATASET);
    expect(await store.processingBacklog()).toBe(0);
  });

  it("reprocessing queues a dataset once, keeps what assets show meanwhile, and takes only older builds by default", async () => {
    const ids = await upload(["m.jpg", "n.jpg"]);
    const jobs: ClaimedJob[] = await store.claimProcessingJobs("A", 2, 60_000);
    await store.finishProcessingJobs(
      "A",
      jobs.map((job) => ({ job, outcome: ok(4) })),
    );
    expect(await store.reprocessDataset(ORG, DATASET, 1)).toBe(0); // all made by build 1
    expect(await store.reprocessDataset(ORG, DATASET, 2)).toBe(2); // an upgrade to build 2
    expect(await store.reprocessDataset(ORG, DATASET)).toBe(0); // already queued: idempotent
    const shown = await store.getAsset(ORG, DATASET, ids[0]!);
    expect(shown).toMatchObject({
      uploadStatus: "processing",
      status: "uploaded",
      thumbnail: { sha256: sha(900_004) },
    });
    const again = await store.claimProcessingJobs("A", 5, 60_000);
    expect(again).toHaveLength(2);
    await store.finishProcessingJobs(
      "A",
      again.map((job) => ({ job, outcome: ok(4) })),
    );
    // The same thumbnail bytes: same signed path generation, the blob counted once per asset.
    expect((await store.getAsset(ORG, DATASET, ids[0]!))!.thumbnail).toMatchObject({ generation: 1 });
    const gone = await store.deleteDataset(ORG, DATASET);
    expect(gone!.orphanedBlobs).toContain(sha(900_004));
  });

  it("counts a session's assets by processing state", async () => {
    await upload(["u.jpg", "v.jpg", "w.jpg"], 1, "counted");
    const jobs = await store.claimProcessingJobs("A", 2, 60_000);
    await store.finishProcessingJobs("A", [
      { job: jobs[0]!, outcome: ok(1) },
      { job: jobs[1]!, outcome: { ...ok(null), status: "error", reason: "broken" } },
    ]);
    expect(await store.sessionProcessing("counted")).toEqual({ processing: 1, completed: 1, errored: 1 });
  });
});
