import { sql, type Kysely, type Migration, type MigrationProvider } from "kysely";

/**
 * Migrations in code, so that one build carries its own schema. Types are chosen per dialect
 * where the two differ (auto-increment keys, 64-bit integers); everything else is portable.
 */
export function migrationProvider(dialect: "sqlite" | "postgres"): MigrationProvider {
  const big = dialect === "postgres" ? "bigint" : "integer";
  const migrations: Record<string, Migration> = {
    "0001_initial": {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable("settings")
          .addColumn("name", "text", (c) => c.primaryKey())
          .addColumn("value", "text", (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("organizations")
          .addColumn("org_id", "text", (c) => c.primaryKey())
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("created_at", big, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("secret_keys")
          .addColumn("key_id", "text", (c) => c.primaryKey())
          .addColumn("org_id", "text", (c) => c.notNull().references("organizations.org_id"))
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("key_hash", "text", (c) => c.notNull().unique())
          .addColumn("created_at", big, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("datasets")
          .addColumn("org_id", "text", (c) => c.notNull().references("organizations.org_id"))
          .addColumn("dataset_id", "text", (c) => c.notNull())
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("description", "text")
          .addColumn("type", "text", (c) => c.notNull())
          .addColumn("content", "text", (c) => c.notNull())
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("last_accessed", big, (c) => c.notNull())
          .addPrimaryKeyConstraint("datasets_pk", ["org_id", "dataset_id"])
          .execute();
        await db.schema
          .createTable("blobs")
          .addColumn("sha256", "text", (c) => c.primaryKey())
          .addColumn("size", big, (c) => c.notNull())
          .addColumn("ref_count", "integer", (c) => c.notNull())
          .addColumn("created_at", big, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("assets")
          .addColumn("seq", dialect === "postgres" ? "bigserial" : "integer", (c) =>
            dialect === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn("asset_id", "text", (c) => c.notNull().unique())
          .addColumn("org_id", "text", (c) => c.notNull())
          .addColumn("dataset_id", "text", (c) => c.notNull())
          .addColumn("filename", "text", (c) => c.notNull())
          .addColumn("sha256", "text", (c) => c.notNull())
          .addColumn("file_size", big, (c) => c.notNull())
          .addColumn("mime_type", "text", (c) => c.notNull())
          .addColumn("width", "integer", (c) => c.notNull())
          .addColumn("height", "integer", (c) => c.notNull())
          .addColumn("raw_width", "integer", (c) => c.notNull())
          .addColumn("raw_height", "integer", (c) => c.notNull())
          .addColumn("orientation", "integer", (c) => c.notNull())
          .addColumn("frames", "integer", (c) => c.notNull())
          .addColumn("custom_metadata", "text", (c) => c.notNull())
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
          .addColumn("annotation_id", "text", (c) => c.primaryKey())
          .addColumn("org_id", "text", (c) => c.notNull())
          .addColumn("dataset_id", "text", (c) => c.notNull())
          .addColumn("asset_id", "text", (c) => c.notNull())
          .addColumn("tag", "text", (c) => c.notNull())
          .addColumn("contents", "text", (c) => c.notNull())
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
          .addColumn("session_id", "text", (c) => c.primaryKey())
          .addColumn("org_id", "text", (c) => c.notNull())
          .addColumn("dataset_id", "text", (c) => c.notNull())
          .addColumn("failure_mode", "text", (c) => c.notNull())
          .addColumn("on_overwrite", "text", (c) => c.notNull())
          .addColumn("state", "text", (c) => c.notNull())
          .addColumn("failure_reason", "text")
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
          .addColumn("session_id", "text", (c) =>
            c.notNull().references("ingestion_sessions.session_id").onDelete("cascade"),
          )
          .addColumn("file_index", "integer", (c) => c.notNull())
          .addColumn("filename", "text", (c) => c.notNull())
          .addColumn("mime", "text", (c) => c.notNull())
          .addColumn("size", big, (c) => c.notNull())
          .addColumn("crc32c", "integer", (c) => c.notNull())
          .addColumn("sha256", "text")
          .addColumn("custom_metadata", "text")
          .addColumn("state", "text", (c) => c.notNull())
          .addColumn("error_code", "text")
          .addColumn("error_message", "text")
          .addColumn("asset_id", "text")
          .addColumn("deduplicated", "integer", (c) => c.notNull())
          .addColumn("updated_at", big, (c) => c.notNull())
          .addPrimaryKeyConstraint("ingestion_files_pk", ["session_id", "file_index"])
          .execute();
        await sql`select 1`.execute(db);
      },
    },
  };
  return { getMigrations: async () => migrations };
}
