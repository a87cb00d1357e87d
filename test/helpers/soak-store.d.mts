export interface StoreFacts {
  assets: {
    seq: number;
    asset_id: string;
    org_id: string;
    dataset_id: string;
    filename: string;
    sha256: string;
    file_size: number;
    generation: number;
  }[];
  blobs: { sha256: string; size: number; ref_count: number }[];
  counters: { org_id: string; dataset_id: string; asset_count: number; actual: number }[];
  orphanFields: number;
  fieldless: number;
  deletionSessions: {
    session_id: string;
    dataset_id: string;
    spec: Record<string, unknown>;
    state: string;
    selected: number;
    deleted: number;
    targets_left: number;
  }[];
  ingestion: { state: string; n: number }[];
  files: Map<string, number>;
  staging: string[];
  problems: string[];
  orphanFiles: string[];
}
export declare function blobFilesOnDisk(dataDir: string): Promise<{ files: Map<string, number>; strays: string[] }>;
export declare function inspectStore(dataDir: string): Promise<StoreFacts>;
