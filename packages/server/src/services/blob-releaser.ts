import type { ServiceContext } from "./context.js";

/** Of the releases left by failures or dead processes, how many each release or sweep takes. */
const CLAIM_LIMIT = 100;
/** A claimed release is this replica's for this long; after it, another may take it. */
const LEASE_MS = 60_000;
/** How often this replica looks for releases that nobody finished (a failure, a crash). */
const SWEEP_MS = 30_000;
/** How often the background job deletes what releases queued (bucket stores only). */
const BUCKET_FLUSH_MS = 2_000;
/** Keys per DeleteObjects request at most. */
const BUCKET_DELETE_BATCH = 1000;
/** Digests queued in memory at most; beyond them the recorded releases carry the rest. */
const MAX_QUEUED = 10_000;

/**
 * Deletes bytes that no asset references any more. The transaction that dropped their last
 * reference recorded them in the store (blob_releases), so a crash or a failure never loses a
 * deletion. Under the blob's lock (every replica's, on PostgreSQL) it checks again, so a
 * concurrent upload of the same bytes that has just re-referenced them keeps them.
 *
 * On the local folder the request that freed the bytes deletes them at once. With a bucket,
 * releases only queue the digests: a background job deletes them in batches (DeleteObjects, up to
 * 1000 keys a request) with the due releases it claims from the store (any replica's leftovers),
 * so a bulk delete of many assets costs a few requests instead of one per blob, and no request
 * waits on the store's deletes.
 *
 * Their rows are already gone when this runs, so a storage fault here fails nothing: the bytes
 * are logged at error level and their release stays recorded, due at once, for the next try in
 * any replica.
 */
export class BlobReleaser {
  private readonly queued = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly ctx: ServiceContext) {}

  private get batched(): boolean {
    return this.ctx.bucket !== undefined;
  }

  /** Starts the background job: the bucket's batched deletes, or the sweep of releases nobody finished. */
  start(): void {
    this.timer = setInterval(() => void this.runOnce(), this.batched ? BUCKET_FLUSH_MS : SWEEP_MS);
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
    // Last (the app closes the releaser after the others): what they released while stopping goes too.
    if (this.batched) await this.flush();
  }

  /**
   * Deletes `sha256s` (just freed), after the due releases that earlier tries left; with a bucket,
   * queues them for the background job. Nothing freed: nothing to do (most uploads free nothing,
   * and must not pay a claim).
   */
  async release(sha256s: Iterable<string>): Promise<void> {
    const freed = [...sha256s];
    if (freed.length === 0) return;
    if (this.batched) {
      for (const sha256 of freed) if (this.queued.size < MAX_QUEUED) this.queued.add(sha256);
      return;
    }
    await this.deleteEach(freed);
  }

  /** The bucket's background job now: deletes the queued bytes and the due releases. */
  flush(): Promise<void> {
    return this.runOnce();
  }

  private runOnce(): Promise<void> {
    this.running ??= (this.batched ? this.deleteBatch() : this.deleteEach([])).finally(
      () => (this.running = undefined),
    );
    return this.running;
  }

  private async claim(limit: number): Promise<string[]> {
    if (limit <= 0) return [];
    return this.ctx.metadata.claimBlobReleases(limit, LEASE_MS).catch((err: unknown) => {
      this.ctx.log?.warn({ err }, "reading the bytes left to delete failed; a later release tries again");
      return [] as string[];
    });
  }

  /** One delete per blob, each under its lock (the local folder). */
  private async deleteEach(freed: string[]): Promise<void> {
    const retries = await this.claim(CLAIM_LIMIT);
    const done: string[] = [];
    const failed: string[] = [];
    for (const sha256 of new Set([...retries, ...freed])) {
      try {
        await this.ctx.blobLocks.run(sha256, async () => {
          if (!(await this.ctx.metadata.isBlobReferenced(sha256))) await this.ctx.blobs.delete(sha256);
        });
        done.push(sha256);
      } catch (err) {
        failed.push(sha256);
        this.ctx.log?.error({ err, sha256 }, "deleting bytes no asset references failed; they stay until a later try");
      }
    }
    await this.settle(done, failed);
  }

  /** One DeleteObjects for up to 1000 blobs, all their locks held from the check until the bytes are gone. */
  private async deleteBatch(): Promise<void> {
    const bucket = this.ctx.bucket;
    if (!bucket) return;
    const queued = [...this.queued].slice(0, BUCKET_DELETE_BATCH);
    for (const sha256 of queued) this.queued.delete(sha256);
    const batch = [...new Set([...queued, ...(await this.claim(BUCKET_DELETE_BATCH - queued.length))])];
    if (batch.length === 0) return;
    try {
      await this.ctx.blobLocks.runAll(batch, async () => {
        const doomed: string[] = [];
        for (const sha256 of batch) if (!(await this.ctx.metadata.isBlobReferenced(sha256))) doomed.push(sha256);
        await bucket.deleteMany(doomed);
      });
      await this.settle(batch, []);
    } catch (err) {
      this.ctx.log?.error({ err }, "deleting bytes no asset references failed; they stay until a later try");
      await this.settle([], batch);
    }
  }

  private async settle(done: string[], failed: string[]): Promise<void> {
    // A lost forget or defer costs one more try later, never bytes kept or lost for good.
    await this.ctx.metadata.forgetBlobReleases(done).catch(() => undefined);
    await this.ctx.metadata.deferBlobReleases(failed, Date.now()).catch(() => undefined);
  }
}
