import type { Readable } from "node:stream";
import type { FileErrorCode, IngestionSpec } from "@vi/protocol";
import { crc32c } from "@node-rs/crc32";
import { checkCustomMetadata } from "./custom-metadata.js";
import { nextChange } from "./changes.js";
import { ApiError, FileRejection, notFound } from "../errors.js";
import { MediaError, probeImageBytes, probeImageFile, type ImageInfo } from "../media/index.js";
import { BlobTooLargeError, type StagedBlob } from "../store/blob/blob-store.js";
import type { IngestionFileRecord, IngestionSessionRecord } from "../store/metadata/records.js";
import type { FileCommit, ProcessingCounts } from "../store/metadata/metadata-store.js";
import { normalizeFilename } from "../util/filenames.js";
import { newId } from "../util/ids.js";
import { Deduplication } from "./deduplication.js";
import { GroupCommitter } from "./group-committer.js";
import { BATCH_LIMITS } from "./batch-upload.js";
import type { BlobReleaser } from "./blob-releaser.js";
import type { ServiceContext } from "./context.js";
import type { DatasetService } from "./dataset-service.js";

export interface SessionView {
  session: IngestionSessionRecord;
  files: IngestionFileRecord[];
  /** Once the session is settled: how its committed assets stand in processing. */
  processing?: ProcessingCounts;
}

export interface UploadTargetView {
  url: string;
  expiry: number;
  method: "PUT";
  headers: Record<string, string>;
}

export interface BatchTargetView {
  url: string;
  expiry: number;
  method: "PUT";
  maxFiles: number;
  maxFileBytes: number;
  maxBytes: number;
}

export interface ReceivedFile {
  filename: string;
  assetId: string;
}

/** How long one wait for a change lasts before the store is read again (other replicas' writes). */
const POLL_SLICE_MS = 500;

export interface ReceiveOptions {
  signal?: AbortSignal;
  /**
   * Awaited once the bytes have passed every check and before they are committed: bytes landed
   * in a bucket are verified several at once, and this keeps their commits in file order.
   */
  beforeCommit?: () => Promise<void>;
}

/**
 * The upload path: a session holds one batch's manifest; each file's bytes arrive on a signed
 * URL, are staged and measured, checked against the manifest and the image rules, made durable
 * and only then committed as an asset. A file fails alone unless the session says FailAfterOne.
 */
