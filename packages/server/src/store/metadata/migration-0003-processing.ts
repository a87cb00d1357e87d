import { sql, type ColumnDefinitionBuilder, type Kysely } from "kysely";
import type { TextType } from "./migrations.js";

/**
 * 0003: processing after upload (decode, thumbnail, real status).
 * - assets: `upload_status` (`processing` until its job ends, then `completed`), `status_reason`
 *   (why `status` is `error`), the thumbnail (its bytes are a blob like any other, counted in
 *   `blobs.ref_count`; `thumbnail_generation` names its signed URL, so a new thumbnail never
 *   answers an old URL), `media` (what the decoder found, JSON) and `processed_version` (which
 *   build of the processing made them, so a reprocess can take only what an upgrade changes).
 * - processing_jobs: one row per asset that needs processing, claimed with a lease: a claim sets
 *   `run_after` to the lease's end, so a job whose worker died is simply due again once the
 *   lease runs out, and the one index on `run_after` serves every claim. On PostgreSQL several
 *   servers claim with `FOR UPDATE SKIP LOCKED`.
 *
 * Assets stored before this migration are queued, so that they get their thumbnails too.
 */
export async function addProcessing(db: Kysely<unknown>, big: "bigint" | "integer", text: TextType): Promise<void> {
  const add = (
    name: string,
    type: TextType | "integer" | "bigint",
    build: (c: ColumnDefinitionBuilder) => ColumnDefinitionBuilder = (c) => c,
  ) => db.schema.alterTable("assets").addColumn(name, type, build).execute();
  await add("upload_status", text, (c) => c.notNull().defaultTo("completed"));
  await add("status_reason", text);
  await add("thumbnail_sha256", text);
  await add("thumbnail_size", big);
  await add("thumbnail_generation", "integer", (c) => c.notNull().defaultTo(0));
  await add("media", text);
  await add("processed_version", "integer", (c) => c.notNull().defaultTo(0));
  // Filters on the two states (`{"status": "error"}`, assets still processing) are index ranges
  // in the listing's default order.
  for (const col of ["status", "upload_status"]) {
    await db.schema
      .createIndex(`assets_${col}_idx`)
      .on("assets")
      .columns(["org_id", "dataset_id", col, "seq"])
      .execute();
  }

  await db.schema
    .createTable("processing_jobs")
    .addColumn("asset_seq", big, (c) => c.primaryKey())
    .addColumn("org_id", text, (c) => c.notNull())
    .addColumn("dataset_id", text, (c) => c.notNull())
    .addColumn("generation", "integer", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("run_after", big, (c) => c.notNull())
    .addColumn("lease_owner", text)
    .addColumn("last_error", text)
    .addColumn("created_at", big, (c) => c.notNull())
    .execute();
  await db.schema.createIndex("processing_jobs_due_idx").on("processing_jobs").columns(["run_after"]).execute();
  await db.schema
    .createIndex("processing_jobs_dataset_idx")
    .on("processing_jobs")
    .columns(["org_id", "dataset_id"])
    .execute();

  const t = Date.now();
  await sql`update assets set upload_status = 'processing'`.execute(db);
  await sql`insert into processing_jobs (asset_seq, org_id, dataset_id, generation, attempts, run_after, created_at)
    select seq, org_id, dataset_id, generation, 0, ${t}, ${t} from assets`.execute(db);
}
