import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DecodeError, type DecodedImage, type DecoderPool } from "../media/decode/types.js";
import type { ClaimedJob, ProcessingOutcome } from "../store/metadata/metadata-store.js";
import type { BlobReleaser } from "./blob-releaser.js";
import type { ServiceContext } from "./context.js";

/**
 * The build of the processing (decoders and thumbnail settings). Raise it when an upgrade
 * changes what processing finds or makes: `reprocess` then takes exactly the assets an older
 * build processed.
 */
export const PROCESSING_VERSION = 1;

/** Attempts of one job; a decoder that crashes or stalls this often on a file gives up on it. */
export const MAX_ATTEMPTS = 3;
/** How often an idle worker looks for due jobs that no local upload announced (other servers, retries). */
const POLL_MS = 1000;
/** Largest thumbnail accepted back from a decoder. */
const MAX_THUMBNAIL_BYTES = 4 * 1024 * 1024;

/**
 * Processes committed assets in the background: each job decodes an asset's bytes fully in a
 * decoder process (under pixel, memory and time limits, at a lower scheduling priority than the
 * server), stores its thumbnail as a blob and records what it found as the asset's status.
 *
 * Jobs are rows of the metadata store, claimed with a lease, so they survive restarts and
 * several servers can share them. Nothing waits for processing unless it asks to
 * (`waitFor=Processed`): uploads are acknowledged once their bytes and row are durable.
 */
