import type { ServiceContext } from "./context.js";

/** Bytes whose deletion failed, kept to try again (beyond this many, fsck or the crash sweep finds them). */
const MAX_PENDING = 10_000;
/** Of those, how many each release tries again first. */
const RETRIES_PER_RELEASE = 100;
/** How often the background job deletes what releases queued (bucket stores only). */
const BUCKET_FLUSH_MS = 2_000;
/** Keys per DeleteObjects request at most. */
const BUCKET_DELETE_BATCH = 1000;

/**
 * Deletes bytes that no asset references any more. Under the blob's lock it checks again, so a
 * concurrent upload of the same bytes that has just re-referenced them keeps them.
 *
 * Their rows are already gone when this runs, so a storage fault here fails nothing: the bytes
 * are logged at error level, kept, and tried again by the next release.
 *
 * With a bucket, releases only queue the digests: a background job deletes them in batches
 * (DeleteObjects, up to 1000 keys a request), so a bulk delete of many assets costs a few
 * requests instead of one per blob, and no request waits on the store's deletes.
 *
 * TODO(issue 11, replicas): the queue lives in this process, and "still unreferenced" is checked
 * under this process's lock only. With several replicas the check and the delete must be claimed
 * through the database (the blob's ref-count row locked, `FOR UPDATE SKIP LOCKED`), so that a
 * replica re-referencing the bytes meanwhile keeps them; `flush` is the seam for that job.
 */
export class BlobReleaser {
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(private readonly ctx: ServiceContext) {}

  private get batched(): boolean {
    return this.ctx.bucket !== undefined;
  }

  start(): void {
    if (!this.batched) return;
    this.timer = setInterval(() => void this.flush(), BUCKET_FLUSH_MS);
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flushing;
    if (this.batched) await this.flush();
  }

  async release(sha256s: Iterable<string>): Promise<void> {
    if (this.batched) {
      for (const sha256 of sha256s) if (this.pending.size < MAX_PENDING) this.pending.add(sha256);
      return;
    }
    const retries = [...this.pending].slice(0, RETRIES_PER_RELEASE);
    for (const sha256 of retries) this.pending.delete(sha256);
    for (const sha256 of new Set([...retries, ...sha256s])) {
      try {
        await this.ctx.blobLocks.run(sha256, async () => {
          if (!(await this.ctx.metadata.isBlobReferenced(sha256))) await this.ctx.blobs.delete(sha256);
        });
      } catch (err) {
        if (this.pending.size < MAX_PENDING) this.pending.add(sha256);
        this.ctx.log?.error({ err, sha256 }, "deleting bytes no asset references failed; they stay until a later try");
      }
    }
  }

  /** The background job (bucket stores): deletes the queued bytes that are still unreferenced. */
  flush(): Promise<void> {
    this.flushing ??= this.flushQueued().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async flushQueued(): Promise<void> {
    const bucket = this.ctx.bucket;
    if (!bucket || this.pending.size === 0) return;
    const batch = [...this.pending].slice(0, BUCKET_DELETE_BATCH);
    for (const sha256 of batch) this.pending.delete(sha256);
    // Every digest's lock is held from the check until its bytes are gone, so an upload of the
    // same bytes waits and then publishes them again.
    try {
      await this.ctx.blobLocks.runAll(batch, async () => {
        const doomed: string[] = [];
        for (const sha256 of batch) if (!(await this.ctx.metadata.isBlobReferenced(sha256))) doomed.push(sha256);
        await bucket.deleteMany(doomed);
      });
    } catch (err) {
      for (const sha256 of batch) if (this.pending.size < MAX_PENDING) this.pending.add(sha256);
      this.ctx.log?.error({ err }, "deleting bytes no asset references failed; they stay until a later try");
    }
  }
}
