import type { Generated } from "kysely";

/** Table shapes as Kysely sees them. JSON is stored as text in both dialects. */
export interface Database {
  settings: { name: string; value: string };
  organizations: { org_id: string; name: string; created_at: number };
  secret_keys: { key_id: string; org_id: string; name: string; key_hash: string; created_at: number };
  datasets: {
    org_id: string;
    dataset_id: string;
    name: string;
    description: string | null;
    type: string;
    content: string;
    created_at: number;
    last_accessed: number;
    asset_count: Generated<number>;
  };
  blobs: { sha256: string; size: number; ref_count: number; created_at: number };
  assets: {
    seq: Generated<number>;
    asset_id: string;
    org_id: string;
    dataset_id: string;
    filename: string;
    sha256: string;
    file_size: number;
    mime_type: string;
    width: number;
    height: number;
    raw_width: number;
    raw_height: number;
    orientation: number;
    frames: number;
    custom_metadata: string;
    created_at: number;
    updated_at: number;
    contents_updated_at: number;
    generation: number;
    status: Generated<string>;
    filename_folded: string;
    annotation_count: Generated<number>;
  };
  asset_fields: {
    asset_seq: number;
    key: string;
    org_id: string;
    dataset_id: string;
    value_type: "string" | "number" | "boolean";
    str_value: string | null;
    str_folded: string | null;
    num_value: number | null;
  };
  dataset_tags: { org_id: string; dataset_id: string; name: string; tag_id: number; created_at: number };
  deletion_sessions: {
    session_id: string;
    org_id: string;
    dataset_id: string;
    spec: string;
    dry_run: number;
    state: string;
    failure_reason: string | null;
    selected: number;
    deleted: number;
    created_at: number;
    updated_at: number;
    generation: number;
  };
  deletion_targets: { session_id: string; asset_seq: number };
  annotations: {
    annotation_id: string;
    org_id: string;
    dataset_id: string;
    asset_id: string;
    tag: string;
    contents: string;
    created_at: number;
    updated_at: number;
  };
  ingestion_sessions: {
    session_id: string;
    org_id: string;
    dataset_id: string;
    failure_mode: string;
    on_overwrite: string;
    state: string;
    failure_reason: string | null;
    total: number;
    succeeded: number;
    errored: number;
    created_at: number;
    updated_at: number;
    expires_at: number;
    generation: number;
  };
  ingestion_files: {
    session_id: string;
    file_index: number;
    filename: string;
    mime: string;
    size: number;
    crc32c: number;
    sha256: string | null;
    custom_metadata: string | null;
    state: string;
    error_code: string | null;
    error_message: string | null;
    asset_id: string | null;
    deduplicated: number;
    updated_at: number;
  };
}
