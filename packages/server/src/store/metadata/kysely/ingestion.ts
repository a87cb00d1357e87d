import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { sql, type Selectable } from "kysely";
import type { CustomMetadata, FileErrorCode } from "@vi/protocol";
import type { CommitResult, FileCommit } from "../metadata-store.js";
import type { IngestionFileRecord, IngestionSessionRecord } from "../records.js";
import type { Database } from "../schema.js";
import { fold } from "../migrations.js";
import { advisoryLocks, num, releaseBlob, retainBlob, writeFields, type Db } from "./common.js";
import { enqueueProcessing } from "./processing.js";

/** What new bytes start with: processing is ahead of them, and nothing it made for older bytes stays. */
const UNPROCESSED = {
  upload_status: "processing",
  status: "uploaded",
  status_reason: null,
  thumbnail_sha256: null,
  thumbnail_size: null,
  media: null,
  processed_version: 0,
} as const;

/** The ingestion aggregate: sessions, their files, and committing uploaded files as assets. */

export async function createSession(tx: Db, s: IngestionSessionRecord, files: IngestionFileRecord[]): Promise<void> {
  await tx
    .insertInto("ingestion_sessions")
    .values({
      session_id: s.sessionId,
      org_id: s.orgId,
      dataset_id: s.datasetId,
      failure_mode: s.failureMode,
      on_overwrite: s.onOverwrite,
      state: s.state,
      failure_reason: s.failureReason,
      total: s.total,
      succeeded: s.succeeded,
      errored: s.errored,
      created_at: s.createdAt,
      updated_at: s.updatedAt,
      expires_at: s.expiresAt,
      generation: s.generation,
    })
    .execute();
  // Chunks keep each statement under SQLite's bound-parameter limit, and the event loop is let
  // go between them so that a 10,000-file manifest does not hold up other requests.
  for (let i = 0; i < files.length; i += 500) {
    if (i > 0) await yieldToEventLoop();
    await tx
      .insertInto("ingestion_files")
      .values(
        files.slice(i, i + 500).map((f) => ({
          session_id: f.sessionId,
          file_index: f.fileIndex,
          filename: f.filename,
          mime: f.mime,
          size: f.size,
          crc32c: f.crc32c,
          sha256: f.sha256,
          custom_metadata: f.customMetadata ? JSON.stringify(f.customMetadata) : null,
          state: f.state,
          error_code: f.errorCode,
          error_message: f.errorMessage,
          asset_id: f.assetId,
          deduplicated: f.deduplicated ? 1 : 0,
          updated_at: f.updatedAt,
        })),
      )
      .execute();
  }
}

export async function getSession(
  db: Db,
  orgId: string,
  sessionId: string,
): Promise<IngestionSessionRecord | undefined> {
  const row = await db
    .selectFrom("ingestion_sessions")
    .selectAll()
    .where("session_id", "=", sessionId)
    .where("org_id", "=", orgId)
    .executeTakeFirst();
  return row && toSession(row);
}

export async function getSessionById(db: Db, sessionId: string): Promise<IngestionSessionRecord | undefined> {
  const row = await db
    .selectFrom("ingestion_sessions")
    .selectAll()
    .where("session_id", "=", sessionId)
    .executeTakeFirst();
  return row && toSession(row);
}

export async function listSessionFiles(
  db: Db,
  sessionId: string,
  states?: IngestionFileRecord["state"][],
): Promise<IngestionFileRecord[]> {
  let q = db.selectFrom("ingestion_files").selectAll().where("session_id", "=", sessionId);
  if (states) q = q.where("state", "in", states);
  const rows = await q.orderBy("file_index").execute();
  return rows.map(toFile);
}

export async function getSessionFile(
  db: Db,
  sessionId: string,
  fileIndex: number,
): Promise<IngestionFileRecord | undefined> {
  const row = await db
    .selectFrom("ingestion_files")
    .selectAll()
    .where("session_id", "=", sessionId)
    .where("file_index", "=", fileIndex)
    .executeTakeFirst();
  return row && toFile(row);
}

/** What one commitFiles call keeps across its files, so that per-file statements become per-call ones. */
interface CommitBatch {
  /** Assets by `org/dataset/filename`, read for the whole call at once; undefined: none. */
  previous: Map<string, Selectable<Database["assets"]> | undefined>;
  /** New assets per `org\u0000dataset`, added to the dataset counters once at the end. */
  added: Map<string, number>;
}

const assetKey = (orgId: string, datasetId: string, filename: string) => `${orgId}\u0000${datasetId}\u0000${filename}`;

