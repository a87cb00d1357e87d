import { sql, type Kysely, type Selectable, type Transaction } from "kysely";
import type { CustomMetadata } from "@vi/protocol";
import type { Database } from "../schema.js";
import { fieldRows } from "../migrations.js";
import type { AssetRecord } from "../records.js";

/** Helpers shared by the aggregates of the Kysely store. */

export type Db = Kysely<Database> | Transaction<Database>;
export type AssetRow = Selectable<Database["assets"]>;

/** pg answers 64-bit integers as strings; SQLite answers numbers. Both become numbers here. */
export const num = (v: unknown): number => (typeof v === "number" ? v : Number(v));

/**
 * PostgreSQL: takes transaction-scoped advisory locks on `keys` (released at commit or
 * rollback), in sorted order so that two transactions taking overlapping sets never deadlock.
 * The key's 64-bit hash names the lock; a collision only makes two unrelated keys wait for each
 * other.
 */
export async function advisoryLocks(tx: Db, keys: Iterable<string>): Promise<void> {
  const sorted = [...new Set(keys)].sort();
  if (sorted.length === 0) return;
  await sql`select count(pg_advisory_xact_lock(hashtextextended(k, 0))) from (select unnest(cast(${sorted} as text[])) as k order by 1) s`.execute(
    tx,
  );
}

/** PostgreSQL: takes a transaction-scoped advisory lock if no one holds it; answers whether it did. */
export async function tryAdvisoryLock(tx: Db, key: string): Promise<boolean> {
  const { rows } = await sql<{
    ok: boolean;
  }>`select pg_try_advisory_xact_lock(hashtextextended(${key}, 0)) as ok`.execute(tx);
  return rows[0]?.ok === true;
}

/** A PostgreSQL error after which the whole transaction may simply run again (deadlock, serialization). */
export function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === "40P01" || code === "40001";
}

export function* chunks<T>(items: T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

/** A dataset's asset counter (kept in the transactions that add and remove its assets); 0 when it is gone. */
export async function datasetAssetCount(db: Db, orgId: string, datasetId: string): Promise<number> {
  const row = await db
    .selectFrom("datasets")
    .select("asset_count")
    .where("org_id", "=", orgId)
    .where("dataset_id", "=", datasetId)
    .executeTakeFirst();
  return row ? num(row.asset_count) : 0;
}

export async function retainBlob(tx: Db, sha256: string, size: number, t: number): Promise<void> {
  await tx
    .insertInto("blobs")
    .values({ sha256, size, ref_count: 1, created_at: t })
    .onConflict((oc) => oc.column("sha256").doUpdateSet((eb) => ({ ref_count: eb("blobs.ref_count", "+", 1) })))
    .execute();
}

/** Drops `n` references; answers true when none is left (the row is gone, the bytes may go). */
export async function releaseBlob(tx: Db, sha256: string, n: number): Promise<boolean> {
  await tx
    .updateTable("blobs")
    .set((eb) => ({ ref_count: eb("ref_count", "-", n) }))
    .where("sha256", "=", sha256)
    .execute();
  const res = await tx.deleteFrom("blobs").where("sha256", "=", sha256).where("ref_count", "<=", 0).executeTakeFirst();
  return num(res.numDeletedRows) > 0;
}

/**
 * Makes an asset's typed field rows (what queries on custom metadata read) match its custom
 * metadata. Called in the same transaction as every write of `custom_metadata`.
 */
export async function writeFields(
  tx: Db,
  seq: number,
  orgId: string,
  datasetId: string,
  custom: CustomMetadata,
  replacing: boolean,
): Promise<void> {
  if (replacing) await tx.deleteFrom("asset_fields").where("asset_seq", "=", seq).execute();
  const rows = fieldRows(seq, orgId, datasetId, custom);
  if (rows.length > 0) await tx.insertInto("asset_fields").values(rows).execute();
}

/** Deletes assets with their annotations and field rows; answers the blobs no asset references any more. */
export async function deleteAssetRows(
  tx: Db,
  orgId: string,
  datasetId: string,
  rows: { seq: number; asset_id: string; sha256: string; thumbnail_sha256: string | null }[],
): Promise<string[]> {
  if (rows.length === 0) return [];
  const orphaned: string[] = [];
  for (const part of chunks(rows, 500)) {
    const ids = part.map((r) => r.asset_id);
    const seqs = part.map((r) => r.seq);
    await tx.deleteFrom("annotations").where("asset_id", "in", ids).execute();
    await tx.deleteFrom("asset_fields").where("asset_seq", "in", seqs).execute();
    await tx.deleteFrom("assets").where("seq", "in", seqs).execute();
    await tx.deleteFrom("processing_jobs").where("asset_seq", "in", seqs).execute();
  }
  // An asset holds its bytes and its thumbnail's.
  const perBlob = new Map<string, number>();
  for (const sha of rows.flatMap((r) => (r.thumbnail_sha256 ? [r.sha256, r.thumbnail_sha256] : [r.sha256])))
    perBlob.set(sha, (perBlob.get(sha) ?? 0) + 1);
  for (const [sha256, n] of perBlob) if (await releaseBlob(tx, sha256, n)) orphaned.push(sha256);
  await tx
    .updateTable("datasets")
    .set((eb) => ({ asset_count: eb("asset_count", "-", rows.length) }))
    .where("org_id", "=", orgId)
    .where("dataset_id", "=", datasetId)
    .execute();
  return orphaned;
}

/** Asset rows to records, with one query for the annotation counts per tag of the whole page. */
export async function toAssetRecords(db: Db, rows: AssetRow[]): Promise<AssetRecord[]> {
  const counts = new Map<string, Record<string, number>>();
  const annotated = rows.filter((r) => num(r.annotation_count) > 0).map((r) => r.asset_id);
  for (const part of chunks(annotated, 500)) {
    const tagRows = await db
      .selectFrom("annotations")
      .select(["asset_id", "tag", (eb) => eb.fn.countAll().as("n")])
      .where("asset_id", "in", part)
      .groupBy(["asset_id", "tag"])
      .execute();
    for (const r of tagRows) {
      const m = counts.get(r.asset_id) ?? {};
      m[r.tag] = num(r.n);
      counts.set(r.asset_id, m);
    }
  }
  return rows.map((r) => ({
    seq: num(r.seq),
    assetId: r.asset_id,
    orgId: r.org_id,
    datasetId: r.dataset_id,
    filename: r.filename,
    sha256: r.sha256,
    fileSize: num(r.file_size),
    mimeType: r.mime_type,
    width: r.width,
    height: r.height,
    rawWidth: r.raw_width,
    rawHeight: r.raw_height,
    orientation: r.orientation,
    frames: r.frames,
    customMetadata: JSON.parse(r.custom_metadata) as CustomMetadata,
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
    contentsUpdatedAt: num(r.contents_updated_at),
    generation: r.generation,
    status: r.status,
    uploadStatus: r.upload_status === "processing" ? "processing" : "completed",
    statusReason: r.status_reason,
    thumbnail:
      r.thumbnail_sha256 !== null
        ? { sha256: r.thumbnail_sha256, size: num(r.thumbnail_size), generation: r.thumbnail_generation }
        : null,
    media: r.media ? (JSON.parse(r.media) as Record<string, unknown>) : null,
    annotationTotal: num(r.annotation_count),
    annotationTags: counts.get(r.asset_id) ?? {},
  }));
}
