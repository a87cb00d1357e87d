import type { CustomMetadata } from "@vi/protocol";
import { compileWhere } from "../../../query/index.js";
import type {
  AssetListQuery,
  AssetSelection,
  AssetSortKey,
  CustomMetadataUpdate,
  DeleteResult,
} from "../metadata-store.js";
import type { AssetRecord, ImageFacts } from "../records.js";
import type { Database } from "../schema.js";
import type { SelectionPlanner } from "./planner.js";
import {
  chunks,
  datasetAssetCount,
  deleteAssetRows,
  lockedOn,
  num,
  toAssetRecords,
  writeFields,
  type AssetRow,
  type Db,
} from "./common.js";

/** The asset aggregate: listing, counting, reading, updating custom metadata and deleting. */

const SORT_COLUMN: Record<AssetSortKey, keyof AssetRow & keyof Database["assets"]> = {
  seq: "seq",
  assetId: "asset_id",
  filename: "filename",
  contentsUpdatedAt: "contents_updated_at",
  fileSize: "file_size",
  width: "width",
  height: "height",
  createdAt: "created_at",
};

/**
 * The dataset's assets the selection holds, reached as the planner chooses for a page of
 * `limit` rows (undefined: all of them).
 */
export async function selectAssets(
  db: Db,
  dialect: "sqlite" | "postgres",
  planner: SelectionPlanner,
  orgId: string,
  datasetId: string,
  selection: AssetSelection | undefined,
  limit: number | undefined,
) {
  const query = db.selectFrom("assets").where("org_id", "=", orgId).where("dataset_id", "=", datasetId);
  if (!selection) return query;
  const drive = await planner.choose(db, dialect, orgId, datasetId, selection, limit);
  return query.where(compileWhere(selection.expr, { strict: selection.strict, dialect, ...(drive ? { drive } : {}) }));
}

export async function listAssets(
  db: Db,
  dialect: "sqlite" | "postgres",
  planner: SelectionPlanner,
  q: AssetListQuery,
): Promise<AssetRecord[]> {
  const col = SORT_COLUMN[q.sortKey];
  const dir = q.descending ? "desc" : "asc";
  let query = (await selectAssets(db, dialect, planner, q.orgId, q.datasetId, q.selection, q.limit)).selectAll();
  if (q.after) {
    const { value, seq } = q.after;
    const cmp = q.descending ? "<" : ">";
    // A row-value comparison: both dialects turn it into one range of the (col, seq) index. (The
    // same test written with OR left SQLite scanning the dataset's index from its start: 50 ms
    // at a depth of 500,000.)
    query =
      col === "seq"
        ? query.where("seq", cmp, seq)
        : query.where(({ eb, refTuple, tuple }) => eb(refTuple(col, "seq"), cmp, tuple(value as never, seq)));
  }
  if (col !== "seq") query = query.orderBy(col, dir);
  const rows = await query.orderBy("seq", dir).limit(q.limit).execute();
  return toAssetRecords(db, rows);
}

/** The unfiltered total is the dataset's counter; a selection is counted. */
export async function countAssets(
  db: Db,
  dialect: "sqlite" | "postgres",
  planner: SelectionPlanner,
  orgId: string,
  datasetId: string,
  selection?: AssetSelection,
): Promise<number> {
  if (!selection) return datasetAssetCount(db, orgId, datasetId);
  const row = await (
    await selectAssets(db, dialect, planner, orgId, datasetId, selection, undefined)
  )
    .select((eb) => eb.fn.countAll().as("n"))
    .executeTakeFirstOrThrow();
  return num(row.n);
}

export async function getAsset(
  db: Db,
  orgId: string,
  datasetId: string,
  assetId: string,
): Promise<AssetRecord | undefined> {
  const row = await db
    .selectFrom("assets")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("dataset_id", "=", datasetId)
    .where("asset_id", "=", assetId)
    .executeTakeFirst();
  return row ? (await toAssetRecords(db, [row]))[0] : undefined;
}

