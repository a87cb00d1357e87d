import type { FileErrorCode } from "@vi/protocol";
import type {
  AnnotationRecord,
  AssetRecord,
  DatasetRecord,
  DatasetStats,
  ImageFacts,
  IngestionFileRecord,
  IngestionSessionRecord,
  OrganizationRecord,
  SecretKeyRecord,
} from "./records.js";

/** The sortable columns of an asset listing, in store terms. */
export type AssetSortKey =
  "seq" | "assetId" | "filename" | "contentsUpdatedAt" | "fileSize" | "width" | "height" | "createdAt";

/** Where a keyset page starts: the sort value and the seq of the last row of the previous page. */
export interface AssetCursor {
  value: string | number;
  seq: number;
}

export interface AssetListQuery {
  orgId: string;
  datasetId: string;
  sortKey: AssetSortKey;
  descending: boolean;
  after?: AssetCursor;
  limit: number;
}

export interface NewAssetVersion extends ImageFacts {
  filename: string;
  sha256: string;
  fileSize: number;
  customMetadata: Record<string, string | number | boolean> | null;
}

export interface FileCommit {
  sessionId: string;
  fileIndex: number;
  asset: NewAssetVersion;
  /** The id a new asset gets; a replaced asset keeps its own. */
  newAssetId: string;
  deduplicated?: boolean;
}

/** The outcome of committing one ingested file. */
export interface CommitResult {
  assetId: string;
  /** True when the filename already had an asset that this one replaced. */
  replaced: boolean;
  /** Blobs no asset references any more: their bytes may go. */
  orphanedBlobs: string[];
}

export interface DeleteResult {
  deletedAssets: number;
  orphanedBlobs: string[];
}

/**
 * Metadata persistence: SQLite for the embedded default, PostgreSQL to scale out, both through
 * one Kysely implementation. Every method is one atomic unit: a caller never sees half of one.
 * The store knows nothing of HTTP nor of the wire names.
 */
export interface MetadataStore {
  readonly dialect: "sqlite" | "postgres";
  migrate(): Promise<void>;
  close(): Promise<void>;

  /** Returns the stored value, inserting `value` first when the setting is absent. */
  settingOrInsert(name: string, value: string): Promise<string>;

  createOrganization(org: OrganizationRecord, firstKey: SecretKeyRecord): Promise<void>;
  getOrganization(orgId: string): Promise<OrganizationRecord | undefined>;
  countOrganizations(): Promise<number>;
  createSecretKey(key: SecretKeyRecord): Promise<void>;
  findSecretKeyByHash(keyHash: string): Promise<SecretKeyRecord | undefined>;

  createDataset(dataset: DatasetRecord): Promise<boolean>;
  getDataset(orgId: string, datasetId: string): Promise<DatasetRecord | undefined>;
  listDatasets(orgId: string): Promise<DatasetRecord[]>;
  datasetStats(orgId: string, datasetIds: string[]): Promise<Map<string, DatasetStats>>;
  /** Deletes the dataset with its assets, annotations and sessions. */
  deleteDataset(orgId: string, datasetId: string): Promise<DeleteResult | undefined>;

  listAssets(query: AssetListQuery): Promise<AssetRecord[]>;
  countAssets(orgId: string, datasetId: string): Promise<number>;
  getAsset(orgId: string, datasetId: string, assetId: string): Promise<AssetRecord | undefined>;
  deleteAsset(orgId: string, datasetId: string, assetId: string): Promise<DeleteResult | undefined>;
  /**
   * The facts of bytes this organization already holds (for deduplication); undefined when no
   * asset of the organization has them: another organization's bytes are never revealed.
   */
  findBlobFacts(orgId: string, sha256s: string[]): Promise<Map<string, ImageFacts & { fileSize: number }>>;
  /** The current asset id and bytes of each of these filenames that exists in the dataset. */
  findAssetsByFilename(
    orgId: string,
    datasetId: string,
    filenames: string[],
  ): Promise<Map<string, { assetId: string; sha256: string; fileSize: number }>>;

  createSession(session: IngestionSessionRecord, files: IngestionFileRecord[]): Promise<void>;
  getSession(orgId: string, sessionId: string): Promise<IngestionSessionRecord | undefined>;
  getSessionById(sessionId: string): Promise<IngestionSessionRecord | undefined>;
  listSessionFiles(sessionId: string, states?: IngestionFileRecord["state"][]): Promise<IngestionFileRecord[]>;
  getSessionFile(sessionId: string, fileIndex: number): Promise<IngestionFileRecord | undefined>;
  /**
   * Commits files' assets (of any sessions) in one transaction, so that concurrent uploads share
   * one durable write: each replaces its filename's previous asset
   * (dropping its annotations unless the session keeps them; identical bytes change nothing),
   * marks its file succeeded and counts it. An entry answers undefined when its file is no
   * longer pending (a retried PUT, a failed session).
   */
  commitFiles(entries: FileCommit[]): Promise<(CommitResult | undefined)[]>;
  /** Whether any asset still references these bytes. */
  isBlobReferenced(sha256: string): Promise<boolean>;
  /** Which of these digests no asset references (for sweeping bytes a crash left behind). */
  unreferencedBlobs(sha256s: string[]): Promise<string[]>;
  /**
   * Fails one pending file; with `failSession` the session fails as a whole (FailAfterOne).
   * Answers false when the file was not pending.
   */
  failFile(
    sessionId: string,
    fileIndex: number,
    code: FileErrorCode,
    message: string,
    failSession: boolean,
  ): Promise<boolean>;
  /** Fails every file still pending (their URLs expired, or the session failed). */
  failPendingFiles(sessionId: string, code: FileErrorCode, message: string): Promise<number>;

  createAnnotation(annotation: AnnotationRecord): Promise<void>;
  listAnnotations(orgId: string, datasetId: string, assetId: string): Promise<AnnotationRecord[]>;
  deleteAnnotation(orgId: string, datasetId: string, assetId: string, annotationId: string): Promise<boolean>;
}
