import { Migrator, sql, type Kysely, type Selectable, type Transaction } from "kysely";
import type { CustomMetadata, FileErrorCode } from "@vi/protocol";
import type { Database } from "./schema.js";
import { migrationProvider } from "./migrations.js";
import type { WalSync } from "./wal-sync.js";
import type {
  AssetListQuery,
  AssetSortKey,
  CommitResult,
  DeleteResult,
  FileCommit,
  MetadataStore,
} from "./metadata-store.js";
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

type Db = Kysely<Database> | Transaction<Database>;
type AssetRow = Selectable<Database["assets"]>;

const SORT_COLUMN: Record<AssetSortKey, keyof AssetRow> = {
  seq: "seq",
  assetId: "asset_id",
  filename: "filename",
  contentsUpdatedAt: "contents_updated_at",
  fileSize: "file_size",
  width: "width",
  height: "height",
  createdAt: "created_at",
};

/** pg answers 64-bit integers as strings; SQLite answers numbers. Both become numbers here. */
const num = (v: unknown): number => (typeof v === "number" ? v : Number(v));

/**
 * The MetadataStore over Kysely: one implementation for SQLite and PostgreSQL. Each public
 * method is one transaction where it writes more than one row.
 */
export class KyselyMetadataStore implements MetadataStore {
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
    const result = await this.db.transaction().execute(work);
    await this.sync();
    return result;
  }

  async migrate(): Promise<void> {
    const migrator = new Migrator({ db: this.db, provider: migrationProvider(this.dialect) });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
      throw new Error(`database migration ${failed} failed: ${String(error)}`, { cause: error });
    }
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

  async createOrganization(org: OrganizationRecord, firstKey: SecretKeyRecord): Promise<void> {
    await this.write(async (tx) => {
      await tx
        .insertInto("organizations")
        .values({ org_id: org.orgId, name: org.name, created_at: org.createdAt })
        .execute();
      await insertKey(tx, firstKey);
    });
  }

  async getOrganization(orgId: string): Promise<OrganizationRecord | undefined> {
    const row = await this.db.selectFrom("organizations").selectAll().where("org_id", "=", orgId).executeTakeFirst();
    return row && { orgId: row.org_id, name: row.name, createdAt: num(row.created_at) };
  }

  async countOrganizations(): Promise<number> {
    const row = await this.db
      .selectFrom("organizations")
      .select((eb) => eb.fn.countAll().as("n"))
      .executeTakeFirstOrThrow();
    return num(row.n);
  }

  async createSecretKey(key: SecretKeyRecord): Promise<void> {
    await insertKey(this.db, key);
    await this.sync();
  }

  async findSecretKeyByHash(keyHash: string): Promise<SecretKeyRecord | undefined> {
    const row = await this.db.selectFrom("secret_keys").selectAll().where("key_hash", "=", keyHash).executeTakeFirst();
    return (
      row && {
        keyId: row.key_id,
        orgId: row.org_id,
        name: row.name,
        keyHash: row.key_hash,
        createdAt: num(row.created_at),
      }
    );
  }

  // ---- datasets ----

  async createDataset(d: DatasetRecord): Promise<boolean> {
    const res = await this.db
      .insertInto("datasets")
      .values({
        org_id: d.orgId,
        dataset_id: d.datasetId,
        name: d.name,
        description: d.description,
        type: d.type,
        content: d.content,
        created_at: d.createdAt,
        last_accessed: d.lastAccessed,
      })
      .onConflict((oc) => oc.columns(["org_id", "dataset_id"]).doNothing())
      .executeTakeFirst();
    await this.sync();
    return num(res.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  async getDataset(orgId: string, datasetId: string): Promise<DatasetRecord | undefined> {
    const row = await this.db
      .selectFrom("datasets")
      .selectAll()
      .where("org_id", "=", orgId)
      .where("dataset_id", "=", datasetId)
      .executeTakeFirst();
    return row && toDataset(row);
  }

  async listDatasets(orgId: string): Promise<DatasetRecord[]> {
    const rows = await this.db
      .selectFrom("datasets")
      .selectAll()
      .where("org_id", "=", orgId)
      .orderBy("created_at")
      .orderBy("dataset_id")
      .execute();
    return rows.map(toDataset);
  }

  async datasetStats(orgId: string, datasetIds: string[]): Promise<Map<string, DatasetStats>> {
    const stats = new Map<string, DatasetStats>();
    if (datasetIds.length === 0) return stats;
    for (const id of datasetIds) stats.set(id, { assetTotal: 0, annotationTotal: 0, assetAnnotated: 0, tagsCount: {} });
    const assetCounts = await this.db
      .selectFrom("assets")
      .select(["dataset_id", (eb) => eb.fn.countAll().as("n")])
      .where("org_id", "=", orgId)
      .where("dataset_id", "in", datasetIds)
      .groupBy("dataset_id")
      .execute();
    for (const r of assetCounts) stats.get(r.dataset_id)!.assetTotal = num(r.n);
    const tagCounts = await this.db
      .selectFrom("annotations")
      .select(["dataset_id", "tag", (eb) => eb.fn.countAll().as("n")])
      .where("org_id", "=", orgId)
      .where("dataset_id", "in", datasetIds)
      .groupBy(["dataset_id", "tag"])
      .execute();
    for (const r of tagCounts) {
      const s = stats.get(r.dataset_id)!;
      s.tagsCount[r.tag] = num(r.n);
      s.annotationTotal += num(r.n);
    }
    const annotated = await this.db
      .selectFrom("annotations")
      .select(["dataset_id", (eb) => eb.fn.count("asset_id").distinct().as("n")])
      .where("org_id", "=", orgId)
      .where("dataset_id", "in", datasetIds)
      .groupBy("dataset_id")
      .execute();
    for (const r of annotated) stats.get(r.dataset_id)!.assetAnnotated = num(r.n);
    return stats;
  }

  async deleteDataset(orgId: string, datasetId: string): Promise<DeleteResult | undefined> {
    return this.write(async (tx) => {
      const exists = await tx
        .selectFrom("datasets")
        .select("dataset_id")
        .where("org_id", "=", orgId)
        .where("dataset_id", "=", datasetId)
        .executeTakeFirst();
      if (!exists) return undefined;
      const shas = await tx
        .selectFrom("assets")
        .select(["sha256", (eb) => eb.fn.countAll().as("n")])
        .where("org_id", "=", orgId)
        .where("dataset_id", "=", datasetId)
        .groupBy("sha256")
        .execute();
      const orphanedBlobs: string[] = [];
      for (const { sha256, n } of shas) {
        if (await releaseBlob(tx, sha256, num(n))) orphanedBlobs.push(sha256);
      }
      await tx.deleteFrom("annotations").where("org_id", "=", orgId).where("dataset_id", "=", datasetId).execute();
      const del = await tx
        .deleteFrom("assets")
        .where("org_id", "=", orgId)
        .where("dataset_id", "=", datasetId)
        .executeTakeFirst();
      const sessions = tx
        .selectFrom("ingestion_sessions")
        .select("session_id")
        .where("org_id", "=", orgId)
        .where("dataset_id", "=", datasetId);
      await tx.deleteFrom("ingestion_files").where("session_id", "in", sessions).execute();
      await tx
        .deleteFrom("ingestion_sessions")
        .where("org_id", "=", orgId)
        .where("dataset_id", "=", datasetId)
        .execute();
      await tx.deleteFrom("datasets").where("org_id", "=", orgId).where("dataset_id", "=", datasetId).execute();
      return { deletedAssets: num(del.numDeletedRows), orphanedBlobs };
    });
  }

  // ---- assets ----

  async listAssets(q: AssetListQuery): Promise<AssetRecord[]> {
    const col = SORT_COLUMN[q.sortKey];
    const dir = q.descending ? "desc" : "asc";
    let query = this.db
      .selectFrom("assets")
      .selectAll()
      .where("org_id", "=", q.orgId)
      .where("dataset_id", "=", q.datasetId);
    if (q.after) {
      const { value, seq } = q.after;
      const cmp = q.descending ? "<" : ">";
      // Row-value comparison written out, so both dialects use the (col, seq) index.
      query =
        col === "seq"
          ? query.where("seq", cmp, seq)
          : query.where((eb) =>
              eb.or([eb(col, cmp, value as never), eb.and([eb(col, "=", value as never), eb("seq", cmp, seq)])]),
            );
    }
    if (col !== "seq") query = query.orderBy(col, dir);
    const rows = await query.orderBy("seq", dir).limit(q.limit).execute();
    return this.withAnnotationCounts(this.db, rows);
  }

  async countAssets(orgId: string, datasetId: string): Promise<number> {
    const row = await this.db
      .selectFrom("assets")
      .select((eb) => eb.fn.countAll().as("n"))
      .where("org_id", "=", orgId)
      .where("dataset_id", "=", datasetId)
      .executeTakeFirstOrThrow();
    return num(row.n);
  }

  async getAsset(orgId: string, datasetId: string, assetId: string): Promise<AssetRecord | undefined> {
    const row = await this.db
      .selectFrom("assets")
      .selectAll()
      .where("org_id", "=", orgId)
      .where("dataset_id", "=", datasetId)
      .where("asset_id", "=", assetId)
      .executeTakeFirst();
    if (!row) return undefined;
    return (await this.withAnnotationCounts(this.db, [row]))[0];
  }

  async deleteAsset(orgId: string, datasetId: string, assetId: string): Promise<DeleteResult | undefined> {
    return this.write(async (tx) => {
      const row = await tx
        .selectFrom("assets")
        .select(["sha256"])
        .where("org_id", "=", orgId)
        .where("dataset_id", "=", datasetId)
        .where("asset_id", "=", assetId)
        .executeTakeFirst();
      if (!row) return undefined;
      await tx.deleteFrom("annotations").where("asset_id", "=", assetId).execute();
      await tx.deleteFrom("assets").where("asset_id", "=", assetId).execute();
      const orphaned = await releaseBlob(tx, row.sha256, 1);
      return { deletedAssets: 1, orphanedBlobs: orphaned ? [row.sha256] : [] };
    });
  }

  async findBlobFacts(orgId: string, sha256s: string[]): Promise<Map<string, ImageFacts & { fileSize: number }>> {
    const facts = new Map<string, ImageFacts & { fileSize: number }>();
    for (const chunk of chunks([...new Set(sha256s)], 500)) {
      const rows = await this.db
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

  async findAssetsByFilename(
    orgId: string,
    datasetId: string,
    filenames: string[],
  ): Promise<Map<string, { assetId: string; sha256: string; fileSize: number }>> {
    const found = new Map<string, { assetId: string; sha256: string; fileSize: number }>();
    for (const chunk of chunks(filenames, 500)) {
      const rows = await this.db
        .selectFrom("assets")
        .select(["filename", "asset_id", "sha256", "file_size"])
        .where("org_id", "=", orgId)
        .where("dataset_id", "=", datasetId)
        .where("filename", "in", chunk)
        .execute();
      for (const r of rows)
        found.set(r.filename, { assetId: r.asset_id, sha256: r.sha256, fileSize: num(r.file_size) });
    }
    return found;
  }

  // ---- ingestion ----

  async createSession(s: IngestionSessionRecord, files: IngestionFileRecord[]): Promise<void> {
    await this.write(async (tx) => {
      await tx
        .insertInto("ingestion_sessions")
        .values({
          session_id: s.sessionId,
          org_id: s.orgId,
          dataset_id: s.datasetId,
          failure_mode: s.failureMode,
          on_overwrite: s.onOverwrite,
          state: s.state,
          failure_reason: s.failureReason,
          total: s.total,
          succeeded: s.succeeded,
          errored: s.errored,
          created_at: s.createdAt,
          updated_at: s.updatedAt,
          expires_at: s.expiresAt,
          generation: s.generation,
        })
        .execute();
      // Chunks keep each statement under SQLite's bound-parameter limit.
      for (let i = 0; i < files.length; i += 500) {
        await tx
          .insertInto("ingestion_files")
          .values(
            files.slice(i, i + 500).map((f) => ({
              session_id: f.sessionId,
              file_index: f.fileIndex,
              filename: f.filename,
              mime: f.mime,
              size: f.size,
              crc32c: f.crc32c,
              sha256: f.sha256,
              custom_metadata: f.customMetadata ? JSON.stringify(f.customMetadata) : null,
              state: f.state,
              error_code: f.errorCode,
              error_message: f.errorMessage,
              asset_id: f.assetId,
              deduplicated: f.deduplicated ? 1 : 0,
              updated_at: f.updatedAt,
            })),
          )
          .execute();
      }
    });
  }

  async getSession(orgId: string, sessionId: string): Promise<IngestionSessionRecord | undefined> {
    const row = await this.db
      .selectFrom("ingestion_sessions")
      .selectAll()
      .where("session_id", "=", sessionId)
      .where("org_id", "=", orgId)
      .executeTakeFirst();
    return row && toSession(row);
  }

  async getSessionById(sessionId: string): Promise<IngestionSessionRecord | undefined> {
    const row = await this.db
      .selectFrom("ingestion_sessions")
      .selectAll()
      .where("session_id", "=", sessionId)
      .executeTakeFirst();
    return row && toSession(row);
  }

  async listSessionFiles(sessionId: string, states?: IngestionFileRecord["state"][]): Promise<IngestionFileRecord[]> {
    let q = this.db.selectFrom("ingestion_files").selectAll().where("session_id", "=", sessionId);
    if (states) q = q.where("state", "in", states);
    const rows = await q.orderBy("file_index").execute();
    return rows.map(toFile);
  }

  async getSessionFile(sessionId: string, fileIndex: number): Promise<IngestionFileRecord | undefined> {
    const row = await this.db
      .selectFrom("ingestion_files")
      .selectAll()
      .where("session_id", "=", sessionId)
      .where("file_index", "=", fileIndex)
      .executeTakeFirst();
    return row && toFile(row);
  }

  async commitFiles(entries: FileCommit[]): Promise<(CommitResult | undefined)[]> {
    if (entries.length === 0) return [];
    return this.write(async (tx) => {
      const sessions = new Map<string, Selectable<Database["ingestion_sessions"]> | undefined>();
      const succeeded = new Map<string, number>();
      const results: (CommitResult | undefined)[] = [];
      for (const entry of entries) {
        if (!sessions.has(entry.sessionId)) {
          sessions.set(
            entry.sessionId,
            await tx
              .selectFrom("ingestion_sessions")
              .selectAll()
              .where("session_id", "=", entry.sessionId)
              .executeTakeFirst(),
          );
        }
        const session = sessions.get(entry.sessionId);
        const result = session?.state === "Running" ? await this.commitOne(tx, session, entry) : undefined;
        if (result) succeeded.set(entry.sessionId, (succeeded.get(entry.sessionId) ?? 0) + 1);
        results.push(result);
      }
      const t = Date.now();
      for (const [sessionId, done] of succeeded) {
        await tx
          .updateTable("ingestion_sessions")
          .set((eb) => ({ succeeded: eb("succeeded", "+", done), updated_at: t, generation: eb("generation", "+", 1) }))
          .where("session_id", "=", sessionId)
          .execute();
        await settleSession(tx, sessionId, t);
      }
      return results;
    });
  }

  private async commitOne(
    tx: Transaction<Database>,
    session: Selectable<Database["ingestion_sessions"]>,
    { fileIndex, asset: v, newAssetId, deduplicated }: FileCommit,
  ): Promise<CommitResult | undefined> {
    const t = Date.now();
    const orphanedBlobs: string[] = [];
    const previous = await tx
      .selectFrom("assets")
      .selectAll()
      .where("org_id", "=", session.org_id)
      .where("dataset_id", "=", session.dataset_id)
      .where("filename", "=", v.filename)
      .executeTakeFirst();
    // Claiming the file first makes a second commit of it (a retried PUT) a no-op.
    const claimed = await tx
      .updateTable("ingestion_files")
      .set({
        state: "succeeded",
        asset_id: previous?.asset_id ?? newAssetId,
        updated_at: t,
        deduplicated: deduplicated ? 1 : 0,
      })
      .where("session_id", "=", session.session_id)
      .where("file_index", "=", fileIndex)
      .where("state", "=", "pending")
      .executeTakeFirst();
    if (num(claimed.numUpdatedRows) === 0) return undefined;
    const customMetadata = v.customMetadata ? JSON.stringify(v.customMetadata) : undefined;
    let assetId = newAssetId;
    if (previous && previous.sha256 === v.sha256) {
      // The same bytes again (a re-run of an upload): nothing changes, annotations stay.
      assetId = previous.asset_id;
      if (customMetadata !== undefined && customMetadata !== previous.custom_metadata) {
        await tx
          .updateTable("assets")
          .set({ custom_metadata: customMetadata, updated_at: t })
          .where("seq", "=", previous.seq)
          .execute();
      }
    } else {
      await retainBlob(tx, v.sha256, v.fileSize, t);
      const facts = {
        sha256: v.sha256,
        file_size: v.fileSize,
        mime_type: v.mimeType,
        width: v.width,
        height: v.height,
        raw_width: v.rawWidth,
        raw_height: v.rawHeight,
        orientation: v.orientation,
        frames: v.frames,
        updated_at: t,
        contents_updated_at: t,
      };
      if (previous) {
        // Replace in place: the asset keeps its id and its place in the default order, and the
        // new bytes become visible in the same commit that retires the old ones.
        assetId = previous.asset_id;
        await tx
          .updateTable("assets")
          .set({
            ...facts,
            custom_metadata: customMetadata ?? previous.custom_metadata,
            generation: previous.generation + 1,
          })
          .where("seq", "=", previous.seq)
          .execute();
        if (session.on_overwrite === "RemoveLinkedResource") {
          await tx.deleteFrom("annotations").where("asset_id", "=", previous.asset_id).execute();
        }
        if (await releaseBlob(tx, previous.sha256, 1)) orphanedBlobs.push(previous.sha256);
      } else {
        await tx
          .insertInto("assets")
          .values({
            ...facts,
            asset_id: newAssetId,
            org_id: session.org_id,
            dataset_id: session.dataset_id,
            filename: v.filename,
            custom_metadata: customMetadata ?? "{}",
            created_at: t,
            generation: 1,
          })
          .execute();
      }
    }
    return { assetId, replaced: previous !== undefined, orphanedBlobs };
  }

  async unreferencedBlobs(sha256s: string[]): Promise<string[]> {
    if (sha256s.length === 0) return [];
    const rows = await this.db.selectFrom("blobs").select("sha256").where("sha256", "in", sha256s).execute();
    const known = new Set(rows.map((r) => r.sha256));
    return sha256s.filter((s) => !known.has(s));
  }

  async isBlobReferenced(sha256: string): Promise<boolean> {
    const row = await this.db.selectFrom("blobs").select("sha256").where("sha256", "=", sha256).executeTakeFirst();
    return row !== undefined;
  }

  async failFile(
    sessionId: string,
    fileIndex: number,
    code: FileErrorCode,
    message: string,
    failSession: boolean,
  ): Promise<boolean> {
    return this.write(async (tx) => {
      const t = Date.now();
      const res = await tx
        .updateTable("ingestion_files")
        .set({ state: "failed", error_code: code, error_message: message, updated_at: t })
        .where("session_id", "=", sessionId)
        .where("file_index", "=", fileIndex)
        .where("state", "=", "pending")
        .executeTakeFirst();
      if (num(res.numUpdatedRows) === 0) return false;
      await bumpSession(tx, sessionId, "errored", t);
      if (failSession) {
        await tx
          .updateTable("ingestion_sessions")
          .set({ state: "Failed", failure_reason: message, updated_at: t })
          .where("session_id", "=", sessionId)
          .where("state", "=", "Running")
          .execute();
      }
      return true;
    });
  }

  async failPendingFiles(sessionId: string, code: FileErrorCode, message: string): Promise<number> {
    return this.write(async (tx) => {
      const t = Date.now();
      const res = await tx
        .updateTable("ingestion_files")
        .set({ state: "failed", error_code: code, error_message: message, updated_at: t })
        .where("session_id", "=", sessionId)
        .where("state", "=", "pending")
        .executeTakeFirst();
      const n = num(res.numUpdatedRows);
      if (n > 0) {
        await tx
          .updateTable("ingestion_sessions")
          .set((eb) => ({ errored: eb("errored", "+", n), updated_at: t, generation: eb("generation", "+", 1) }))
          .where("session_id", "=", sessionId)
          .execute();
      }
      await settleSession(tx, sessionId, t);
      return n;
    });
  }

  // ---- annotations ----

  async createAnnotation(a: AnnotationRecord): Promise<void> {
    await this.db
      .insertInto("annotations")
      .values({
        annotation_id: a.annotationId,
        org_id: a.orgId,
        dataset_id: a.datasetId,
        asset_id: a.assetId,
        tag: a.tag,
        contents: JSON.stringify(a.contents ?? null),
        created_at: a.createdAt,
        updated_at: a.updatedAt,
      })
      .execute();
    await this.sync();
  }

  async listAnnotations(orgId: string, datasetId: string, assetId: string): Promise<AnnotationRecord[]> {
    const rows = await this.db
      .selectFrom("annotations")
      .selectAll()
      .where("org_id", "=", orgId)
      .where("dataset_id", "=", datasetId)
      .where("asset_id", "=", assetId)
      .orderBy("created_at")
      .orderBy("annotation_id")
      .execute();
    return rows.map((r) => ({
      annotationId: r.annotation_id,
      orgId: r.org_id,
      datasetId: r.dataset_id,
      assetId: r.asset_id,
      tag: r.tag,
      contents: JSON.parse(r.contents) as unknown,
      createdAt: num(r.created_at),
      updatedAt: num(r.updated_at),
    }));
  }

  async deleteAnnotation(orgId: string, datasetId: string, assetId: string, annotationId: string): Promise<boolean> {
    const res = await this.db
      .deleteFrom("annotations")
      .where("org_id", "=", orgId)
      .where("dataset_id", "=", datasetId)
      .where("asset_id", "=", assetId)
      .where("annotation_id", "=", annotationId)
      .executeTakeFirst();
    await this.sync();
    return num(res.numDeletedRows) > 0;
  }

  /** One query for the annotation counts of a whole page, not one per asset. */
  private async withAnnotationCounts(db: Db, rows: AssetRow[]): Promise<AssetRecord[]> {
    const counts = new Map<string, Record<string, number>>();
    if (rows.length > 0) {
      const tagRows = await db
        .selectFrom("annotations")
        .select(["asset_id", "tag", (eb) => eb.fn.countAll().as("n")])
        .where(
          "asset_id",
          "in",
          rows.map((r) => r.asset_id),
        )
        .groupBy(["asset_id", "tag"])
        .execute();
      for (const r of tagRows) {
        const m = counts.get(r.asset_id) ?? {};
        m[r.tag] = num(r.n);
        counts.set(r.asset_id, m);
      }
    }
    return rows.map((r) => {
      const tags = counts.get(r.asset_id) ?? {};
      return {
        seq: num(r.seq),
        assetId: r.asset_id,
        orgId: r.org_id,
        datasetId: r.dataset_id,
        filename: r.filename,
        sha256: r.sha256,
        fileSize: num(r.file_size),
        mimeType: r.mime_type,
        width: r.width,
        height: r.height,
        rawWidth: r.raw_width,
        rawHeight: r.raw_height,
        orientation: r.orientation,
        frames: r.frames,
        customMetadata: JSON.parse(r.custom_metadata) as CustomMetadata,
        createdAt: num(r.created_at),
        updatedAt: num(r.updated_at),
        contentsUpdatedAt: num(r.contents_updated_at),
        generation: r.generation,
        annotationTotal: Object.values(tags).reduce((a, b) => a + b, 0),
        annotationTags: tags,
      };
    });
  }
}

function* chunks<T>(items: T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

async function insertKey(db: Db, k: SecretKeyRecord): Promise<void> {
  await db
    .insertInto("secret_keys")
    .values({ key_id: k.keyId, org_id: k.orgId, name: k.name, key_hash: k.keyHash, created_at: k.createdAt })
    .execute();
}

async function retainBlob(tx: Db, sha256: string, size: number, t: number): Promise<void> {
  await tx
    .insertInto("blobs")
    .values({ sha256, size, ref_count: 1, created_at: t })
    .onConflict((oc) => oc.column("sha256").doUpdateSet((eb) => ({ ref_count: eb("blobs.ref_count", "+", 1) })))
    .execute();
}

/** Drops `n` references; answers true when none is left (the row is gone, the bytes may go). */
async function releaseBlob(tx: Db, sha256: string, n: number): Promise<boolean> {
  await tx
    .updateTable("blobs")
    .set((eb) => ({ ref_count: eb("ref_count", "-", n) }))
    .where("sha256", "=", sha256)
    .execute();
  const res = await tx.deleteFrom("blobs").where("sha256", "=", sha256).where("ref_count", "<=", 0).executeTakeFirst();
  return num(res.numDeletedRows) > 0;
}

async function bumpSession(tx: Db, sessionId: string, counter: "succeeded" | "errored", t: number): Promise<void> {
  await tx
    .updateTable("ingestion_sessions")
    .set((eb) => ({ [counter]: eb(counter, "+", 1), updated_at: t, generation: eb("generation", "+", 1) }))
    .where("session_id", "=", sessionId)
    .execute();
  await settleSession(tx, sessionId, t);
}

/** A running session whose every file is settled is Finished. */
async function settleSession(tx: Db, sessionId: string, t: number): Promise<void> {
  await tx
    .updateTable("ingestion_sessions")
    .set({ state: "Finished", updated_at: t })
    .where("session_id", "=", sessionId)
    .where("state", "=", "Running")
    .where(sql<boolean>`succeeded + errored >= total`)
    .execute();
}

function toDataset(r: Selectable<Database["datasets"]>): DatasetRecord {
  return {
    orgId: r.org_id,
    datasetId: r.dataset_id,
    name: r.name,
    description: r.description,
    type: r.type,
    content: r.content,
    createdAt: num(r.created_at),
    lastAccessed: num(r.last_accessed),
  };
}

function toSession(r: Selectable<Database["ingestion_sessions"]>): IngestionSessionRecord {
  return {
    sessionId: r.session_id,
    orgId: r.org_id,
    datasetId: r.dataset_id,
    failureMode: r.failure_mode as IngestionSessionRecord["failureMode"],
    onOverwrite: r.on_overwrite as IngestionSessionRecord["onOverwrite"],
    state: r.state as IngestionSessionRecord["state"],
    failureReason: r.failure_reason,
    total: r.total,
    succeeded: r.succeeded,
    errored: r.errored,
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
    expiresAt: num(r.expires_at),
    generation: r.generation,
  };
}

function toFile(r: Selectable<Database["ingestion_files"]>): IngestionFileRecord {
  return {
    sessionId: r.session_id,
    fileIndex: r.file_index,
    filename: r.filename,
    mime: r.mime,
    size: num(r.size),
    crc32c: r.crc32c,
    sha256: r.sha256,
    customMetadata: r.custom_metadata ? (JSON.parse(r.custom_metadata) as CustomMetadata) : null,
    state: r.state as IngestionFileRecord["state"],
    errorCode: r.error_code as FileErrorCode | null,
    errorMessage: r.error_message,
    assetId: r.asset_id,
    deduplicated: r.deduplicated === 1,
    updatedAt: num(r.updated_at),
  };
}
