import { Migrator, sql, type Kysely, type Transaction } from "kysely";
import type { CustomMetadata, FileErrorCode } from "@vi/protocol";
import type { Database } from "./schema.js";
import { migrationProvider } from "./migrations.js";
import type { WalSync } from "./wal-sync.js";
import type {
  AnnotationPage,
  AssetListQuery,
  AssetSelection,
  CommitResult,
  ClaimedJob,
  CustomMetadataUpdate,
  DeleteResult,
  DeletionBatch,
  FileCommit,
  MetadataStore,
  ProcessingCounts,
  ProcessingOutcome,
} from "./metadata-store.js";
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
import { isRetryable, tryAdvisoryLock } from "./kysely/common.js";
import { SelectionPlanner } from "./kysely/planner.js";
import * as annotations from "./kysely/annotations.js";
import * as releases from "./kysely/blob-releases.js";
import * as assets from "./kysely/assets.js";
import * as datasets from "./kysely/datasets.js";
import * as deletions from "./kysely/deletions.js";
import * as ingestion from "./kysely/ingestion.js";
import * as organizations from "./kysely/organizations.js";
import * as processing from "./kysely/processing.js";

/**
 * The MetadataStore over Kysely: one implementation for SQLite and PostgreSQL. The SQL of each
 * aggregate lives in `kysely/`; this class owns transactions and durability: every write runs
 * in one transaction and answers only once that transaction is durable.
 */
export class KyselyMetadataStore implements MetadataStore {
  private readonly planner = new SelectionPlanner();

  constructor(
    private readonly db: Kysely<Database>,
    readonly dialect: "sqlite" | "postgres",
    /** Makes commits durable; absent where every commit already is (PostgreSQL). */
    private readonly wal?: WalSync,
  ) {}

  /** Resolves once every transaction committed before the call is durable. */
  async sync(): Promise<void> {
    await this.wal?.sync();
  }

  /** Runs a write transaction and answers only once it is durable. */
  private async write<T>(work: (tx: Transaction<Database>) => Promise<T>): Promise<T> {
    const result = await this.transaction(work);
    await this.sync();
    return result;
  }

