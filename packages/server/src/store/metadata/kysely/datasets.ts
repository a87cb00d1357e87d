import type { Selectable } from "kysely";
import type { DeleteResult } from "../metadata-store.js";
import type { DatasetRecord, DatasetStats } from "../records.js";
import type { Database } from "../schema.js";
import { lockedOn, num, releaseBlob, type Db } from "./common.js";

/** The dataset aggregate: a dataset owns its assets, annotations, tags and sessions. */

export async function createDataset(db: Db, d: DatasetRecord): Promise<boolean> {
  const res = await db
    .insertInto("datasets")
    .values({
      org_id: d.orgId,
      dataset_id: d.datasetId,
      name: d.name,
      description: d.description,
      type: d.type,
      content: d.content,
      created_at: d.createdAt,
      last_accessed: d.lastAccessed,
    })
    .onConflict((oc) => oc.columns(["org_id", "dataset_id"]).doNothing())
    .executeTakeFirst();
  return num(res.numInsertedOrUpdatedRows ?? 0) === 1;
}

export async function getDataset(db: Db, orgId: string, datasetId: string): Promise<DatasetRecord | undefined> {
  const row = await db
    .selectFrom("datasets")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("dataset_id", "=", datasetId)
    .executeTakeFirst();
  return row && toDataset(row);
}

export async function listDatasets(db: Db, orgId: string): Promise<DatasetRecord[]> {
  const rows = await db
    .selectFrom("datasets")
    .selectAll()
    .where("org_id", "=", orgId)
    .orderBy("created_at")
    .orderBy("dataset_id")
    .execute();
  return rows.map(toDataset);
}

/** Asset totals come from the datasets' counters; annotation figures are grouped from their index. */
export async function datasetStats(db: Db, orgId: string, datasetIds: string[]): Promise<Map<string, DatasetStats>> {
  const stats = new Map<string, DatasetStats>();
  if (datasetIds.length === 0) return stats;
  const fresh = (): DatasetStats => ({
    assetTotal: 0,
    annotationTotal: 0,
    assetAnnotated: 0,
    tagsCount: {},
    tagIds: {},
  });
  for (const id of datasetIds) stats.set(id, fresh());
  const totals = await db
    .selectFrom("datasets")
    .select(["dataset_id", "asset_count"])
    .where("org_id", "=", orgId)
    .where("dataset_id", "in", datasetIds)
    .execute();
  for (const r of totals) stats.get(r.dataset_id)!.assetTotal = num(r.asset_count);
  const tags = await db
    .selectFrom("dataset_tags")
    .select(["dataset_id", "name", "tag_id"])
    .where("org_id", "=", orgId)
    .where("dataset_id", "in", datasetIds)
    .execute();
  for (const r of tags) stats.get(r.dataset_id)!.tagIds[r.name] = num(r.tag_id);
  const tagCounts = await db
    .selectFrom("annotations")
    .select(["dataset_id", "tag", (eb) => eb.fn.countAll().as("n")])
    .where("org_id", "=", orgId)
    .where("dataset_id", "in", datasetIds)
    .groupBy(["dataset_id", "tag"])
    .execute();
  for (const r of tagCounts) {
    const s = stats.get(r.dataset_id)!;
    s.tagsCount[r.tag] = num(r.n);
    s.annotationTotal += num(r.n);
  }
  const annotated = await db
    .selectFrom("assets")
    .select(["dataset_id", (eb) => eb.fn.countAll().as("n")])
    .where("org_id", "=", orgId)
    .where("dataset_id", "in", datasetIds)
    .where("annotation_count", ">", 0)
    .groupBy("dataset_id")
    .execute();
  for (const r of annotated) stats.get(r.dataset_id)!.assetAnnotated = num(r.n);
  return stats;
}

export async function deleteDataset(
  tx: Db,
  dialect: "sqlite" | "postgres",
  orgId: string,
  datasetId: string,
): Promise<DeleteResult | undefined> {
  // On PostgreSQL the dataset row, then its assets, are locked first: commits adding assets to it
  // (they hold its row through the foreign key and the counter) and processing outcomes giving
  // them thumbnails finish before the references below are counted, and wait after.
  const exists = await lockedOn(
    dialect,
    tx.selectFrom("datasets").select("dataset_id").where("org_id", "=", orgId).where("dataset_id", "=", datasetId),
  ).executeTakeFirst();
  if (!exists) return undefined;
  if (dialect === "postgres") {
    await tx
      .selectFrom("assets")
      .select("seq")
      .where("org_id", "=", orgId)
      .where("dataset_id", "=", datasetId)
      .forUpdate()
      .execute();
  }
  const shas = await tx
    .selectFrom("assets")
    .select(["sha256", (eb) => eb.fn.countAll().as("n")])
    .where("org_id", "=", orgId)
    .where("dataset_id", "=", datasetId)
    .groupBy("sha256")
    .execute();
  const thumbnails = await tx
    .selectFrom("assets")
    .select(["thumbnail_sha256", (eb) => eb.fn.countAll().as("n")])
    .where("org_id", "=", orgId)
    .where("dataset_id", "=", datasetId)
    .where("thumbnail_sha256", "is not", null)
    .groupBy("thumbnail_sha256")
    .execute();
  const orphanedBlobs: string[] = [];
  for (const { sha256, n } of [...shas, ...thumbnails.map((r) => ({ sha256: r.thumbnail_sha256!, n: r.n }))]) {
    if (await releaseBlob(tx, sha256, num(n))) orphanedBlobs.push(sha256);
  }
  await tx.deleteFrom("processing_jobs").where("org_id", "=", orgId).where("dataset_id", "=", datasetId).execute();
  await tx.deleteFrom("annotations").where("org_id", "=", orgId).where("dataset_id", "=", datasetId).execute();
  await tx.deleteFrom("asset_fields").where("org_id", "=", orgId).where("dataset_id", "=", datasetId).execute();
  await tx.deleteFrom("dataset_tags").where("org_id", "=", orgId).where("dataset_id", "=", datasetId).execute();
  const del = await tx
    .deleteFrom("assets")
    .where("org_id", "=", orgId)
    .where("dataset_id", "=", datasetId)
    .executeTakeFirst();
  const sessions = tx
    .selectFrom("ingestion_sessions")
    .select("session_id")
    .where("org_id", "=", orgId)
    .where("dataset_id", "=", datasetId);
  await tx.deleteFrom("ingestion_files").where("session_id", "in", sessions).execute();
  await tx.deleteFrom("ingestion_sessions").where("org_id", "=", orgId).where("dataset_id", "=", datasetId).execute();
  const deletions = tx
    .selectFrom("deletion_sessions")
    .select("session_id")
    .where("org_id", "=", orgId)
    .where("dataset_id", "=", datasetId);
  await tx.deleteFrom("deletion_targets").where("session_id", "in", deletions).execute();
  await tx.deleteFrom("deletion_sessions").where("org_id", "=", orgId).where("dataset_id", "=", datasetId).execute();
  await tx.deleteFrom("datasets").where("org_id", "=", orgId).where("dataset_id", "=", datasetId).execute();
  return { deletedAssets: num(del.numDeletedRows), orphanedBlobs };
}

function toDataset(r: Selectable<Database["datasets"]>): DatasetRecord {
  return {
    orgId: r.org_id,
    datasetId: r.dataset_id,
    name: r.name,
    description: r.description,
    type: r.type,
    content: r.content,
    createdAt: num(r.created_at),
    lastAccessed: num(r.last_accessed),
  };
}