export class ProcessingService {
  /** Names this worker's leases; unique per process start. */
  readonly owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private pool: DecoderPool | undefined;
  private loop: Promise<void> | undefined;
  private stopping = new AbortController();
  private inFlight = new Set<Promise<void>>();
  private wake: (() => void) | undefined;
  /** A kick that came while the loop was busy: the next idle returns at once. */
  private kicked = false;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly releaser: BlobReleaser,
    private readonly makePool: () => DecoderPool,
  ) {}

  private get concurrency(): number {
    return this.ctx.config.processingConcurrency;
  }

  start(): void {
    if (this.concurrency === 0 || this.loop) return;
    this.stopping = new AbortController();
    this.loop = this.run();
  }

  /**
   * Queues a dataset's assets again: those an older build processed, or with `all` every one.
   * An asset keeps what it shows until its new outcome lands.
   */
  async reprocess(orgId: string, datasetId: string, all: boolean): Promise<{ queued: number; backlog: number }> {
    const queued = await this.ctx.metadata.reprocessDataset(orgId, datasetId, all ? undefined : PROCESSING_VERSION);
    this.kick();
    return { queued, backlog: await this.ctx.metadata.processingBacklog() };
  }

  /** New jobs were committed: look now rather than at the next poll. */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  async close(): Promise<void> {
    this.stopping.abort();
    this.kick();
    await this.loop;
    this.loop = undefined;
    await Promise.allSettled(this.inFlight);
    await this.pool?.close();
    this.pool = undefined;
    // Jobs this worker held are due again at once for the next start, without a counted attempt.
    await this.ctx.metadata.releaseProcessingLeases(this.owner).catch(() => undefined);
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      // One job ready beside each running decode keeps the decoders fed without hoarding leases.
      const free = this.concurrency * 2 - this.inFlight.size;
      let claimed = 0;
      if (free > 0) {
        try {
          const jobs = await this.ctx.metadata.claimProcessingJobs(this.owner, free, this.leaseMs);
          claimed = jobs.length;
          for (const job of jobs) this.track(this.process(job));
        } catch (err) {
          this.ctx.log?.warn({ err }, "claiming processing jobs failed; trying again shortly");
        }
      }
      if (claimed > 0 && claimed === free) continue;
      await this.idle(POLL_MS, signal);
    }
  }

  /** A lease outlives every decode it could wait behind, so a live worker never loses its job. */
  private get leaseMs(): number {
    return Math.max(60_000, 4 * this.ctx.config.decodeTimeoutSeconds * 1000);
  }

  private track(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => {
      this.inFlight.delete(work);
      this.kick();
    });
  }

  private idle(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (this.kicked || signal.aborted) {
        this.kicked = false;
        resolve();
        return;
      }
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        this.wake = undefined;
        this.kicked = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done);
      this.wake = done;
    });
  }

  private async process(job: ClaimedJob): Promise<void> {
    try {
      if (job.attempts > MAX_ATTEMPTS) {
        const last = job.lastError ? `: ${job.lastError}` : "";
        await this.finish(job, failed(`processing gave up after ${MAX_ATTEMPTS} attempts${last}`));
        return;
      }
      if (await this.reuseTwin(job)) return;
      await this.storeAndFinish(job, await this.decode(job));
    } catch (err) {
      await this.failed(job, err);
    }
  }

  /** Bytes this build already processed for another asset of the organization are not decoded again. */
  private async reuseTwin(job: ClaimedJob): Promise<boolean> {
    const twin = await this.ctx.metadata.processedTwin(job.orgId, job.sha256, PROCESSING_VERSION);
    if (!twin) return false;
    if (!twin.thumbnail) {
      await this.finish(job, twin);
      return true;
    }
    const thumb = twin.thumbnail;
    // Under the thumbnail's lock its bytes cannot be released between this check and the commit.
    return this.ctx.blobLocks.run(thumb.sha256, async () => {
      if ((await this.ctx.blobs.size(thumb.sha256)) !== thumb.size) return false;
      await this.finish(job, twin);
      return true;
    });
  }

  private async decode(job: ClaimedJob): Promise<DecodedImage> {
    this.pool ??= this.makePool();
    const spec = { maxSide: this.ctx.config.thumbnailSize, format: "webp" as const, quality: 80 };
    const request = (path: string) => ({ path, mimeType: job.mimeType, orientation: job.orientation, thumbnail: spec });
    const local = this.ctx.blobs.localPath?.(job.sha256);
    if (local) return this.pool.decode(request(local), this.stopping.signal);
    // Bytes that are not in a local file (an object store) are fetched to one for the decoder.
    const dir = await mkdtemp(join(tmpdir(), "vi-decode-"));
    try {
      const path = join(dir, "source");
      await pipeline(this.ctx.blobs.read(job.sha256), createWriteStream(path, { mode: 0o600 }));
      return await this.pool.decode(request(path), this.stopping.signal);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async storeAndFinish(job: ClaimedJob, decoded: DecodedImage): Promise<void> {
    const { thumbnail, ...facts } = decoded;
    const media = {
      channels: facts.channels,
      bitDepth: facts.bitDepth,
      hasAlpha: facts.hasAlpha,
      colorSpace: facts.colorSpace,
      decodedWidth: facts.width,
      decodedHeight: facts.height,
      decodedFrames: facts.frames,
      decoder: facts.decoder,
      thumbnail: { width: thumbnail.width, height: thumbnail.height, mimeType: thumbnail.mimeType },
    };
    const staged = await this.ctx.blobs.stage(Readable.from([thumbnail.bytes]), { maxBytes: MAX_THUMBNAIL_BYTES });
    await this.ctx.blobLocks.run(staged.sha256, async () => {
      try {
        await this.ctx.blobs.publish(staged);
        const outcome: ProcessingOutcome = {
          status: "uploaded",
          reason: null,
          thumbnail: { sha256: staged.sha256, size: staged.size },
          media,
          version: PROCESSING_VERSION,
        };
        const applied = await this.finish(job, outcome);
        if (!applied && !(await this.ctx.metadata.isBlobReferenced(staged.sha256)))
          await this.ctx.blobs.delete(staged.sha256);
      } catch (err) {
        await this.ctx.blobs.discard(staged).catch(() => undefined);
        if (!(await this.ctx.metadata.isBlobReferenced(staged.sha256).catch(() => true)))
          await this.ctx.blobs.delete(staged.sha256).catch(() => undefined);
        throw err;
      }
    });
  }

  /** Bad bytes end the job with the asset in error; a fault of the machinery is tried again, a few times. */
  private async failed(job: ClaimedJob, err: unknown): Promise<void> {
    if (this.stopping.signal.aborted) return; // the lease is released on close
    const message = err instanceof Error ? err.message : String(err);
    try {
      if (err instanceof DecodeError && err.code === "EUNSUPPORTED") {
        // Not the file's fault: the asset stays good, without a thumbnail, and says why.
        await this.finish(job, { ...failed(message), status: "uploaded" });
      } else if (err instanceof DecodeError && !err.retryable) {
        await this.finish(job, failed(message));
      } else if (
        (err as NodeJS.ErrnoException).code === "ENOENT" &&
        (await this.ctx.blobs.size(job.sha256)) === undefined
      ) {
        await this.finish(job, failed("the stored bytes are missing (see vi-cli fsck)"));
      } else if (job.attempts >= MAX_ATTEMPTS) {
        await this.finish(job, failed(`processing failed ${job.attempts} times: ${message}`));
      } else {
        // 2 s, 8 s, ...: a busy or restarting machine gets time to recover.
        const delay = 2000 * 4 ** (job.attempts - 1);
        await this.ctx.metadata.retryProcessingJob(this.owner, job, message, Date.now() + delay);
        this.ctx.log?.warn({ err, assetId: job.assetId }, "processing an asset failed; it is tried again");
      }
    } catch (storeErr) {
      // The lease runs out and the job is claimed again.
      this.ctx.log?.error({ err: storeErr, assetId: job.assetId }, "recording a processing outcome failed");
    }
  }

  private async finish(job: ClaimedJob, outcome: ProcessingOutcome): Promise<boolean> {
    const { applied, orphanedBlobs } = await this.ctx.metadata.finishProcessingJobs(this.owner, [{ job, outcome }]);
    if (orphanedBlobs.length > 0) await this.releaser.release(orphanedBlobs);
    if (applied[0])
      this.ctx.processingEvents.emit("processed", { orgId: job.orgId, datasetId: job.datasetId, assetId: job.assetId });
    return applied[0] ?? false;
  }
}

function failed(reason: string): ProcessingOutcome {
  return { status: "error", reason, thumbnail: null, media: null, version: PROCESSING_VERSION };
}
