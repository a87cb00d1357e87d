import type { ServiceContext } from "./context.js";

/** Of the releases left by failures or dead processes, how many each release or sweep takes. */
const CLAIM_LIMIT = 100;
/** A claimed release is this replica's for this long; after it, another may take it. */
const LEASE_MS = 60_000;
/** How often this replica looks for releases that nobody finished (a failure, a crash). */
const SWEEP_MS = 30_000;

/**
 * Deletes bytes that no asset references any more. The transaction that dropped their last
 * reference recorded them in the store (blob_releases); the request that freed them calls
 * `release` at once. Under the blob's lock (every replica's, on PostgreSQL) it checks again, so
 * a concurrent upload of the same bytes that has just re-referenced them keeps them.
 *
 * Their rows are already gone when this runs, so a storage fault here fails nothing: the bytes
 * are logged at error level and their release stays recorded, due at once, for the next
 * release in any replica (or the periodic sweep) to try again.
 */
export class BlobReleaser {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(private readonly ctx: ServiceContext) {}

  /** Starts the periodic sweep of releases nobody finished. */
  start(): void {
    this.timer = setInterval(() => {
      this.sweeping ??= this.release([], true).finally(() => (this.sweeping = undefined));
    }, SWEEP_MS);
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
  }

  /**
   * Deletes `sha256s` (just freed), after the due releases that earlier tries left. Nothing freed
   * and no sweep: nothing to do (most uploads free nothing, and must not pay a claim).
   */
  async release(sha256s: Iterable<string>, sweep = false): Promise<void> {
    const freed = [...sha256s];
    if (freed.length === 0 && !sweep) return;
    const retries = await this.ctx.metadata.claimBlobReleases(CLAIM_LIMIT, LEASE_MS).catch((err: unknown) => {
      this.ctx.log?.warn({ err }, "reading the bytes left to delete failed; a later release tries again");
      return [] as string[];
    });
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
    // A lost forget or defer costs one more try later, never bytes kept or lost for good.
    await this.ctx.metadata.forgetBlobReleases(done).catch(() => undefined);
    await this.ctx.metadata.deferBlobReleases(failed, Date.now()).catch(() => undefined);
  }
}
