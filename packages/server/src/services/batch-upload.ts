import { Readable } from "node:stream";
import { ApiError, FileRejection, notFound } from "../errors.js";
import type { ImageInfo } from "../media/index.js";
import { BlobTooLargeError, type StagedBlob } from "../store/blob/blob-store.js";
import type { IngestionFileRecord } from "../store/metadata/records.js";
import type { BlobReleaser } from "./blob-releaser.js";
import type { ServiceContext } from "./context.js";
import type { IngestionService } from "./ingestion-service.js";
import { forEachLimit } from "../util/for-each-limit.js";

/**
 * [ext] Many small files of one session in one request, made durable together. The body is a
 * sequence of frames, each a 4-byte big-endian file index, a 4-byte big-endian size, then that
 * many bytes. Every frame is staged and checked first; then the good ones are made durable as a
 * group (one wait for all their fsyncs, each folder synced once) and committed in one
 * transaction, before the answer says what became of each. The per-file signed PUT stays what
 * the Python client uses; this is the SDK's path for small files.
 */
export const BATCH_LIMITS = {
  /** Files in one request. */
  maxFiles: 256,
  /** Bytes of one file sent this way (larger ones take the per-file PUT). */
  maxFileBytes: 4 * 1024 * 1024,
  /** Bytes of one request, frames included. */
  maxBytes: 64 * 1024 * 1024,
} as const;

/** Frames of one request staged and checked at once. */
const STAGE_CONCURRENCY = 8;

export type BatchFileResult =
  | { fileIndex: number; filename: string; assetId: string }
  | { fileIndex: number; filename?: string; error: { code: string; message: string } };

interface Frame {
  fileIndex: number;
  bytes: Buffer;
}

interface Verified {
  file: IngestionFileRecord;
  staged: StagedBlob;
  info: ImageInfo;
  at: number;
}

export class BatchUpload {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly ingestion: IngestionService,
    private readonly releaser: BlobReleaser,
  ) {}

  async receive(sessionId: string, body: Readable, signal?: AbortSignal): Promise<BatchFileResult[]> {
    const session = await this.ctx.metadata.getSessionById(sessionId);
    if (!session) throw notFound("Upload session", sessionId);
    const frames = await readFrames(body, signal);
    // Only the files sent: a session may hold 10,000, and a request carries a few dozen.
    const files = new Map<number, IngestionFileRecord>();
    for (const { fileIndex } of frames) {
      const file = await this.ctx.metadata.getSessionFile(sessionId, fileIndex);
      if (file) files.set(fileIndex, file);
    }
    const results: BatchFileResult[] = new Array(frames.length);
    const verified: Verified[] = [];
    // Frames are staged and checked several at once: each waits on the disk (create, write).
    try {
      await forEachLimit(frames, STAGE_CONCURRENCY, async (frame, at) => {
        const file = files.get(frame.fileIndex);
        if (!file) {
          results[at] = failure(frame.fileIndex, undefined, "ResourceNotFound", "no such file in this session");
          return;
        }
        if (file.state !== "pending" || session.state !== "Running") {
          // A retried or settled file: the per-file path knows every answer (same asset, conflict).
          results[at] = await this.ingestion
            .receive(
              sessionId,
              frame.fileIndex,
              Readable.from([frame.bytes]),
              frame.bytes.length,
              signal ? { signal } : {},
            )
            .then((r) => ({ fileIndex: file.fileIndex, ...r }))
            .catch((err: unknown) => failureOf(file, err));
          return;
        }
        let staged: StagedBlob | undefined;
        try {
          if (frame.bytes.length !== file.size)
            throw new FileRejection(
              "EBADSIZE",
              `${frame.bytes.length} bytes arrived but the manifest declared ${file.size}`,
            );
          staged = await this.ctx.blobs.stage(Readable.from([frame.bytes]), {
            maxBytes: file.size,
            deferSync: true,
            ...(signal ? { signal } : {}),
          });
          const info = await this.ingestion.verify(file, staged);
          verified.push({ file, staged, info, at });
        } catch (err) {
          if (staged) await this.ctx.blobs.discard(staged);
          const rejection = err instanceof BlobTooLargeError ? new FileRejection("EBADSIZE", err.message) : err;
          if (!(rejection instanceof FileRejection)) throw err;
          await this.ingestion.reject(session, file, rejection);
          results[at] = failureOf(file, rejection);
        }
      });
    } catch (err) {
      await this.discardAll(verified);
      throw err;
    }
    // One commit in frame order, whatever order the checks finished in.
    verified.sort((a, b) => a.at - b.at);
    await this.commit(session.sessionId, verified, results);
    return results;
  }

  /** Durable bytes first, then the rows, as for one file: a crash leaves unreferenced blobs, never rows without bytes. */
  private async commit(sessionId: string, verified: Verified[], results: BatchFileResult[]): Promise<void> {
    if (verified.length === 0) return;
    const session = (await this.ctx.metadata.getSessionById(sessionId))!;
    const staged = verified.map((v) => v.staged);
    const orphaned = await this.ctx.blobLocks.runAll(
      staged.map((s) => s.sha256),
      async () => {
        try {
          if (this.ctx.blobs.publishMany) await this.ctx.blobs.publishMany(staged);
          else for (const s of staged) await this.ctx.blobs.publish(s);
          const commits = verified.map((v) => this.ingestion.commitOf(session, v.file, v.staged, v.info));
          const committed = await this.ctx.metadata.commitFiles(commits);
          const freed: string[] = [];
          for (const [i, result] of committed.entries()) {
            const v = verified[i]!;
            if (result) {
              results[v.at] = { fileIndex: v.file.fileIndex, filename: v.file.filename, assetId: result.assetId };
              freed.push(...result.orphanedBlobs);
            } else {
              const message = "this upload session stopped taking bytes before the file was committed";
              results[v.at] = failure(v.file.fileIndex, v.file.filename, "ResourceConflict", message);
              if (!(await this.ctx.metadata.isBlobReferenced(v.staged.sha256)))
                await this.ctx.blobs.delete(v.staged.sha256);
            }
          }
          return freed;
        } catch (err) {
          // A storage fault left bytes no row may reference: they go too.
          for (const s of staged) {
            await this.ctx.blobs.discard(s).catch(() => undefined);
            if (!(await this.ctx.metadata.isBlobReferenced(s.sha256).catch(() => true)))
              await this.ctx.blobs.delete(s.sha256).catch(() => undefined);
          }
          throw err;
        }
      },
    );
    this.ctx.onAssetsCommitted?.();
    this.ctx.sessionChanges.emit(sessionId);
    await this.releaser.release(orphaned);
  }

  private async discardAll(verified: Verified[]): Promise<void> {
    for (const v of verified) await this.ctx.blobs.discard(v.staged).catch(() => undefined);
  }
}

