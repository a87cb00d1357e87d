import { sql } from "kysely";
import type { ClaimedJob, ProcessingCounts, ProcessingOutcome } from "../metadata-store.js";
import { lockedOn, num, releaseBlob, retainBlob, type Db } from "./common.js";

/**
 * The processing aggregate: one job row per asset whose bytes await decoding, claimed with a
 * lease. A claim moves `run_after` to the end of the lease, so the one condition
 * `run_after <= now` finds both new jobs and jobs whose worker died; the claim also counts the
 * attempt, so a file that kills its worker every time runs out of attempts instead of looping.
 */

/** Queues (or re-queues, for new bytes) an asset's processing; called in the transaction that commits the asset. */
export async function enqueueProcessing(
  tx: Db,
  job: { seq: number; orgId: string; datasetId: string; generation: number },
  t: number,
): Promise<void> {
  await tx
    .insertInto("processing_jobs")
    .values({
      asset_seq: job.seq,
      org_id: job.orgId,
      dataset_id: job.datasetId,
      generation: job.generation,
      attempts: 0,
      run_after: t,
      lease_owner: null,
      last_error: null,
      created_at: t,
    })
    .onConflict((oc) =>
      oc.column("asset_seq").doUpdateSet({
        generation: job.generation,
        attempts: 0,
        run_after: t,
        lease_owner: null,
        last_error: null,
      }),
    )
    .execute();
}

export async function claimJobs(
  tx: Db,
  dialect: "sqlite" | "postgres",
  owner: string,
  limit: number,
  leaseMs: number,
  now: number,
): Promise<ClaimedJob[]> {
  let due = tx
    .selectFrom("processing_jobs")
    .select("asset_seq")
    .where("run_after", "<=", now)
    .orderBy("run_after")
    .limit(limit);
  // Several servers on one PostgreSQL: each takes rows no other claim holds, without waiting.
  if (dialect === "postgres") due = due.forUpdate().skipLocked();
  const claimed = await tx
    .updateTable("processing_jobs")
    .set((eb) => ({ lease_owner: owner, run_after: now + leaseMs, attempts: eb("attempts", "+", 1) }))
    .where("asset_seq", "in", due)
    .returning(["asset_seq", "generation", "attempts", "last_error"])
    .execute();
  if (claimed.length === 0) return [];
  const assets = await tx
    .selectFrom("assets")
    .select(["seq", "asset_id", "org_id", "dataset_id", "generation", "sha256", "mime_type", "orientation"])
    .select(["file_size"])
    .where(
      "seq",
      "in",
      claimed.map((c) => c.asset_seq),
    )
    .execute();
  const bySeq = new Map(assets.map((a) => [num(a.seq), a]));
  const jobs: ClaimedJob[] = [];
  const gone: number[] = [];
  for (const c of claimed) {
    const a = bySeq.get(num(c.asset_seq));
    // The asset went (or its bytes changed and the job was re-queued under a new generation).
    if (!a || a.generation !== c.generation) {
      if (!a) gone.push(num(c.asset_seq));
      continue;
    }
    jobs.push({
      assetSeq: num(a.seq),
      assetId: a.asset_id,
      orgId: a.org_id,
      datasetId: a.dataset_id,
      generation: a.generation,
      attempts: c.attempts,
      lastError: c.last_error,
      sha256: a.sha256,
      fileSize: num(a.file_size),
      mimeType: a.mime_type,
      orientation: a.orientation,
    });
  }
  if (gone.length > 0) await tx.deleteFrom("processing_jobs").where("asset_seq", "in", gone).execute();
  return jobs;
}

/**
 * Records a job's outcome on its asset and ends the job, if the job is still this worker's
 * and still about the asset's current bytes; answers whether it applied, and the blobs (an
 * old thumbnail) no asset references any more.
 */
export async function finishJob(
  tx: Db,
  dialect: "sqlite" | "postgres",
  job: ClaimedJob,
  owner: string,
  outcome: ProcessingOutcome,
  t: number,
): Promise<{ applied: boolean; orphanedBlobs: string[] }> {
  const ended = await tx
    .deleteFrom("processing_jobs")
    .where("asset_seq", "=", job.assetSeq)
    .where("generation", "=", job.generation)
    .where("lease_owner", "=", owner)
    .executeTakeFirst();
  if (num(ended.numDeletedRows) === 0) return { applied: false, orphanedBlobs: [] };
  // Locked: a delete or a new upload of the asset in between would release the thumbnail read here.
  const asset = await lockedOn(
    dialect,
    tx.selectFrom("assets").select(["seq", "generation", "thumbnail_sha256"]).where("seq", "=", job.assetSeq),
  ).executeTakeFirst();
  if (!asset || asset.generation !== job.generation) return { applied: false, orphanedBlobs: [] };
  const orphanedBlobs: string[] = [];
  const previous = asset.thumbnail_sha256;
  const next = outcome.thumbnail?.sha256 ?? null;
  if (next !== previous) {
    if (outcome.thumbnail) await retainBlob(tx, outcome.thumbnail.sha256, outcome.thumbnail.size, t);
    if (previous && (await releaseBlob(tx, previous, 1))) orphanedBlobs.push(previous);
  }
  await tx
    .updateTable("assets")
    .set((eb) => ({
      upload_status: "completed",
      status: outcome.status,
      status_reason: outcome.reason,
      thumbnail_sha256: next,
      thumbnail_size: outcome.thumbnail?.size ?? null,
      // A new thumbnail gets a new signed path, so an old URL never answers other bytes.
      ...(next !== previous && next !== null ? { thumbnail_generation: eb("thumbnail_generation", "+", 1) } : {}),
      media: outcome.media ? JSON.stringify(outcome.media) : null,
      processed_version: outcome.version,
      updated_at: t,
    }))
    .where("seq", "=", job.assetSeq)
    .execute();
  return { applied: true, orphanedBlobs };
}