export async function commitFiles(
  tx: Db,
  dialect: "sqlite" | "postgres",
  entries: FileCommit[],
): Promise<(CommitResult | undefined)[]> {
  const sessions = new Map<string, Selectable<Database["ingestion_sessions"]> | undefined>();
  const succeeded = new Map<string, number>();
  const results: (CommitResult | undefined)[] = [];
  for (const sessionId of new Set(entries.map((e) => e.sessionId))) {
    sessions.set(
      sessionId,
      await tx.selectFrom("ingestion_sessions").selectAll().where("session_id", "=", sessionId).executeTakeFirst(),
    );
  }
  if (dialect === "postgres") {
    // Replicas commit the same filename at once: each waits for the other's commit and then
    // reads its asset (READ COMMITTED reads what committed before each statement), so the
    // second replaces the first's asset instead of inserting a second one. (SQLite has one
    // writer at a time.) Sessions that went are skipped below anyway.
    const keys: string[] = [];
    for (const e of entries) {
      const s = sessions.get(e.sessionId);
      if (s) keys.push(`filename:${JSON.stringify([s.org_id, s.dataset_id, e.asset.filename])}`);
    }
    await advisoryLocks(tx, keys);
  }
  const batch: CommitBatch = { previous: await previousAssets(tx, entries, sessions), added: new Map() };
  for (const entry of entries) {
    if (!sessions.has(entry.sessionId)) {
      sessions.set(
        entry.sessionId,
        await tx
          .selectFrom("ingestion_sessions")
          .selectAll()
          .where("session_id", "=", entry.sessionId)
          .executeTakeFirst(),
      );
    }
    const session = sessions.get(entry.sessionId);
    const result = session?.state === "Running" ? await commitOne(tx, session, entry, batch) : undefined;
    if (result) succeeded.set(entry.sessionId, (succeeded.get(entry.sessionId) ?? 0) + 1);
    results.push(result);
  }
  for (const [key, n] of batch.added) {
    const [orgId, datasetId] = key.split("\u0000") as [string, string];
    await tx
      .updateTable("datasets")
      .set((eb) => ({ asset_count: eb("asset_count", "+", n) }))
      .where("org_id", "=", orgId)
      .where("dataset_id", "=", datasetId)
      .execute();
  }
  const t = Date.now();
  for (const [sessionId, done] of succeeded) {
    await tx
      .updateTable("ingestion_sessions")
      .set((eb) => ({ succeeded: eb("succeeded", "+", done), updated_at: t, generation: eb("generation", "+", 1) }))
      .where("session_id", "=", sessionId)
      .execute();
    await settleSession(tx, sessionId, t);
  }
  return results;
}

/** The current asset of every filename the entries commit, in one query per dataset and 500 names. */
async function previousAssets(
  tx: Db,
  entries: FileCommit[],
  sessions: Map<string, Selectable<Database["ingestion_sessions"]> | undefined>,
): Promise<CommitBatch["previous"]> {
  const names = new Map<string, { orgId: string; datasetId: string; filenames: Set<string> }>();
  for (const e of entries) {
    const s = sessions.get(e.sessionId);
    if (!s) continue;
    const key = `${s.org_id}\u0000${s.dataset_id}`;
    const group = names.get(key) ?? { orgId: s.org_id, datasetId: s.dataset_id, filenames: new Set<string>() };
    group.filenames.add(e.asset.filename);
    names.set(key, group);
  }
  const previous: CommitBatch["previous"] = new Map();
  for (const { orgId, datasetId, filenames } of names.values()) {
    const all = [...filenames];
    for (const name of all) previous.set(assetKey(orgId, datasetId, name), undefined);
    for (let i = 0; i < all.length; i += 500) {
      const rows = await tx
        .selectFrom("assets")
        .selectAll()
        .where("org_id", "=", orgId)
        .where("dataset_id", "=", datasetId)
        .where("filename", "in", all.slice(i, i + 500))
        .execute();
      for (const row of rows) previous.set(assetKey(orgId, datasetId, row.filename), row);
    }
  }
  return previous;
}