  /**
   * One transaction. On PostgreSQL (READ COMMITTED) two replicas may deadlock on rows they
   * update in different orders (blob counters, dataset counters), or, rarely, fail to
   * serialize; the database then aborts one of them whole, and running it again is correct.
   */
  private async transaction<T>(work: (tx: Transaction<Database>) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.transaction().execute(work);
      } catch (err) {
        if (this.dialect !== "postgres" || attempt >= MAX_ATTEMPTS || !isRetryable(err)) throw err;
        await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
      }
    }
  }

  async migrate(): Promise<void> {
    const migrator = new Migrator({ db: this.db, provider: migrationProvider(this.dialect) });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
      throw new Error(`database migration ${failed} failed: ${String(error)}`, { cause: error });
    }
  }

  async maintain(): Promise<void> {
    if (this.dialect === "sqlite") await sql`pragma optimize`.execute(this.db);
  }

  async close(): Promise<void> {
    await this.wal?.close();
    await this.db.destroy();
  }

  async settingOrInsert(name: string, value: string): Promise<string> {
    await this.db
      .insertInto("settings")
      .values({ name, value })
      .onConflict((oc) => oc.column("name").doNothing())
      .execute();
    await this.sync();
    const row = await this.db.selectFrom("settings").select("value").where("name", "=", name).executeTakeFirstOrThrow();
    return row.value;
  }

  // ---- organizations and keys ----

  createOrganization(org: OrganizationRecord, firstKey: SecretKeyRecord, onlyIfFirst = false): Promise<boolean> {
    return this.write((tx) => organizations.createOrganization(tx, this.dialect, org, firstKey, onlyIfFirst));
  }

  getOrganization(orgId: string): Promise<OrganizationRecord | undefined> {
    return organizations.getOrganization(this.db, orgId);
  }

  countOrganizations(): Promise<number> {
    return organizations.countOrganizations(this.db);
  }

  async createSecretKey(key: SecretKeyRecord): Promise<void> {
    await organizations.insertKey(this.db, key);
    await this.sync();
  }

  findSecretKeyByHash(keyHash: string): Promise<SecretKeyRecord | undefined> {
    return organizations.findSecretKeyByHash(this.db, keyHash);
  }

  listSecretKeys(orgId: string): Promise<SecretKeyRecord[]> {
    return organizations.listSecretKeys(this.db, orgId);
  }

  deleteSecretKey(orgId: string, keyId: string): Promise<"deleted" | "last" | "missing"> {
    return this.write((tx) => organizations.deleteSecretKey(tx, orgId, keyId));
  }

  // ---- datasets ----

  async createDataset(d: DatasetRecord): Promise<boolean> {
    const created = await datasets.createDataset(this.db, d);
    await this.sync();
    return created;
  }

  getDataset(orgId: string, datasetId: string): Promise<DatasetRecord | undefined> {
    return datasets.getDataset(this.db, orgId, datasetId);
  }

  listDatasets(orgId: string): Promise<DatasetRecord[]> {
    return datasets.listDatasets(this.db, orgId);
  }

  datasetStats(orgId: string, datasetIds: string[]): Promise<Map<string, DatasetStats>> {
    return datasets.datasetStats(this.db, orgId, datasetIds);
  }

  deleteDataset(orgId: string, datasetId: string): Promise<DeleteResult | undefined> {
    return this.write((tx) => datasets.deleteDataset(tx, this.dialect, orgId, datasetId));
  }

  // ---- assets ----

  listAssets(query: AssetListQuery): Promise<AssetRecord[]> {
    return assets.listAssets(this.db, this.dialect, this.planner, query);
  }

  countAssets(orgId: string, datasetId: string, selection?: AssetSelection): Promise<number> {
    return assets.countAssets(this.db, this.dialect, this.planner, orgId, datasetId, selection);
  }

  getAsset(orgId: string, datasetId: string, assetId: string): Promise<AssetRecord | undefined> {
    return assets.getAsset(this.db, orgId, datasetId, assetId);
  }

  deleteAsset(orgId: string, datasetId: string, assetId: string): Promise<DeleteResult | undefined> {
    return this.write((tx) => assets.deleteAsset(tx, orgId, datasetId, assetId));
  }

  updateCustomMetadata(
    orgId: string,
    datasetId: string,
    updates: CustomMetadataUpdate[],
    check: (assetId: string, merged: CustomMetadata) => void,
  ): Promise<{ assets: AssetRecord[] } | { missing: string }> {
    return this.write(async (tx) => {
      const result = await assets.updateCustomMetadata(tx, this.dialect, orgId, datasetId, updates, check);
      // An unknown id changes nothing: roll back what the updates before it wrote.
      if ("missing" in result) throw new MissingAsset(result.missing);
      return result;
    }).catch((err: unknown) => {
      if (err instanceof MissingAsset) return { missing: err.assetId };
      throw err;
    });
  }

  findBlobFacts(orgId: string, sha256s: string[]): Promise<Map<string, ImageFacts & { fileSize: number }>> {
    return assets.findBlobFacts(this.db, orgId, sha256s);
  }

  findAssetsByFilename(
    orgId: string,
    datasetId: string,
    filenames: string[],
  ): Promise<Map<string, { assetId: string; sha256: string; fileSize: number }>> {
    return assets.findAssetsByFilename(this.db, orgId, datasetId, filenames);
  }

  async unreferencedBlobs(sha256s: string[]): Promise<string[]> {
    if (sha256s.length === 0) return [];
    const rows = await this.db.selectFrom("blobs").select("sha256").where("sha256", "in", sha256s).execute();
    const known = new Set(rows.map((r) => r.sha256));
    return sha256s.filter((s) => !known.has(s));
  }

  // ---- bytes to delete ----
  // Like processing claims, these need no sync of their own: a lost claim is due again, and a
  // lost forget only makes a later release find the bytes gone.

  claimBlobReleases(limit: number, leaseMs: number): Promise<string[]> {
    return this.transaction((tx) => releases.claimBlobReleases(tx, this.dialect, limit, leaseMs, Date.now()));
  }

  forgetBlobReleases(sha256s: string[]): Promise<void> {
    return releases.forgetBlobReleases(this.db, sha256s);
  }

  deferBlobReleases(sha256s: string[], runAfter: number): Promise<void> {
    return releases.deferBlobReleases(this.db, sha256s, runAfter);
  }

  pendingBlobReleases(): Promise<number> {
    return releases.pendingBlobReleases(this.db);
  }

  async isBlobReferenced(sha256: string): Promise<boolean> {
    const row = await this.db.selectFrom("blobs").select("sha256").where("sha256", "=", sha256).executeTakeFirst();
    return row !== undefined;
  }

  // ---- ingestion ----

  createSession(s: IngestionSessionRecord, files: IngestionFileRecord[]): Promise<void> {
    return this.write((tx) => ingestion.createSession(tx, s, files));
  }

  getSession(orgId: string, sessionId: string): Promise<IngestionSessionRecord | undefined> {
    return ingestion.getSession(this.db, orgId, sessionId);
  }

  getSessionById(sessionId: string): Promise<IngestionSessionRecord | undefined> {
    return ingestion.getSessionById(this.db, sessionId);
  }

  listSessionFiles(sessionId: string, states?: IngestionFileRecord["state"][]): Promise<IngestionFileRecord[]> {
    return ingestion.listSessionFiles(this.db, sessionId, states);
  }

  getSessionFile(sessionId: string, fileIndex: number): Promise<IngestionFileRecord | undefined> {
    return ingestion.getSessionFile(this.db, sessionId, fileIndex);
  }

  async commitFiles(entries: FileCommit[]): Promise<(CommitResult | undefined)[]> {
    if (entries.length === 0) return [];
    return this.write((tx) => ingestion.commitFiles(tx, this.dialect, entries));
  }

  failFile(
    sessionId: string,
    fileIndex: number,
    code: FileErrorCode,
    message: string,
    failSession: boolean,
  ): Promise<boolean> {
    return this.write((tx) => ingestion.failFile(tx, sessionId, fileIndex, code, message, failSession));
  }

  failPendingFiles(sessionId: string, code: FileErrorCode, message: string): Promise<number> {
    return this.write((tx) => ingestion.failPendingFiles(tx, sessionId, code, message));
  }

  // ---- annotations ----

  createAnnotation(a: Omit<AnnotationRecord, "tagId">): Promise<AnnotationRecord | undefined> {
    return this.write((tx) => annotations.createAnnotation(tx, a));
  }

  listAnnotations(
    orgId: string,
    datasetId: string,
    assetId: string,
    page: AnnotationPage,
  ): Promise<AnnotationRecord[]> {
    return annotations.listAnnotations(this.db, orgId, datasetId, assetId, page);
  }

  getAnnotation(
    orgId: string,
    datasetId: string,
    assetId: string,
    annotationId: string,
  ): Promise<AnnotationRecord | undefined> {
    return annotations.getAnnotation(this.db, orgId, datasetId, assetId, annotationId);
  }

  deleteAnnotation(orgId: string, datasetId: string, assetId: string, annotationId: string): Promise<boolean> {
    return this.write((tx) => annotations.deleteAnnotation(tx, orgId, datasetId, assetId, annotationId));
  }

  // ---- bulk deletes ----

  createDeletionSession(
    session: Omit<DeletionSessionRecord, "selected" | "deleted" | "state">,
    selection: AssetSelection,
  ): Promise<DeletionSessionRecord> {
    return this.write((tx) => deletions.createDeletionSession(tx, this.dialect, this.planner, session, selection));
  }

  getDeletionSession(orgId: string, datasetId: string, sessionId: string): Promise<DeletionSessionRecord | undefined> {
    return deletions.getDeletionSession(this.db, orgId, datasetId, sessionId);
  }

  purgeSessions(before: number, limit: number): Promise<{ ingestion: number; deletion: number }> {
    return this.write(async (tx) => {
      // One replica purges at a time; the others find nothing to do this round.
      if (this.dialect === "postgres" && !(await tryAdvisoryLock(tx, "purge-sessions")))
        return { ingestion: 0, deletion: 0 };
      return {
        ingestion: await ingestion.purgeIngestionSessions(tx, before, limit),
        deletion: await deletions.purgeDeletionSessions(tx, before, limit),
      };
    });
  }

  runningDeletionSessions(): Promise<DeletionSessionRecord[]> {
    return deletions.runningDeletionSessions(this.db);
  }

  deleteNextBatch(sessionId: string, limit: number): Promise<DeletionBatch> {
    return this.write((tx) => deletions.deleteNextBatch(tx, this.dialect, sessionId, limit));
  }

  // ---- processing ----
  // Claims and outcomes need no sync of their own: a claim lost in a crash is due again, and a
  // lost outcome is made again. They become durable with the next synced write, so background
  // work adds no flush to the upload path. Only an outcome that frees bytes is synced first.

  claimProcessingJobs(owner: string, limit: number, leaseMs: number): Promise<ClaimedJob[]> {
    return this.transaction((tx) => processing.claimJobs(tx, this.dialect, owner, limit, leaseMs, Date.now()));
  }

  async finishProcessingJobs(
    owner: string,
    finished: { job: ClaimedJob; outcome: ProcessingOutcome }[],
  ): Promise<{ applied: boolean[]; orphanedBlobs: string[] }> {
    const result = await this.transaction(async (tx) => {
      const applied: boolean[] = [];
      const orphanedBlobs: string[] = [];
      const t = Date.now();
      for (const { job, outcome } of finished) {
        const r = await processing.finishJob(tx, this.dialect, job, owner, outcome, t);
        applied.push(r.applied);
        orphanedBlobs.push(...r.orphanedBlobs);
      }
      return { applied, orphanedBlobs };
    });
    if (result.orphanedBlobs.length > 0) await this.sync();
    return result;
  }

  async retryProcessingJob(owner: string, job: ClaimedJob, error: string, runAfter: number): Promise<void> {
    await processing.retryJob(this.db, job, owner, error, runAfter);
  }

  releaseProcessingLeases(owner: string): Promise<number> {
    return this.write((tx) => processing.releaseLeases(tx, owner, Date.now()));
  }

  processedTwin(orgId: string, sha256: string, version: number): Promise<ProcessingOutcome | undefined> {
    return processing.processedTwin(this.db, orgId, sha256, version);
  }

  reprocessDataset(orgId: string, datasetId: string, olderThan?: number): Promise<number> {
    return this.write((tx) => processing.reprocessDataset(tx, orgId, datasetId, olderThan, Date.now()));
  }

  sessionProcessing(sessionId: string): Promise<ProcessingCounts> {
    return processing.sessionProcessing(this.db, sessionId);
  }

  processingBacklog(): Promise<number> {
    return processing.processingBacklog(this.db);
  }
}

/** Attempts of a PostgreSQL transaction that deadlocked or failed to serialize. */
const MAX_ATTEMPTS = 5;

/** Unwinds an update transaction when one of its assets does not exist. */
class MissingAsset extends Error {
  constructor(readonly assetId: string) {
    super(`asset ${assetId} not found`);
  }
}