export async function deleteAsset(
  db: Db,
  orgId: string,
  datasetId: string,
  assetId: string,
): Promise<DeleteResult | undefined> {
  const row = await db
    .selectFrom("assets")
    .select(["seq", "asset_id", "sha256", "thumbnail_sha256"])
    .where("org_id", "=", orgId)
    .where("dataset_id", "=", datasetId)
    .where("asset_id", "=", assetId)
    .executeTakeFirst();
  if (!row) return undefined;
  const orphanedBlobs = await deleteAssetRows(db, orgId, datasetId, [{ ...row, seq: num(row.seq) }]);
  return { deletedAssets: 1, orphanedBlobs };
}

/**
 * Applies custom metadata updates to assets of one dataset, all or none: `check` sees each
 * merged result and throws to refuse it (the transaction is then rolled back by the caller).
 * Answers the updated assets, or the id of the first asset that does not exist.
 */
export async function updateCustomMetadata(
  tx: Db,
  dialect: "sqlite" | "postgres",
  orgId: string,
  datasetId: string,
  updates: CustomMetadataUpdate[],
  check: (assetId: string, merged: CustomMetadata) => void,
): Promise<{ assets: AssetRecord[] } | { missing: string }> {
  const t = Date.now();
  const rows = new Map<string, AssetRow>();
  for (const part of chunks([...new Set(updates.map((u) => u.assetId))], 500)) {
    // Locked: two patches of one asset at once both merge, neither is lost.
    const found = await lockedOn(
      dialect,
      tx
        .selectFrom("assets")
        .selectAll()
        .where("org_id", "=", orgId)
        .where("dataset_id", "=", datasetId)
        .where("asset_id", "in", part),
    ).execute();
    for (const r of found) rows.set(r.asset_id, r);
  }
  for (const u of updates) {
    const row = rows.get(u.assetId);
    if (!row) return { missing: u.assetId };
    const current = JSON.parse(row.custom_metadata) as CustomMetadata;
    const merged: CustomMetadata = u.replace ? {} : { ...current };
    for (const [key, value] of Object.entries(u.patch)) {
      if (value === null) delete merged[key];
      else merged[key] = value;
    }
    check(u.assetId, merged);
    const text = JSON.stringify(merged);
    await tx.updateTable("assets").set({ custom_metadata: text, updated_at: t }).where("seq", "=", row.seq).execute();
    await writeFields(tx, num(row.seq), orgId, datasetId, merged, true);
    rows.set(u.assetId, { ...row, custom_metadata: text, updated_at: t });
  }
  return {
    assets: await toAssetRecords(
      tx,
      [...new Set(updates.map((u) => u.assetId))].map((id) => rows.get(id)!),
    ),
  };
}

export async function findBlobFacts(
  db: Db,
  orgId: string,
  sha256s: string[],
): Promise<Map<string, ImageFacts & { fileSize: number }>> {
  const facts = new Map<string, ImageFacts & { fileSize: number }>();
  for (const chunk of chunks([...new Set(sha256s)], 500)) {
    const rows = await db
      .selectFrom("assets")
      .select([
        "sha256",
        "mime_type",
        "width",
        "height",
        "raw_width",
        "raw_height",
        "orientation",
        "frames",
        "file_size",
      ])
      .where("org_id", "=", orgId)
      .where("sha256", "in", chunk)
      .execute();
    for (const row of rows) {
      facts.set(row.sha256, {
        mimeType: row.mime_type,
        width: row.width,
        height: row.height,
        rawWidth: row.raw_width,
        rawHeight: row.raw_height,
        orientation: row.orientation,
        frames: row.frames,
        fileSize: num(row.file_size),
      });
    }
  }
  return facts;
}

export async function findAssetsByFilename(
  db: Db,
  orgId: string,
  datasetId: string,
  filenames: string[],
): Promise<Map<string, { assetId: string; sha256: string; fileSize: number }>> {
  const found = new Map<string, { assetId: string; sha256: string; fileSize: number }>();
  for (const chunk of chunks(filenames, 500)) {
    const rows = await db
      .selectFrom("assets")
      .select(["filename", "asset_id", "sha256", "file_size"])
      .where("org_id", "=", orgId)
      .where("dataset_id", "=", datasetId)
      .where("filename", "in", chunk)
      .execute();
    for (const r of rows) found.set(r.filename, { assetId: r.asset_id, sha256: r.sha256, fileSize: num(r.file_size) });
  }
  return found;
}