async function commitOne(
  tx: Db,
  session: Selectable<Database["ingestion_sessions"]>,
  { fileIndex, asset: v, newAssetId, deduplicated }: FileCommit,
  batch: CommitBatch,
): Promise<CommitResult | undefined> {
  const t = Date.now();
  const orphanedBlobs: string[] = [];
  const key = assetKey(session.org_id, session.dataset_id, v.filename);
  // Read for the whole call; a filename committed twice in one call is read again after the first.
  const previous = batch.previous.has(key)
    ? batch.previous.get(key)
    : await tx
        .selectFrom("assets")
        .selectAll()
        .where("org_id", "=", session.org_id)
        .where("dataset_id", "=", session.dataset_id)
        .where("filename", "=", v.filename)
        .executeTakeFirst();
  // Claiming the file first makes a second commit of it (a retried PUT) a no-op.
  const claimed = await tx
    .updateTable("ingestion_files")
    .set({
      state: "succeeded",
      asset_id: previous?.asset_id ?? newAssetId,
      updated_at: t,
      deduplicated: deduplicated ? 1 : 0,
    })
    .where("session_id", "=", session.session_id)
    .where("file_index", "=", fileIndex)
    .where("state", "=", "pending")
    .executeTakeFirst();
  if (num(claimed.numUpdatedRows) === 0) return undefined;
  // This commit changes the filename's asset: a later entry for it in this call reads it again.
  batch.previous.delete(key);
  const customMetadata = v.customMetadata ? JSON.stringify(v.customMetadata) : undefined;
  let assetId = newAssetId;
  if (previous && previous.sha256 === v.sha256) {
    // The same bytes again (a re-run of an upload): nothing changes, annotations stay.
    assetId = previous.asset_id;
    if (customMetadata !== undefined && customMetadata !== previous.custom_metadata) {
      await tx
        .updateTable("assets")
        .set({ custom_metadata: customMetadata, updated_at: t })
        .where("seq", "=", previous.seq)
        .execute();
      await writeFields(tx, num(previous.seq), session.org_id, session.dataset_id, v.customMetadata!, true);
    }
  } else {
    await retainBlob(tx, v.sha256, v.fileSize, t);
    const facts = {
      sha256: v.sha256,
      file_size: v.fileSize,
      mime_type: v.mimeType,
      width: v.width,
      height: v.height,
      raw_width: v.rawWidth,
      raw_height: v.rawHeight,
      orientation: v.orientation,
      frames: v.frames,
      updated_at: t,
      contents_updated_at: t,
    };
    if (previous) {
      // Replace in place: the asset keeps its id and its place in the default order, and the
      // new bytes become visible in the same commit that retires the old ones.
      assetId = previous.asset_id;
      await tx
        .updateTable("assets")
        .set({
          ...facts,
          ...UNPROCESSED,
          custom_metadata: customMetadata ?? previous.custom_metadata,
          generation: previous.generation + 1,
          ...(session.on_overwrite === "RemoveLinkedResource" ? { annotation_count: 0 } : {}),
        })
        .where("seq", "=", previous.seq)
        .execute();
      // The old thumbnail showed the old bytes: it goes with them.
      if (previous.thumbnail_sha256 && (await releaseBlob(tx, previous.thumbnail_sha256, 1)))
        orphanedBlobs.push(previous.thumbnail_sha256);
      const job = { seq: num(previous.seq), orgId: session.org_id, datasetId: session.dataset_id };
      await enqueueProcessing(tx, { ...job, generation: previous.generation + 1 }, t);
      if (session.on_overwrite === "RemoveLinkedResource") {
        await tx.deleteFrom("annotations").where("asset_id", "=", previous.asset_id).execute();
      }
      if (v.customMetadata) {
        await writeFields(tx, num(previous.seq), session.org_id, session.dataset_id, v.customMetadata, true);
      }
      if (await releaseBlob(tx, previous.sha256, 1)) orphanedBlobs.push(previous.sha256);
    } else {
      const inserted = await tx
        .insertInto("assets")
        .values({
          ...facts,
          asset_id: newAssetId,
          org_id: session.org_id,
          dataset_id: session.dataset_id,
          filename: v.filename,
          filename_folded: fold(v.filename),
          custom_metadata: customMetadata ?? "{}",
          created_at: t,
          generation: 1,
          upload_status: "processing",
        })
        .returning("seq")
        .executeTakeFirstOrThrow();
      const job = { seq: num(inserted.seq), orgId: session.org_id, datasetId: session.dataset_id, generation: 1 };
      await enqueueProcessing(tx, job, t);
      if (v.customMetadata) {
        await writeFields(tx, num(inserted.seq), session.org_id, session.dataset_id, v.customMetadata, false);
      }
      const counter = `${session.org_id}\u0000${session.dataset_id}`;
      batch.added.set(counter, (batch.added.get(counter) ?? 0) + 1);
    }
  }
  return { assetId, replaced: previous !== undefined, orphanedBlobs };
}

