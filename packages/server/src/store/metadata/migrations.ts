import { sql, type Kysely, type Migration, type MigrationProvider, type RawBuilder } from "kysely";
import { addProcessing } from "./migration-0003-processing.js";
import { addBlobReleases } from "./migration-0004-blob-releases.js";

/**
 * Migrations in code, so that one build carries its own schema. Types are chosen per dialect
 * where the two differ (auto-increment keys, 64-bit integers); everything else is portable.
 */
export function migrationProvider(dialect: "sqlite" | "postgres"): MigrationProvider {
  const big = dialect === "postgres" ? "bigint" : "integer";
  const text = textType(dialect);
  const migrations: Record<string, Migration> = {
    "0001_initial": {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable("settings")
          .addColumn("name", text, (c) => c.primaryKey())
          .addColumn("value", text, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("organizations")
          .addColumn("org_id", text, (c) => c.primaryKey())
          .addColumn("name", text, (c) => c.notNull())
          .addColumn("created_at", big, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("secret_keys")
          .addColumn("key_id", text, (c) => c.primaryKey())
          .addColumn("org_id", text, (c) => c.notNull().references("organizations.org_id"))
          .addColumn("name", text, (c) => c.notNull())
          .addColumn("key_hash", text, (c) => c.notNull().unique())
          .addColumn("created_at", big, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("datasets")
          .addColumn("org_id", text, (c) => c.notNull().references("organizations.org_id"))
          .addColumn("dataset_id", text, (c) => c.notNull())
          .addColumn("name", text, (c) => c.notNull())
          .addColumn("description", text)
          .addColumn("type", text, (c) => c.notNull())
          .addColumn("content", text, (c) => c.notNull())
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("last_accessed", big, (c) => c.notNull())
          .addPrimaryKeyConstraint("datasets_pk", ["org_id", "dataset_id"])
          .execute();
        await db.schema
          .createTable("blobs")
          .addColumn("sha256", text, (c) => c.primaryKey())
          .addColumn("size", big, (c) => c.notNull())
          .addColumn("ref_count", "integer", (c) => c.notNull())
          .addColumn("created_at", big, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("assets")
          .addColumn("seq", dialect === "postgres" ? "bigserial" : "integer", (c) =>
            dialect === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn("asset_id", text, (c) => c.notNull().unique())
          .addColumn("org_id", text, (c) => c.notNull())
          .addColumn("dataset_id", text, (c) => c.notNull())
          .addColumn("filename", text, (c) => c.notNull())
          .addColumn("sha256", text, (c) => c.notNull())
          .addColumn("file_size", big, (c) => c.notNull())
          .addColumn("mime_type", text, (c) => c.notNull())
          .addColumn("width", "integer", (c) => c.notNull())
          .addColumn("height", "integer", (c) => c.notNull())
          .addColumn("raw_width", "integer", (c) => c.notNull())
          .addColumn("raw_height", "integer", (c) => c.notNull())
          .addColumn("orientation", "integer", (c) => c.notNull())
          .addColumn("frames", "integer", (c) => c.notNull())
          .addColumn("custom_metadata", text, (c) => c.notNull())
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("updated_at", big, (c) => c.notNull())
          .addColumn("contents_updated_at", big, (c) => c.notNull())
          .addColumn("generation", "integer", (c) => c.notNull())
          .addForeignKeyConstraint("assets_dataset_fk", ["org_id", "dataset_id"], "datasets", ["org_id", "dataset_id"])
          .addUniqueConstraint("assets_filename_uq", ["org_id", "dataset_id", "filename"])
          .execute();
        // Keyset paging: one index per sortable column, each ending in seq as the tie-breaker.
        for (const col of ["file_size", "width", "height", "created_at", "contents_updated_at", "asset_id"]) {
          await db.schema
            .createIndex(`assets_${col}_idx`)
            .on("assets")
            .columns(["org_id", "dataset_id", col, "seq"])
            .execute();
        }
        await db.schema.createIndex("assets_seq_idx").on("assets").columns(["org_id", "dataset_id", "seq"]).execute();
        await db.schema.createIndex("assets_sha_idx").on("assets").columns(["org_id", "sha256"]).execute();
        await db.schema
          .createTable("annotations")
          .addColumn("annotation_id", text, (c) => c.primaryKey())
          .addColumn("org_id", text, (c) => c.notNull())
          .addColumn("dataset_id", text, (c) => c.notNull())
          .addColumn("asset_id", text, (c) => c.notNull())
          .addColumn("tag", text, (c) => c.notNull())
          .addColumn("contents", text, (c) => c.notNull())
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("updated_at", big, (c) => c.notNull())
          .execute();
        await db.schema.createIndex("annotations_asset_idx").on("annotations").columns(["asset_id"]).execute();
        await db.schema
          .createIndex("annotations_dataset_idx")
          .on("annotations")
          .columns(["org_id", "dataset_id", "tag"])
          .execute();
        await db.schema
          .createTable("ingestion_sessions")
          .addColumn("session_id", text, (c) => c.primaryKey())
          .addColumn("org_id", text, (c) => c.notNull())
          .addColumn("dataset_id", text, (c) => c.notNull())
          .addColumn("failure_mode", text, (c) => c.notNull())
          .addColumn("on_overwrite", text, (c) => c.notNull())
          .addColumn("state", text, (c) => c.notNull())
          .addColumn("failure_reason", text)
          .addColumn("total", "integer", (c) => c.notNull())
          .addColumn("succeeded", "integer", (c) => c.notNull())
          .addColumn("errored", "integer", (c) => c.notNull())
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("updated_at", big, (c) => c.notNull())
          .addColumn("expires_at", big, (c) => c.notNull())
          .addColumn("generation", "integer", (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex("sessions_dataset_idx")
          .on("ingestion_sessions")
          .columns(["org_id", "dataset_id"])
          .execute();
        await db.schema
          .createTable("ingestion_files")
          .addColumn("session_id", text, (c) =>
            c.notNull().references("ingestion_sessions.session_id").onDelete("cascade"),
          )
          .addColumn("file_index", "integer", (c) => c.notNull())
          .addColumn("filename", text, (c) => c.notNull())
          .addColumn("mime", text, (c) => c.notNull())
          .addColumn("size", big, (c) => c.notNull())
          .addColumn("crc32c", "integer", (c) => c.notNull())
          .addColumn("sha256", text)
          .addColumn("custom_metadata", text)
          .addColumn("state", text, (c) => c.notNull())
          .addColumn("error_code", text)
          .addColumn("error_message", text)
          .addColumn("asset_id", text)
          .addColumn("deduplicated", "integer", (c) => c.notNull())
          .addColumn("updated_at", big, (c) => c.notNull())
          .addPrimaryKeyConstraint("ingestion_files_pk", ["session_id", "file_index"])
          .execute();
        await sql`select 1`.execute(db);
      },
    },
    "0002_queries": {
      async up(db: Kysely<unknown>) {
        await addQueryColumns(db, big, text);
      },
    },
    "0003_processing": {
      async up(db: Kysely<unknown>) {
        await addProcessing(db, big, text);
      },
    },
    "0004_blob_releases": {
      async up(db: Kysely<unknown>) {
        await addBlobReleases(db, big, text);
      },
    },
  };
  return { getMigrations: async () => migrations };
}

/**
 * Text compares by bytes in both databases: SQLite's BINARY collation, PostgreSQL's "C". A
 * language collation (a PostgreSQL database's default) would order filenames differently from
 * SQLite, so keyset pages, prefix ranges and the in-memory oracle would disagree; and queries
 * spell `collate "C"`, which only an index of the same collation serves.
 */
export type TextType = "text" | RawBuilder<unknown>;
export function textType(dialect: "sqlite" | "postgres"): TextType {
  return dialect === "postgres" ? sql`text collate "C"` : "text";
}

/** Lower-cases a string the way every query does for case-insensitive matching (full Unicode, locale-free). */
export const fold = (s: string): string => s.toLowerCase();

/**
 * 0002: what queries, counters, annotation tags and bulk deletes need.
 * - assets: `status` (a real column for the processing states to come), `filename_folded` (the
 *   case-insensitive key, indexed for prefix search), `annotation_count` (kept in the same
 *   transaction as the annotations).
 * - asset_fields: one row per custom metadata key of an asset, typed, so that a query on any
 *   key is an index range scan instead of parsing JSON row by row. `custom_metadata` stays the
 *   asset's JSON as shown; these rows are derived from it in the same transaction.
 * - datasets.asset_count: the unfiltered total, so a page never counts a million rows.
 * - dataset_tags: a dataset's annotation tags with stable integer ids (the wire's `spec.tag`).
 * - deletion_sessions and deletion_targets: bulk deletes, resumable after a crash.
 */
async function addQueryColumns(db: Kysely<unknown>, big: "bigint" | "integer", text: TextType): Promise<void> {
  await db.schema
    .alterTable("assets")
    .addColumn("status", text, (c) => c.notNull().defaultTo("uploaded"))
    .execute();
  await db.schema
    .alterTable("assets")
    .addColumn("filename_folded", text, (c) => c.notNull().defaultTo(""))
    .execute();
  await db.schema
    .alterTable("assets")
    .addColumn("annotation_count", "integer", (c) => c.notNull().defaultTo(0))
    .execute();
  // Folding is JavaScript's (SQL lower() is ASCII-only in SQLite), so existing rows are folded here.
  const rows = await sql<{ seq: number; filename: string }>`select seq, filename from assets`.execute(db);
  for (const r of rows.rows) {
    await sql`update assets set filename_folded = ${fold(r.filename)} where seq = ${r.seq}`.execute(db);
  }
  await sql`update assets set annotation_count = (select count(*) from annotations a where a.asset_id = assets.asset_id)`.execute(
    db,
  );
  await db.schema
    .createIndex("assets_filename_folded_idx")
    .on("assets")
    .columns(["org_id", "dataset_id", "filename_folded", "seq"])
    .execute();
  await db.schema
    .createIndex("assets_filename_idx")
    .on("assets")
    .columns(["org_id", "dataset_id", "filename", "seq"])
    .execute();

  await db.schema
    .createTable("asset_fields")
    .addColumn("asset_seq", big, (c) => c.notNull())
    .addColumn("key", text, (c) => c.notNull())
    .addColumn("org_id", text, (c) => c.notNull())
    .addColumn("dataset_id", text, (c) => c.notNull())
    .addColumn("value_type", text, (c) => c.notNull())
    .addColumn("str_value", text)
    .addColumn("str_folded", text)
    .addColumn("num_value", "double precision")
    .addPrimaryKeyConstraint("asset_fields_pk", ["asset_seq", "key"])
    // In SQLite the rows live in their primary key's b-tree: an EXISTS probe is one lookup.
    .$call((b) => (big === "integer" ? b.modifyEnd(sql`without rowid`) : b))
    .execute();
  await db.schema
    .createIndex("asset_fields_num_idx")
    .on("asset_fields")
    .columns(["org_id", "dataset_id", "key", "value_type", "num_value", "asset_seq"])
    .execute();
  await db.schema
    .createIndex("asset_fields_str_idx")
    .on("asset_fields")
    .columns(["org_id", "dataset_id", "key", "value_type", "str_folded", "asset_seq"])
    .execute();
  const assets = await sql<{ seq: number; org_id: string; dataset_id: string; custom_metadata: string }>`
    select seq, org_id, dataset_id, custom_metadata from assets where custom_metadata <> '{}'`.execute(db);
  for (const a of assets.rows) {
    for (const f of fieldRows(
      Number(a.seq),
      a.org_id,
      a.dataset_id,
      JSON.parse(a.custom_metadata) as Record<string, unknown>,
    )) {
      await sql`insert into asset_fields (asset_seq, key, org_id, dataset_id, value_type, str_value, str_folded, num_value)
        values (${f.asset_seq}, ${f.key}, ${f.org_id}, ${f.dataset_id}, ${f.value_type}, ${f.str_value}, ${f.str_folded}, ${f.num_value})`.execute(
        db,
      );
    }
  }

  await db.schema
    .alterTable("datasets")
    .addColumn("asset_count", big, (c) => c.notNull().defaultTo(0))
    .execute();
  await sql`update datasets set asset_count = (select count(*) from assets a where a.org_id = datasets.org_id and a.dataset_id = datasets.dataset_id)`.execute(
    db,
  );

  await db.schema
    .createTable("dataset_tags")
    .addColumn("org_id", text, (c) => c.notNull())
    .addColumn("dataset_id", text, (c) => c.notNull())
    .addColumn("name", text, (c) => c.notNull())
    .addColumn("tag_id", "integer", (c) => c.notNull())
    .addColumn("created_at", big, (c) => c.notNull())
    .addPrimaryKeyConstraint("dataset_tags_pk", ["org_id", "dataset_id", "name"])
    .addUniqueConstraint("dataset_tags_id_uq", ["org_id", "dataset_id", "tag_id"])
    .execute();
  const tags = await sql<{ org_id: string; dataset_id: string; tag: string; t: number }>`
    select org_id, dataset_id, tag, min(created_at) as t from annotations group by org_id, dataset_id, tag order by org_id, dataset_id, t, tag`.execute(
    db,
  );
  const next = new Map<string, number>();
  for (const r of tags.rows) {
    const k = `${r.org_id}/${r.dataset_id}`;
    const id = (next.get(k) ?? 0) + 1;
    next.set(k, id);
    await sql`insert into dataset_tags (org_id, dataset_id, name, tag_id, created_at) values (${r.org_id}, ${r.dataset_id}, ${r.tag}, ${id}, ${Number(r.t)})`.execute(
      db,
    );
  }
  await db.schema.dropIndex("annotations_asset_idx").execute();
  await db.schema.createIndex("annotations_asset_tag_idx").on("annotations").columns(["asset_id", "tag"]).execute();

  await db.schema
    .createTable("deletion_sessions")
    .addColumn("session_id", text, (c) => c.primaryKey())
    .addColumn("org_id", text, (c) => c.notNull())
    .addColumn("dataset_id", text, (c) => c.notNull())
    .addColumn("spec", text, (c) => c.notNull())
    .addColumn("dry_run", "integer", (c) => c.notNull())
    .addColumn("state", text, (c) => c.notNull())
    .addColumn("failure_reason", text)
    .addColumn("selected", "integer", (c) => c.notNull())
    .addColumn("deleted", "integer", (c) => c.notNull())
    .addColumn("created_at", big, (c) => c.notNull())
    .addColumn("updated_at", big, (c) => c.notNull())
    .addColumn("generation", "integer", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("deletion_sessions_dataset_idx")
    .on("deletion_sessions")
    .columns(["org_id", "dataset_id"])
    .execute();
  await db.schema
    .createTable("deletion_targets")
    .addColumn("session_id", text, (c) => c.notNull())
    .addColumn("asset_seq", big, (c) => c.notNull())
    .addPrimaryKeyConstraint("deletion_targets_pk", ["session_id", "asset_seq"])
    .execute();
}

export interface FieldRow {
  asset_seq: number;
  key: string;
  org_id: string;
  dataset_id: string;
  value_type: "string" | "number" | "boolean";
  str_value: string | null;
  str_folded: string | null;
  num_value: number | null;
}

/** The typed rows of an asset's custom metadata (booleans are 0/1 in num_value). */
export function fieldRows(seq: number, orgId: string, datasetId: string, custom: Record<string, unknown>): FieldRow[] {
  const rows: FieldRow[] = [];
  for (const [key, value] of Object.entries(custom)) {
    const base = { asset_seq: seq, key, org_id: orgId, dataset_id: datasetId };
    if (typeof value === "string")
      rows.push({ ...base, value_type: "string", str_value: value, str_folded: fold(value), num_value: null });
    else if (typeof value === "number")
      rows.push({ ...base, value_type: "number", str_value: null, str_folded: null, num_value: value });
    else if (typeof value === "boolean")
      rows.push({ ...base, value_type: "boolean", str_value: null, str_folded: null, num_value: value ? 1 : 0 });
  }
  return rows;
}
