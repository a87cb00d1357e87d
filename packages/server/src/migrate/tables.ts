import type { Database } from "../store/metadata/schema.js";

/** A table the move copies, and the columns of its primary key (the keyset order of its chunks). */
export interface CopiedTable {
  name: keyof Database;
  key: readonly string[];
}

/**
 * Every table of the schema, parents before children, so that each chunk inserted into
 * PostgreSQL finds the rows its foreign keys name (organizations before keys and datasets,
 * datasets before assets, ingestion sessions before their files). Kysely's own migration tables
 * are not copied: the target's migrations write its own.
 *
 * The two dialects store every column alike (migrations.ts): integers for flags (`dry_run`,
 * `deduplicated`: 0/1, not booleans), text for JSON, `double precision` for numeric custom
 * fields, and 64-bit integers for times and sizes, which the target's pool reads back as numbers.
 * So rows go across as they are, with no conversion; `assets.seq` keeps its values (it is in page
 * tokens and `asset_fields`), and its sequence is moved past them afterwards.
 */
export const TABLES: readonly CopiedTable[] = [
  { name: "settings", key: ["name"] },
  { name: "organizations", key: ["org_id"] },
  { name: "secret_keys", key: ["key_id"] },
  { name: "datasets", key: ["org_id", "dataset_id"] },
  { name: "blobs", key: ["sha256"] },
  { name: "blob_releases", key: ["sha256"] },
  { name: "assets", key: ["seq"] },
  { name: "asset_fields", key: ["asset_seq", "key"] },
  { name: "annotations", key: ["annotation_id"] },
  { name: "dataset_tags", key: ["org_id", "dataset_id", "name"] },
  { name: "processing_jobs", key: ["asset_seq"] },
  { name: "ingestion_sessions", key: ["session_id"] },
  { name: "ingestion_files", key: ["session_id", "file_index"] },
  { name: "deletion_sessions", key: ["session_id"] },
  { name: "deletion_targets", key: ["session_id", "asset_seq"] },
];

/** Identity columns whose PostgreSQL sequence must continue after the copied values. */
export const SEQUENCES: readonly { table: keyof Database; column: string }[] = [{ table: "assets", column: "seq" }];