export async function failFile(
  tx: Db,
  sessionId: string,
  fileIndex: number,
  code: FileErrorCode,
  message: string,
  failSession: boolean,
): Promise<boolean> {
  const t = Date.now();
  const res = await tx
    .updateTable("ingestion_files")
    .set({ state: "failed", error_code: code, error_message: message, updated_at: t })
    .where("session_id", "=", sessionId)
    .where("file_index", "=", fileIndex)
    .where("state", "=", "pending")
    .executeTakeFirst();
  if (num(res.numUpdatedRows) === 0) return false;
  await bumpSession(tx, sessionId, "errored", t);
  if (failSession) {
    await tx
      .updateTable("ingestion_sessions")
      .set({ state: "Failed", failure_reason: message, updated_at: t })
      .where("session_id", "=", sessionId)
      .where("state", "=", "Running")
      .execute();
  }
  return true;
}

export async function failPendingFiles(
  tx: Db,
  sessionId: string,
  code: FileErrorCode,
  message: string,
): Promise<number> {
  const t = Date.now();
  const res = await tx
    .updateTable("ingestion_files")
    .set({ state: "failed", error_code: code, error_message: message, updated_at: t })
    .where("session_id", "=", sessionId)
    .where("state", "=", "pending")
    .executeTakeFirst();
  const n = num(res.numUpdatedRows);
  if (n > 0) {
    await tx
      .updateTable("ingestion_sessions")
      .set((eb) => ({ errored: eb("errored", "+", n), updated_at: t, generation: eb("generation", "+", 1) }))
      .where("session_id", "=", sessionId)
      .execute();
  }
  await settleSession(tx, sessionId, t);
  return n;
}

async function bumpSession(tx: Db, sessionId: string, counter: "succeeded" | "errored", t: number): Promise<void> {
  await tx
    .updateTable("ingestion_sessions")
    .set((eb) => ({ [counter]: eb(counter, "+", 1), updated_at: t, generation: eb("generation", "+", 1) }))
    .where("session_id", "=", sessionId)
    .execute();
  await settleSession(tx, sessionId, t);
}

/** A running session whose every file is settled is Finished. */
async function settleSession(tx: Db, sessionId: string, t: number): Promise<void> {
  await tx
    .updateTable("ingestion_sessions")
    .set({ state: "Finished", updated_at: t })
    .where("session_id", "=", sessionId)
    .where("state", "=", "Running")
    .where(sql<boolean>`succeeded + errored >= total`)
    .execute();
}

export function toSession(r: Selectable<Database["ingestion_sessions"]>): IngestionSessionRecord {
  return {
    sessionId: r.session_id,
    orgId: r.org_id,
    datasetId: r.dataset_id,
    failureMode: r.failure_mode as IngestionSessionRecord["failureMode"],
    onOverwrite: r.on_overwrite as IngestionSessionRecord["onOverwrite"],
    state: r.state as IngestionSessionRecord["state"],
    failureReason: r.failure_reason,
    total: r.total,
    succeeded: r.succeeded,
    errored: r.errored,
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
    expiresAt: num(r.expires_at),
    generation: r.generation,
  };
}

function toFile(r: Selectable<Database["ingestion_files"]>): IngestionFileRecord {
  return {
    sessionId: r.session_id,
    fileIndex: r.file_index,
    filename: r.filename,
    mime: r.mime,
    size: num(r.size),
    crc32c: r.crc32c,
    sha256: r.sha256,
    customMetadata: r.custom_metadata ? (JSON.parse(r.custom_metadata) as CustomMetadata) : null,
    state: r.state as IngestionFileRecord["state"],
    errorCode: r.error_code as FileErrorCode | null,
    errorMessage: r.error_message,
    assetId: r.asset_id,
    deduplicated: r.deduplicated === 1,
    updatedAt: num(r.updated_at),
  };
}

/**
 * Deletes up to `limit` upload sessions (with their files) that settled before `before`, or
 * whose URLs expired before it; answers how many went.
 */
export async function purgeIngestionSessions(tx: Db, before: number, limit: number): Promise<number> {
  const old = await tx
    .selectFrom("ingestion_sessions")
    .select("session_id")
    .where((eb) =>
      eb.or([eb.and([eb("state", "!=", "Running"), eb("updated_at", "<", before)]), eb("expires_at", "<", before)]),
    )
    .limit(limit)
    .execute();
  const ids = old.map((r) => r.session_id);
  if (ids.length === 0) return 0;
  await tx.deleteFrom("ingestion_files").where("session_id", "in", ids).execute();
  await tx.deleteFrom("ingestion_sessions").where("session_id", "in", ids).execute();
  return ids.length;
}
