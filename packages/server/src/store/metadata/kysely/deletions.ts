import type { Selectable } from "kysely";
import { selectAssets } from "./assets.js";
import type { SelectionPlanner } from "./planner.js";
import type { AssetSelection, DeletionBatch } from "../metadata-store.js";
import type { DeletionSessionRecord } from "../records.js";
import type { Database } from "../schema.js";
import { deleteAssetRows, num, type Db } from "./common.js";

/**
 * The bulk-delete aggregate. Opening a session snapshots its selection into deletion_targets in
 * the same transaction, so what goes is what matched when it was asked, however long deleting
 * takes; batches then delete whole assets, one transaction each, and a restart resumes where
 * the last committed batch stopped.
 */

export async function createDeletionSession(
  tx: Db,
  dialect: "sqlite" | "postgres",
  planner: SelectionPlanner,
  s: Omit<DeletionSessionRecord, "selected" | "deleted" | "state">,
  selection: AssetSelection,
): Promise<DeletionSessionRecord> {
  const matching = await selectAssets(tx, dialect, planner, s.orgId, s.datasetId, selection, undefined);
  let selected: number;
  if (s.dryRun) {
    selected = num((await matching.select((eb) => eb.fn.countAll().as("n")).executeTakeFirstOrThrow()).n);
  } else {
    const res = await tx
      .insertInto("deletion_targets")
      .columns(["session_id", "asset_seq"])
      .expression(matching.select((eb) => [eb.val(s.sessionId).as("session_id"), "seq"]))
      .executeTakeFirst();
    selected = num(res.numInsertedOrUpdatedRows ?? 0);
  }
  const state = s.dryRun || selected === 0 ? "Finished" : "Running";
  await tx
    .insertInto("deletion_sessions")
    .values({
      session_id: s.sessionId,
      org_id: s.orgId,
      dataset_id: s.datasetId,
      spec: JSON.stringify(s.spec),
      dry_run: s.dryRun ? 1 : 0,
      state,
      failure_reason: s.failureReason,
      selected,
      deleted: 0,
      created_at: s.createdAt,
      updated_at: s.updatedAt,
      generation: s.generation,
    })
    .execute();
  return { ...s, state, selected, deleted: 0 };
}

export async function getDeletionSession(
  db: Db,
  orgId: string,
  datasetId: string,
  sessionId: string,
): Promise<DeletionSessionRecord | undefined> {
  const row = await db
    .selectFrom("deletion_sessions")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("dataset_id", "=", datasetId)
    .where("session_id", "=", sessionId)
    .executeTakeFirst();
  return row && toDeletionSession(row);
}

export async function runningDeletionSessions(db: Db): Promise<DeletionSessionRecord[]> {
  const rows = await db
    .selectFrom("deletion_sessions")
    .selectAll()
    .where("state", "=", "Running")
    .orderBy("created_at")
    .execute();
  return rows.map(toDeletionSession);
}

/** Deletes up to `limit` of the session's remaining targets; the session is Finished when none remain. */
export async function deleteNextBatch(
  tx: Db,
  dialect: "sqlite" | "postgres",
  sessionId: string,
  limit: number,
): Promise<DeletionBatch> {
  let read = tx.selectFrom("deletion_sessions").selectAll().where("session_id", "=", sessionId);
  // Two replicas resuming the same session take its batches in turn, never the same targets.
  if (dialect === "postgres") read = read.forUpdate();
  const session = await read.executeTakeFirst();
  if (!session || session.state !== "Running") return { deleted: 0, orphanedBlobs: [], finished: true };
  const targets = await tx
    .selectFrom("deletion_targets as t")
    .leftJoin("assets as a", "a.seq", "t.asset_seq")
    .select(["t.asset_seq", "a.asset_id", "a.sha256", "a.thumbnail_sha256", "a.org_id", "a.dataset_id"])
    .where("t.session_id", "=", sessionId)
    .orderBy("t.asset_seq")
    .limit(limit)
    .execute();
  // An asset deleted by other means in the meantime is simply not there any more.
  const rows = targets
    .filter((r) => r.asset_id !== null && r.org_id === session.org_id && r.dataset_id === session.dataset_id)
    .map((r) => ({
      seq: num(r.asset_seq),
      asset_id: r.asset_id!,
      sha256: r.sha256!,
      thumbnail_sha256: r.thumbnail_sha256 ?? null,
    }));
  const orphanedBlobs = await deleteAssetRows(tx, session.org_id, session.dataset_id, rows);
  if (targets.length > 0) {
    await tx
      .deleteFrom("deletion_targets")
      .where("session_id", "=", sessionId)
      .where(
        "asset_seq",
        "in",
        targets.map((r) => num(r.asset_seq)),
      )
      .execute();
  }
  const finished = targets.length < limit;
  const t = Date.now();
  await tx
    .updateTable("deletion_sessions")
    .set((eb) => ({
      deleted: eb("deleted", "+", rows.length),
      updated_at: t,
      generation: eb("generation", "+", 1),
      ...(finished ? { state: "Finished" } : {}),
    }))
    .where("session_id", "=", sessionId)
    .execute();
  return { deleted: rows.length, orphanedBlobs, finished };
}

function toDeletionSession(r: Selectable<Database["deletion_sessions"]>): DeletionSessionRecord {
  return {
    sessionId: r.session_id,
    orgId: r.org_id,
    datasetId: r.dataset_id,
    spec: JSON.parse(r.spec) as Record<string, unknown>,
    dryRun: r.dry_run === 1,
    state: r.state as DeletionSessionRecord["state"],
    failureReason: r.failure_reason,
    selected: num(r.selected),
    deleted: num(r.deleted),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
    generation: num(r.generation),
  };
}

/** Deletes up to `limit` bulk-delete sessions that settled before `before`; answers how many went. */
export async function purgeDeletionSessions(tx: Db, before: number, limit: number): Promise<number> {
  const old = await tx
    .selectFrom("deletion_sessions")
    .select("session_id")
    .where("state", "!=", "Running")
    .where("updated_at", "<", before)
    .limit(limit)
    .execute();
  const ids = old.map((r) => r.session_id);
  if (ids.length === 0) return 0;
  await tx.deleteFrom("deletion_targets").where("session_id", "in", ids).execute();
  await tx.deleteFrom("deletion_sessions").where("session_id", "in", ids).execute();
  return ids.length;
}