/** Gives a job back to be tried again after `runAfter` (the attempt stays counted). */
export async function retryJob(tx: Db, job: ClaimedJob, owner: string, error: string, runAfter: number): Promise<void> {
  await tx
    .updateTable("processing_jobs")
    .set({ lease_owner: null, run_after: runAfter, last_error: error.slice(0, 1000) })
    .where("asset_seq", "=", job.assetSeq)
    .where("lease_owner", "=", owner)
    .execute();
}

/** Makes this worker's leased jobs due at once (a clean shutdown), without counting an attempt. */
export async function releaseLeases(tx: Db, owner: string, now: number): Promise<number> {
  const res = await tx
    .updateTable("processing_jobs")
    .set((eb) => ({ lease_owner: null, run_after: now, attempts: eb("attempts", "-", 1) }))
    .where("lease_owner", "=", owner)
    .where("attempts", ">", 0)
    .executeTakeFirst();
  return num(res.numUpdatedRows);
}

/**
 * The outcome another asset of the organization already has for the same bytes, made by this
 * version of the processing: a duplicate is not decoded twice.
 */
export async function processedTwin(
  db: Db,
  orgId: string,
  sha256: string,
  version: number,
): Promise<ProcessingOutcome | undefined> {
  const row = await db
    .selectFrom("assets")
    .select(["status", "status_reason", "thumbnail_sha256", "thumbnail_size", "media"])
    .where("org_id", "=", orgId)
    .where("sha256", "=", sha256)
    .where("upload_status", "=", "completed")
    .where("processed_version", "=", version)
    .limit(1)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    status: row.status === "error" ? "error" : "uploaded",
    reason: row.status_reason,
    thumbnail: row.thumbnail_sha256 !== null ? { sha256: row.thumbnail_sha256, size: num(row.thumbnail_size) } : null,
    media: row.media ? (JSON.parse(row.media) as Record<string, unknown>) : null,
    version,
  };
}

/**
 * Queues a dataset's assets for processing again: every asset, or only those made by an older
 * version. An asset already queued stays queued once; what it shows stays until its new outcome
 * lands. Answers how many were queued.
 */
export async function reprocessDataset(
  tx: Db,
  orgId: string,
  datasetId: string,
  olderThan: number | undefined,
  t: number,
): Promise<number> {
  let selection = tx
    .selectFrom("assets")
    // Typed literals: PostgreSQL would take bare parameters in a select list for text.
    .select([
      "seq",
      "org_id",
      "dataset_id",
      "generation",
      sql<number>`cast(0 as integer)`.as("attempts"),
      sql<number>`cast(${t} as bigint)`.as("run_after"),
      sql<number>`cast(${t} as bigint)`.as("created_at"),
    ])
    .where("org_id", "=", orgId)
    .where("dataset_id", "=", datasetId);
  if (olderThan !== undefined) selection = selection.where("processed_version", "<", olderThan);
  const res = await tx
    .insertInto("processing_jobs")
    .columns(["asset_seq", "org_id", "dataset_id", "generation", "attempts", "run_after", "created_at"])
    .expression(selection)
    .onConflict((oc) => oc.column("asset_seq").doNothing())
    .executeTakeFirst();
  let mark = tx
    .updateTable("assets")
    .set({ upload_status: "processing" })
    .where("org_id", "=", orgId)
    .where("dataset_id", "=", datasetId)
    .where("upload_status", "!=", "processing");
  if (olderThan !== undefined) mark = mark.where("processed_version", "<", olderThan);
  await mark.execute();
  return num(res.numInsertedOrUpdatedRows ?? 0);
}

/** How the assets an upload session committed stand in processing (as they are now). */
export async function sessionProcessing(db: Db, sessionId: string): Promise<ProcessingCounts> {
  const rows = await db
    .selectFrom("ingestion_files as f")
    .innerJoin("assets as a", "a.asset_id", "f.asset_id")
    .select(["a.upload_status", "a.status", (eb) => eb.fn.countAll().as("n")])
    .where("f.session_id", "=", sessionId)
    .where("f.state", "=", "succeeded")
    .groupBy(["a.upload_status", "a.status"])
    .execute();
  const counts: ProcessingCounts = { processing: 0, completed: 0, errored: 0 };
  for (const r of rows) {
    if (r.upload_status === "processing") counts.processing += num(r.n);
    else if (r.status === "error") counts.errored += num(r.n);
    else counts.completed += num(r.n);
  }
  return counts;
}

/** Jobs waiting or running, for the health page and the benchmark. */
export async function processingBacklog(db: Db): Promise<number> {
  const row = await db
    .selectFrom("processing_jobs")
    .select((eb) => eb.fn.countAll().as("n"))
    .executeTakeFirstOrThrow();
  return num(row.n);
}

/** Removes the jobs of assets that are going (called where asset rows are deleted). */
export async function dropJobs(tx: Db, seqs: number[]): Promise<void> {
  if (seqs.length > 0) await tx.deleteFrom("processing_jobs").where("asset_seq", "in", seqs).execute();
}
