import type { CommitResult, FileCommit, MetadataStore } from "../store/metadata/metadata-store.js";

interface Waiting {
  entry: FileCommit;
  resolve(result: CommitResult | undefined): void;
  reject(error: unknown): void;
}

/**
 * Group commit: files that finish uploading while a transaction is being made durable wait
 * for the next one and share its single fsync. One file's acknowledgement still waits for its
 * own commit; only the cost of durability is shared.
 */
export class GroupCommitter {
  private queue: Waiting[] = [];
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly store: MetadataStore,
    private readonly maxBatch = 512,
  ) {}

  commit(entry: FileCommit): Promise<CommitResult | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ entry, resolve, reject });
      this.flushing ??= this.flush();
    });
  }

  private async flush(): Promise<void> {
    // Let the requests that are ready in this turn of the event loop join the first batch.
    await new Promise((r) => setImmediate(r));
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        const results = await this.store.commitFiles(batch.map((w) => w.entry));
        batch.forEach((w, i) => w.resolve(results[i]));
      } catch (error) {
        // One bad entry must not fail its neighbours: retry them one by one.
        if (batch.length === 1) batch[0]!.reject(error);
        else for (const w of batch) await this.store.commitFiles([w.entry]).then((r) => w.resolve(r[0]), w.reject);
      }
    }
    this.flushing = undefined;
  }
}
