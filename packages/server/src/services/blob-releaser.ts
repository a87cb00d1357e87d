import type { ServiceContext } from "./context.js";

/**
 * Deletes bytes that no asset references any more. Under the blob's lock it checks again, so a
 * concurrent upload of the same bytes that has just re-referenced them keeps them.
 */
export class BlobReleaser {
  constructor(private readonly ctx: ServiceContext) {}

  async release(sha256s: Iterable<string>): Promise<void> {
    for (const sha256 of sha256s) {
      await this.ctx.blobLocks.run(sha256, async () => {
        if (!(await this.ctx.metadata.isBlobReferenced(sha256))) await this.ctx.blobs.delete(sha256);
      });
    }
  }
}
