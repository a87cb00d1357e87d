import type { ServiceContext } from "./context.js";

/** Bytes whose deletion failed, kept to try again (beyond this many, fsck or the crash sweep finds them). */
const MAX_PENDING = 10_000;
/** Of those, how many each release tries again first. */
const RETRIES_PER_RELEASE = 100;

/**
 * Deletes bytes that no asset references any more. Under the blob's lock it checks again, so a
 * concurrent upload of the same bytes that has just re-referenced them keeps them.
 *
 * Their rows are already gone when this runs, so a storage fault here fails nothing: the bytes
 * are logged at error level, kept, and tried again by the next release.
 */
export class BlobReleaser {
  private readonly pending = new Set<string>();

  constructor(private readonly ctx: ServiceContext) {}

  async release(sha256s: Iterable<string>): Promise<void> {
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
}