export class IngestionService {
  private readonly committer: GroupCommitter;
  private readonly deduplication: Deduplication;
  /**
   * With bytes uploaded straight to a bucket: verifies and commits what has landed for a
   * session (see PresignedUploads); status reads and long-polls call it on every look.
   */
  landing?: (sessionId: string) => Promise<void>;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly datasets: DatasetService,
    private readonly releaser: BlobReleaser,
  ) {
    this.committer = new GroupCommitter(ctx.metadata);
    this.deduplication = new Deduplication(ctx, releaser);
  }

  async create(orgId: string, datasetId: string, spec: IngestionSpec): Promise<SessionView> {
    await this.datasets.require(orgId, datasetId);
    const t = Date.now();
    const failureMode = spec.failureMode ?? "FailAfterOne";
    const onOverwrite =
      spec.onAssetOverwritten === "RemoveLinkedResource" || spec.onAssetOverwritten === undefined
        ? "RemoveLinkedResource"
        : "KeepLinkedResources";
    const session: IngestionSessionRecord = {
      sessionId: newId(),
      orgId,
      datasetId,
      failureMode,
      onOverwrite,
      state: "Running",
      failureReason: null,
      total: spec.assets.length,
      succeeded: 0,
      errored: 0,
      createdAt: t,
      updatedAt: t,
      expiresAt: t + this.ctx.config.uploadUrlTtlSeconds * 1000,
      generation: 1,
    };
    const seen = new Map<string, number>();
    const files: IngestionFileRecord[] = [];
    let firstFailure: string | undefined;
    for (const [fileIndex, a] of spec.assets.entries()) {
      if (a.customMetadata) checkCustomMetadata(a.customMetadata, `spec.assets[${fileIndex}] '${a.filename}'`);
      const file: IngestionFileRecord = {
        sessionId: session.sessionId,
        fileIndex,
        filename: a.filename,
        mime: a.mime ?? "application/octet-stream",
        size: a.size,
        crc32c: a.crc32c,
        sha256: a.sha256 ?? null,
        customMetadata: a.customMetadata ?? null,
        state: "pending",
        errorCode: null,
        errorMessage: null,
        assetId: null,
        deduplicated: false,
        updatedAt: t,
      };
      const reject = (code: FileErrorCode, reason: string) => {
        file.state = "failed";
        file.errorCode = code;
        file.errorMessage = reason;
        session.errored++;
        firstFailure ??= `${a.filename}: ${reason}`;
      };
      const name = normalizeFilename(a.filename);
      if (!name.ok) {
        reject("EUNKNOWN", `unsafe filename: ${name.reason}`);
      } else {
        file.filename = name.filename;
        const dup = seen.get(name.filename);
        if (dup !== undefined) {
          throw new ApiError(
            "InvalidParameter",
            `The manifest names '${name.filename}' twice (files ${dup} and ${fileIndex})`,
            "Give every file of a batch its own filename.",
          );
        }
        seen.set(name.filename, fileIndex);
        if (a.size > this.ctx.config.maxFileSize) {
          reject(
            "EBADSIZE",
            `file is ${a.size} bytes, over this server's limit of ${this.ctx.config.maxFileSize} bytes`,
          );
        } else if (a.size === 0) {
          reject("EBADMIME", "file is empty");
        }
      }
      files.push(file);
    }
    const dedup = await this.deduplication.plan(orgId, datasetId, session, files);
    if (firstFailure && failureMode === "FailAfterOne") {
      session.state = "Failed";
      session.failureReason = firstFailure;
    } else if (session.errored + session.succeeded === session.total) {
      session.state = "Finished";
    }
    await this.ctx.metadata.createSession(session, files);
    if (session.state === "Running" && dedup.length > 0) {
      // Bytes this organization already holds are committed at once: no upload target, no bytes.
      await this.deduplication.commit(dedup);
    }
    return this.view(orgId, session.sessionId);
  }

  /**
   * The session as it stands; with `waitMs`, waits until it is settled (and with `processed`,
   * until its assets are processed too) or the time is up.
   */
  async status(
    orgId: string,
    datasetId: string,
    sessionId: string,
    waitMs = 0,
    signal?: AbortSignal,
    processed = false,
  ): Promise<SessionView> {
    const deadline = Date.now() + waitMs;
    // While waiting, only the session row is read: its files (up to 10,000) once, at the end.
    for (;;) {
      if (this.landing) {
        const before = await this.ctx.metadata.getSession(orgId, sessionId);
        // Before expiry is applied: bytes that landed in time are verified first.
        if (before?.state === "Running" && before.datasetId === datasetId) await this.landing(sessionId);
      }
      const session = await this.current(orgId, sessionId);
      if (session.datasetId !== datasetId) throw notFound("Upload session", sessionId);
      const left = deadline - Date.now();
      if (session.state !== "Running" || left <= 0 || signal?.aborted) break;
      await nextChange(this.ctx.sessionChanges, sessionId, Math.min(left, POLL_SLICE_MS), signal);
    }
    while (processed) {
      const left = deadline - Date.now();
      if (left <= 0 || signal?.aborted) break;
      const counts = await this.ctx.metadata.sessionProcessing(sessionId);
      if (counts.processing === 0) break;
      // Woken by an asset processed here; outcomes recorded by another server are polled.
      await nextChange(this.ctx.processingEvents, "processed", Math.min(left, POLL_SLICE_MS), signal);
    }
    return this.view(orgId, sessionId);
  }

  async view(orgId: string, sessionId: string): Promise<SessionView> {
    const session = await this.current(orgId, sessionId);
    const files = await this.ctx.metadata.listSessionFiles(sessionId);
    if (session.state === "Running") return { session, files };
    return { session, files, processing: await this.ctx.metadata.sessionProcessing(sessionId) };
  }

  /** Settles a session whose upload URLs have expired: its missing files fail with ENOASSET. */
  async settleExpired(orgId: string, sessionId: string): Promise<void> {
    await this.current(orgId, sessionId);
  }

  /** The session row, after settling it if its upload URLs have expired with files still missing. */
  private async current(orgId: string, sessionId: string): Promise<IngestionSessionRecord> {
    const session = await this.ctx.metadata.getSession(orgId, sessionId);
    if (!session) throw notFound("Upload session", sessionId);
    if (session.state !== "Running" || Date.now() <= session.expiresAt) return session;
    await this.ctx.metadata.failPendingFiles(sessionId, "ENOASSET", "no bytes arrived before the upload URL expired");
    return (await this.ctx.metadata.getSession(orgId, sessionId))!;
  }

  /** [ext] Where the SDK sends many small files of the session in one request (see BatchUpload). */
  batchTarget(session: IngestionSessionRecord): BatchTargetView {
    return {
      url: this.ctx.signer.sign("upload", batchPath(session.sessionId), session.expiresAt),
      expiry: session.expiresAt,
      method: "PUT",
      ...BATCH_LIMITS,
    };
  }

  uploadTarget(session: IngestionSessionRecord, file: IngestionFileRecord): UploadTargetView {
    const path = uploadPath(session.sessionId, file.fileIndex);
    return {
      url: this.ctx.signer.sign("upload", path, session.expiresAt),
      expiry: session.expiresAt,
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
    };
  }

  /**
   * Receives one file's bytes. Answers the asset it became, or throws: an ApiError for a request
   * that cannot apply (unknown file, settled session), a FileRejection for bytes that failed the
   * rules (the file is then failed in its session, and with FailAfterOne the session too).
   */
  async receive(
    sessionId: string,
    fileIndex: number,
    body: Readable,
    declaredLength: number | undefined,
    opts: ReceiveOptions = {},
  ): Promise<ReceivedFile> {
    const { signal } = opts;
    const session = await this.ctx.metadata.getSessionById(sessionId);
    const file = session && (await this.ctx.metadata.getSessionFile(sessionId, fileIndex));
    if (!session || !file) throw notFound("Upload target", `${sessionId}/${fileIndex}`);
    if (file.state === "succeeded" && file.assetId) {
      // A retried PUT of a file already committed: one asset, never two. Other bytes under the
      // same URL are not that retry, and are refused rather than silently dropped.
      const again = await measure(body, file.size + 1);
      if (again.size !== file.size || again.crc32c !== file.crc32c) {
        throw new ApiError(
          "ResourceConflict",
          `${file.filename} is already committed in this session with other bytes (${file.size} bytes, CRC-32C ${file.crc32c}); these were not stored`,
          "Upload the new bytes in a new session: a re-upload of the filename replaces the asset.",
        );
      }
      return { filename: file.filename, assetId: file.assetId };
    }
    if (file.state === "failed") {
      throw new ApiError(
        "ResourceConflict",
        `${file.filename} already failed in this session: ${file.errorMessage ?? file.errorCode}`,
        "Upload it again in a new session.",
      );
    }
    if (session.state !== "Running") {
      throw new ApiError(
        "ResourceConflict",
        `This upload session is ${session.state.toLowerCase()} and takes no more bytes${session.failureReason ? ` (${session.failureReason})` : ""}`,
        "Start a new upload session.",
      );
    }
    let staged: StagedBlob | undefined;
    try {
      if (declaredLength !== undefined && declaredLength !== file.size) {
        throw new FileRejection(
          "EBADSIZE",
          `request carries ${declaredLength} bytes but the manifest declared ${file.size}`,
        );
      }
      staged = await this.stage(body, file.size, signal);
      const info = await this.verify(file, staged);
      await opts.beforeCommit?.();
      const result = await this.publishAndCommit(session, file, staged, info);
      staged = undefined;
      return result;
    } catch (err) {
      if (staged) await this.ctx.blobs.discard(staged);
      if (err instanceof FileRejection) await this.reject(session, file, err);
      throw err;
    }
  }

  /** Fails a file whose bytes broke a rule (and with FailAfterOne its session). */
  async reject(session: IngestionSessionRecord, file: IngestionFileRecord, err: FileRejection): Promise<void> {
    const failSession = session.failureMode === "FailAfterOne";
    await this.ctx.metadata.failFile(session.sessionId, file.fileIndex, err.code, err.reason, failSession);
    this.ctx.sessionChanges.emit(session.sessionId);
  }

  /** Checks staged bytes against their manifest entry and the image rules; throws FileRejection. */
  async verify(file: IngestionFileRecord, staged: StagedBlob): Promise<ImageInfo> {
    this.check(file, staged);
    return this.probe(staged);
  }

  /** A PUT whose URL has expired fails its file, as the contract's ETIMEOUT says. */
  async expire(sessionId: string, fileIndex: number): Promise<void> {
    const session = await this.ctx.metadata.getSessionById(sessionId);
    if (!session) return;
    if (
      await this.ctx.metadata.failFile(
        sessionId,
        fileIndex,
        "ETIMEOUT",
        "the upload URL expired before the bytes came",
        session.failureMode === "FailAfterOne",
      )
    ) {
      this.ctx.sessionChanges.emit(sessionId);
    }
  }

  private async stage(body: Readable, size: number, signal?: AbortSignal): Promise<StagedBlob> {
    try {
      return await this.ctx.blobs.stage(body, { maxBytes: size, ...(signal ? { signal } : {}) });
    } catch (err) {
      if (err instanceof BlobTooLargeError)
        throw new FileRejection("EBADSIZE", `more bytes arrived than the manifest declared (${size})`);
      throw err;
    }
  }

  private check(file: IngestionFileRecord, staged: StagedBlob): void {
    if (staged.size !== file.size) {
      throw new FileRejection("EBADSIZE", `${staged.size} bytes arrived but the manifest declared ${file.size}`);
    }
    if (staged.crc32c !== file.crc32c) {
      throw new FileRejection(
        "ECORRUPT",
        `CRC-32C mismatch: the bytes give ${staged.crc32c}, the manifest declared ${file.crc32c}`,
      );
    }
    if (file.sha256 && file.sha256 !== staged.sha256) {
      throw new FileRejection(
        "ECORRUPT",
        `SHA-256 mismatch: the bytes give ${staged.sha256}, the manifest declared ${file.sha256}`,
      );
    }
  }

  private async probe(staged: StagedBlob): Promise<ImageInfo> {
    const options = { maxPixels: this.ctx.config.maxPixels };
    try {
      return await (staged.bytes ? probeImageBytes(staged.bytes, options) : probeImageFile(staged.localPath, options));
    } catch (err) {
      if (err instanceof MediaError) throw new FileRejection(err.code, err.reason);
      throw err;
    }
  }

  /** What committing verified bytes as the file's asset writes. */
  commitOf(
    session: IngestionSessionRecord,
    file: IngestionFileRecord,
    staged: StagedBlob,
    info: ImageInfo,
  ): FileCommit {
    return {
      sessionId: session.sessionId,
      fileIndex: file.fileIndex,
      newAssetId: newId(),
      asset: {
        filename: file.filename,
        sha256: staged.sha256,
        fileSize: staged.size,
        customMetadata: file.customMetadata,
        mimeType: info.mimeType,
        width: info.width,
        height: info.height,
        rawWidth: info.rawWidth,
        rawHeight: info.rawHeight,
        orientation: info.orientation,
        frames: info.frames,
      },
    };
  }

  private async publishAndCommit(
    session: IngestionSessionRecord,
    file: IngestionFileRecord,
    staged: StagedBlob,
    info: ImageInfo,
  ): Promise<ReceivedFile> {
    const commit = this.commitOf(session, file, staged, info);
    // Durable bytes first, then the row: a crash between the two leaves an unreferenced blob
    // (swept at start), never a row without its bytes.
    const result = await this.ctx.blobLocks.run(staged.sha256, async () => {
      try {
        await this.ctx.blobs.publish(staged);
        const committed = await this.committer.commit(commit);
        if (committed) this.ctx.onAssetsCommitted?.();
        if (!committed && !(await this.ctx.metadata.isBlobReferenced(staged.sha256)))
          await this.ctx.blobs.delete(staged.sha256);
        return committed;
      } catch (err) {
        // A storage fault (disk full, I/O error) left bytes no row may reference: they go too.
        if (!(await this.ctx.metadata.isBlobReferenced(staged.sha256).catch(() => true)))
          await this.ctx.blobs.delete(staged.sha256).catch(() => undefined);
        throw err;
      }
    });
    this.ctx.sessionChanges.emit(session.sessionId);
    if (!result) {
      const now = await this.ctx.metadata.getSessionFile(session.sessionId, file.fileIndex);
      if (now?.state === "succeeded" && now.assetId) return { filename: file.filename, assetId: now.assetId };
      throw new ApiError(
        "ResourceConflict",
        `This upload session stopped taking bytes before ${file.filename} was committed`,
        "Start a new upload session.",
      );
    }
    await this.releaser.release(result.orphanedBlobs);
    return { filename: file.filename, assetId: result.assetId };
  }
}

export const uploadPath = (sessionId: string, fileIndex: number): string => `/uploads/${sessionId}/${fileIndex}`;
export const batchPath = (sessionId: string): string => `/uploads/${sessionId}/batch`;

/** Size and CRC-32C of a body, read without keeping it; reading stops once it passes `limit` bytes. */
async function measure(body: Readable, limit: number): Promise<{ size: number; crc32c: number }> {
  let size = 0;
  let crc = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) break;
    crc = crc32c(chunk, crc);
  }
  return { size, crc32c: crc | 0 };
}
