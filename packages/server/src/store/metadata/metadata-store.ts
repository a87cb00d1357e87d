import type { CustomMetadata, FileErrorCode } from "@vi/protocol";
import type { Expr } from "../../query/index.js";
import type {
  AnnotationRecord,
  AssetRecord,
  DatasetRecord,
  DatasetStats,
  DeletionSessionRecord,
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

/** Which assets a listing, a count or a bulk delete is about (one tree from filter and query). */
export interface AssetSelection {
  expr: Expr;
  /** Exact, case-sensitive string matching (strictQuery); otherwise case-insensitive. */
  strict: boolean;
}

/** One asset's custom metadata change: a merge patch (null removes a key), or a replacement. */
export interface CustomMetadataUpdate {
  assetId: string;
  patch: Record<string, string | number | boolean | null>;
  replace: boolean;
}

export interface DeletionBatch {
  deleted: number;
  orphanedBlobs: string[];
  finished: boolean;
}

export interface AnnotationPage {
  after?: { createdAt: number; annotationId: string };
  limit: number;
}

export interface AssetListQuery {
  orgId: string;
  datasetId: string;
  selection?: AssetSelection;
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

/** A processing job as its worker holds it: the asset's bytes to decode, and how often it was tried. */
export interface ClaimedJob {
  assetSeq: number;
  assetId: string;
  orgId: string;
  datasetId: string;
  /** The asset's generation the job is about: an outcome for older bytes is dropped. */
  generation: number;
  /** Attempts so far, this one included. */
  attempts: number;
  lastError: string | null;
  sha256: string;
  fileSize: number;
  mimeType: string;
  orientation: number;
}

/** What processing concluded about an asset's bytes. */
export interface ProcessingOutcome {
  status: "uploaded" | "error";
  /** Why the status is `error` (or, with `uploaded`, why there is no thumbnail); null otherwise. */
  reason: string | null;
  /** The thumbnail's bytes, already durable in the blob store; null when none could be made. */
  thumbnail: { sha256: string; size: number } | null;
  /** What the decoder found (channels, bit depth, ...), shown with the asset. */
  media: Record<string, unknown> | null;
  /** The processing build that made it (see PROCESSING_VERSION). */
  version: number;
}

export interface ProcessingCounts {
  processing: number;
  completed: number;
  errored: number;
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
  /** Routine upkeep of the engine (SQLite: refresh planner statistics); cheap, run hourly. */
  maintain(): Promise<void>;
  close(): Promise<void>;

  /** Returns the stored value, inserting `value` first when the setting is absent. */
  settingOrInsert(name: string, value: string): Promise<string>;

  /**
   * Bytes whose last reference went are recorded in the same transaction (blob_releases).
   * `claimBlobReleases` takes up to `limit` due ones with a lease; `forgetBlobReleases` ends
   * them once the bytes are gone; `deferBlobReleases` makes them due at `runAfter`.
   */
  claimBlobReleases(limit: number, leaseMs: number): Promise<string[]>;
  forgetBlobReleases(sha256s: string[]): Promise<void>;
  deferBlobReleases(sha256s: string[], runAfter: number): Promise<void>;
  /** Bytes recorded for deletion and not yet deleted (for tests and the health of a deployment). */
  pendingBlobReleases(): Promise<number>;

  /**
   * Creates an organization with its first key; with `onlyIfFirst`, only when the database has
   * none yet (replicas starting together on an empty database: exactly one creates it). Answers
   * whether it was created.
   */
  createOrganization(org: OrganizationRecord, firstKey: SecretKeyRecord, onlyIfFirst?: boolean): Promise<boolean>;
  getOrganization(orgId: string): Promise<OrganizationRecord | undefined>;
  countOrganizations(): Promise<number>;
  createSecretKey(key: SecretKeyRecord): Promise<void>;
  findSecretKeyByHash(keyHash: string): Promise<SecretKeyRecord | undefined>;
  listSecretKeys(orgId: string): Promise<SecretKeyRecord[]>;
  /**
   * Deletes a key of the organization unless it is the organization's last one; answers
   * "deleted", "last" (refused) or "missing".
   */
  deleteSecretKey(orgId: string, keyId: string): Promise<"deleted" | "last" | "missing">;

  createDataset(dataset: DatasetRecord): Promise<boolean>;
  getDataset(orgId: string, datasetId: string): Promise<DatasetRecord | undefined>;
  listDatasets(orgId: string): Promise<DatasetRecord[]>;
  datasetStats(orgId: string, datasetIds: string[]): Promise<Map<string, DatasetStats>>;
  /** Deletes the dataset with its assets, annotations and sessions. */
  deleteDataset(orgId: string, datasetId: string): Promise<DeleteResult | undefined>;

  listAssets(query: AssetListQuery): Promise<AssetRecord[]>;
  /** The unfiltered count is a counter kept per dataset; a selection is counted. */
  countAssets(orgId: string, datasetId: string, selection?: AssetSelection): Promise<number>;
  /**
   * Changes the custom metadata of assets of one dataset, all or none: `check` sees each merged
   * result and throws to refuse the whole change. Answers the assets, or the first unknown id.
   */
  updateCustomMetadata(
    orgId: string,
    datasetId: string,
    updates: CustomMetadataUpdate[],
    check: (assetId: string, merged: CustomMetadata) => void,
  ): Promise<{ assets: AssetRecord[] } | { missing: string }>;
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

  /** Stores an annotation (its tag gets an id within the dataset); undefined when the asset does not exist. */
  createAnnotation(annotation: Omit<AnnotationRecord, "tagId">): Promise<AnnotationRecord | undefined>;
  listAnnotations(orgId: string, datasetId: string, assetId: string, page: AnnotationPage): Promise<AnnotationRecord[]>;
  getAnnotation(
    orgId: string,
    datasetId: string,
    assetId: string,
    annotationId: string,
  ): Promise<AnnotationRecord | undefined>;
  deleteAnnotation(orgId: string, datasetId: string, assetId: string, annotationId: string): Promise<boolean>;

  /**
   * Opens a bulk delete: a dry run only counts; otherwise the selection is snapshotted as the
   * session's targets in the same transaction.
   */
  createDeletionSession(
    session: Omit<DeletionSessionRecord, "selected" | "deleted" | "state">,
    selection: AssetSelection,
  ): Promise<DeletionSessionRecord>;
  getDeletionSession(orgId: string, datasetId: string, sessionId: string): Promise<DeletionSessionRecord | undefined>;
  /**
   * Deletes up to `limit` settled (or long expired) upload and bulk-delete sessions last
   * changed before `before`, in one transaction; answers how many of each went.
   */
  purgeSessions(before: number, limit: number): Promise<{ ingestion: number; deletion: number }>;
  /** Sessions a restart must resume. */
  runningDeletionSessions(): Promise<DeletionSessionRecord[]>;
  /** Deletes the next batch of a session's targets, each asset whole, in one transaction. */
  deleteNextBatch(sessionId: string, limit: number): Promise<DeletionBatch>;

  /** Leases up to `limit` due processing jobs to `owner` for `leaseMs`; each claim counts an attempt. */
  claimProcessingJobs(owner: string, limit: number, leaseMs: number): Promise<ClaimedJob[]>;
  /**
   * Records outcomes on their assets and ends their jobs in one transaction. An outcome applies
   * only while its job is still the owner's and about the asset's current bytes.
   */
  finishProcessingJobs(
    owner: string,
    finished: { job: ClaimedJob; outcome: ProcessingOutcome }[],
  ): Promise<{ applied: boolean[]; orphanedBlobs: string[] }>;
  /** Hands a job back, due again at `runAfter`. */
  retryProcessingJob(owner: string, job: ClaimedJob, error: string, runAfter: number): Promise<void>;
  /** Makes the owner's leased jobs due at once (a clean shutdown). */
  releaseProcessingLeases(owner: string): Promise<number>;
  /** An outcome this version already made for the same bytes in the organization. */
  processedTwin(orgId: string, sha256: string, version: number): Promise<ProcessingOutcome | undefined>;
  /** Queues a dataset's assets (all, or those processed by an older version); answers how many were queued. */
  reprocessDataset(orgId: string, datasetId: string, olderThan?: number): Promise<number>;
  /** How a session's committed assets stand in processing. */
  sessionProcessing(sessionId: string): Promise<ProcessingCounts>;
  /** Jobs queued or running. */
  processingBacklog(): Promise<number>;
}