const failure = (fileIndex: number, filename: string | undefined, code: string, message: string): BatchFileResult => ({
  fileIndex,
  ...(filename !== undefined ? { filename } : {}),
  error: { code, message },
});

function failureOf(file: IngestionFileRecord, err: unknown): BatchFileResult {
  if (err instanceof FileRejection) return failure(file.fileIndex, file.filename, err.code, err.reason);
  if (err instanceof ApiError) return failure(file.fileIndex, file.filename, err.code, err.message);
  if (err instanceof BlobTooLargeError) return failure(file.fileIndex, file.filename, "EBADSIZE", err.message);
  throw err;
}

/**
 * Reads the whole body as frames, within the limits: a malformed body is refused as a whole
 * (400) before anything is staged, so a cut request commits nothing.
 */
async function readFrames(body: Readable, signal?: AbortSignal): Promise<Frame[]> {
  const frames: Frame[] = [];
  // Frames are cut from the chunks as they come; only a frame split across chunks is copied.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let total = 0;
  let head: { fileIndex: number; size: number } | undefined;
  const take = (n: number): Buffer => {
    const first = pending[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) pending.shift();
      else pending[0] = first.subarray(n);
      pendingBytes -= n;
      return out;
    }
    const joined = Buffer.concat(pending, pendingBytes);
    const out = joined.subarray(0, n);
    pending = joined.length > n ? [joined.subarray(n)] : [];
    pendingBytes -= n;
    return out;
  };
  for await (const chunk of body as AsyncIterable<Buffer>) {
    signal?.throwIfAborted();
    total += chunk.length;
    if (total > BATCH_LIMITS.maxBytes) {
      body.destroy();
      throw badBatch(`the request passes ${BATCH_LIMITS.maxBytes} bytes`);
    }
    pending.push(chunk);
    pendingBytes += chunk.length;
    for (;;) {
      if (!head) {
        if (pendingBytes < 8) break;
        const bytes = take(8);
        head = { fileIndex: bytes.readUInt32BE(0), size: bytes.readUInt32BE(4) };
        if (head.size > BATCH_LIMITS.maxFileBytes)
          throw badBatch(
            `file ${head.fileIndex} is ${head.size} bytes, over ${BATCH_LIMITS.maxFileBytes} (use its own PUT)`,
          );
        if (frames.length >= BATCH_LIMITS.maxFiles) throw badBatch(`more than ${BATCH_LIMITS.maxFiles} files`);
      }
      if (pendingBytes < head.size) break;
      frames.push({ fileIndex: head.fileIndex, bytes: head.size === 0 ? Buffer.alloc(0) : take(head.size) });
      head = undefined;
    }
  }
  if (head) throw badBatch(`file ${head.fileIndex} is cut: ${head.size} bytes declared`);
  if (pendingBytes > 0) throw badBatch(`a frame header is cut at byte ${total - pendingBytes}`);
  if (new Set(frames.map((f) => f.fileIndex)).size !== frames.length) throw badBatch("a file is sent twice");
  return frames;
}

const badBatch = (detail: string) =>
  new ApiError(
    "InvalidParameter",
    `Malformed upload batch: ${detail}; nothing in it was stored`,
    "Send well-formed frames (see docs/PROTOCOL.md), or each file with its own PUT.",
  );
